"""Hostile users of the pages: HTML/JS and template injection in every field a page shows,
CSRF on every form, session fixation, brute-force sign-in, an auditor posting actions,
another organisation's pages."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastapi.testclient import TestClient

from sopflow import bootstrap, demo
from sopflow.services import Services
from sopflow.web.app import create_app
from tests.e2e.test_pages import clock, csrf_of, settings, sign_in, site  # noqa: F401  (fixtures)
from tests.integration import world as w

XSS = '<script>alert("x")</script>"\'><img src=x onerror=alert(1)>'
FORM = "/requests/new/eg-mom-international-placement"


def fresh(site: TestClient) -> TestClient:
    """Another browser on the same site (its own cookies)."""
    return TestClient(site.app, raise_server_exceptions=False)


def hostile_form(csrf: str) -> dict[str, str]:
    fields = {k: str(v) for k, v in demo.EG_DATA.items() if not isinstance(v, dict)}
    fields.update(
        {
            "monthly_wage__amount": "1500",
            "monthly_wage__currency": "USD",
            "worker_fee__amount": "0",
            "worker_fee__currency": "USD",
            "csrf": csrf,
            "employer_name": f"Co {XSS} {{{{ 7*7 }}}}",
            "job_description": f"{XSS} {{% for c in ().__class__.__mro__ %}}{{{{c}}}}"
            "{% endfor %}",
        }
    )
    return fields


def assert_escaped(html: str) -> None:
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html
    assert "<class" not in html and "&lt;class" not in html  # no template ran on the data


def test_every_field_a_page_shows_is_escaped_and_never_a_template(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    form = site.get(FORM)
    files = {
        f"document__{kind}": (
            f"{kind} {XSS.replace('/', '')}.pdf",
            b"%PDF-1.4\n%%EOF\n",
            "application/pdf",
        )
        for kind in demo.EG_DOCS
    }
    filed = site.post(
        FORM, data=hostile_form(csrf_of(form.text)), files=files, follow_redirects=True
    )
    assert "?done=1" in str(filed.url), filed.text[-2000:]
    reference = re.search(r"/requests/(EG-\d{4}-\d{6})", str(filed.url)).group(1)  # type: ignore[union-attr]
    assert_escaped(filed.text)
    assert "{{ 7*7 }}" in filed.text and ">49<" not in filed.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in filed.text  # the document name, escaped

    official = fresh(site)
    sign_in(official, "attache@mom.demo")
    page = official.get(f"/requests/{reference}")
    returned = official.post(
        f"/requests/{reference}/act",
        data={
            "trigger": "return_for_correction",
            "csrf": csrf_of(page.text),
            "reason": "attestation_invalid",
            "comment": f"{XSS} {{{{ 7*7 }}}}",
        },
        follow_redirects=True,
    )
    assert "?done=1" in str(returned.url)
    for html in (
        page.text,
        returned.text,
        official.get("/inbox").text,
        official.get("/requests").text,
        site.get(f"/requests/{reference}").text,
        site.get("/requests").text,
    ):
        assert "<script>alert" not in html and "<img src=x" not in html
    assert_escaped(returned.text)
    auditor = fresh(site)
    sign_in(auditor, "auditor@mom.demo")
    assert_escaped(auditor.get(f"/requests/{reference}?at_seq=2").text)


def test_a_refused_action_shows_the_hostile_input_escaped(site: TestClient) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001")
    refused = site.post(
        "/requests/EG-2026-000001/act",
        data={"trigger": XSS, "csrf": csrf_of(page.text), "comment": XSS},
    )
    assert refused.status_code in (200, 400, 404)
    assert "<script>alert" not in refused.text and "<img src=x" not in refused.text


# -- CSRF --------------------------------------------------------------------------------
def test_every_form_refuses_a_missing_wrong_or_foreign_csrf_token(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "attache@mom.demo")
    other = fresh(site)
    sign_in(other, "agent@nile.demo")
    foreign = csrf_of(other.get("/requests").text)  # valid, but of another session
    before = w.footprint(services)
    forms = {
        "/requests/EG-2026-000001/act": {"trigger": "attest_demand", "comment": "x"},
        FORM: hostile_form(""),
        "/requests/EG-2026-000001/attach": {"other_kind": "attestation"},
        "/inbox/bulk": {"ref": "EG-2026-000001", "trigger": "attest_demand"},
        "/inbox/bulk/apply": {"ref": "EG-2026-000001", "trigger": "attest_demand", "token": "t"},
        "/logout": {},
    }
    for url, data in forms.items():
        for token in (None, "", "forged", foreign):
            body = {k: v for k, v in data.items() if k != "csrf"}
            if token is not None:
                body["csrf"] = token
            answer = site.post(url, data=body, follow_redirects=False)
            assert answer.status_code in (403, 422), (url, token, answer.status_code)
            if answer.status_code == 422:  # a missing field of FastAPI's own: not applied
                assert answer.json()["code"] == "invalid-data"
    login = fresh(site)
    login.get("/login")
    forged = login.post(
        "/login",
        data={"email": "agent@nile.demo", "password": demo.PASSWORD, "csrf": foreign},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert w.footprint(services) == before
    assert site.get("/requests", follow_redirects=False).status_code == 200  # still signed in


# -- sessions ----------------------------------------------------------------------------
def test_a_session_from_before_sign_in_is_never_the_signed_in_one(site: TestClient) -> None:
    site.get("/login?lang=fr")
    planted = site.cookies.get("sopflow_session")
    old_csrf = csrf_of(site.get("/login").text)
    assert planted

    signed = sign_in(site, "agent@nile.demo")
    assert signed.status_code == 303
    after = site.cookies.get("sopflow_session")
    assert after and after != planted
    # the attacker who planted the first cookie is not signed in with it
    attacker = fresh(site)
    attacker.cookies.set("sopflow_session", planted)
    assert attacker.get("/requests", follow_redirects=False).headers["location"] == "/login"
    # and the CSRF token of the old session no longer works in the new one
    assert site.post("/logout", data={"csrf": old_csrf}, follow_redirects=False).status_code == 403
    assert 'lang="fr"' in site.get("/requests").text  # only the language is carried over


def told_session_ended(response: Any) -> bool:
    """Sent to sign in again, told that the session ended (and, for a page other than the
    list of requests, brought back to it afterwards)."""
    where = urlsplit(response.headers["location"])
    return where.path == "/login" and ("ended", "1") in parse_qsl(where.query)


def test_signing_out_ends_the_session_in_that_browser(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    token = csrf_of(site.get("/requests").text)
    assert site.post("/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert site.get("/requests", follow_redirects=False).headers["location"] == "/login"


def test_signing_out_ends_the_session_on_the_server_for_every_copy_of_the_cookie(
    site: TestClient,
) -> None:
    sign_in(site, "agent@nile.demo")
    copy = fresh(site)
    copy.cookies.set("sopflow_session", site.cookies["sopflow_session"])
    assert copy.get("/requests", follow_redirects=False).status_code == 200  # a stolen cookie

    site.post("/logout", data={"csrf": csrf_of(site.get("/requests").text)})

    assert told_session_ended(copy.get("/requests", follow_redirects=False))
    # told once: the session is gone from this browser too, so a next page just asks to sign in
    assert urlsplit(copy.get("/stats", follow_redirects=False).headers["location"]).path == "/login"


def test_an_administrator_ends_every_session_of_a_user(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "agent@nile.demo")
    laptop = fresh(site)
    sign_in(laptop, "agent@nile.demo")
    other = fresh(site)
    sign_in(other, "clerk@mom.demo")

    assert services.sessions.close_all("Agent@Nile.demo") == 2

    for browser in (site, laptop):
        assert told_session_ended(browser.get("/requests", follow_redirects=False))
    assert other.get("/requests", follow_redirects=False).status_code == 200
    assert sign_in(site, "agent@nile.demo").status_code == 303  # signing in again works


def test_a_session_ends_after_its_lifetime_or_when_its_user_is_deactivated(
    site: TestClient, services: Services, clock
) -> None:
    sign_in(site, "agent@nile.demo")
    clock.advance(hours=7, minutes=59)
    assert site.get("/requests", follow_redirects=False).status_code == 200
    clock.advance(minutes=2)  # past the 8 hours of a session, whatever the cookie says
    assert told_session_ended(site.get("/requests", follow_redirects=False))

    sign_in(site, "clerk@mom.demo")
    with services.ctx.store.write() as wr:
        wr.execute("UPDATE users SET active = :no WHERE email = 'clerk@mom.demo'", {"no": False})
    assert told_session_ended(site.get("/requests", follow_redirects=False))


def test_brute_force_sign_in_is_throttled_per_account_whatever_the_spelling(
    site: TestClient,
) -> None:
    answers = [
        sign_in(site, spelling, f"guess-{n}").status_code
        for n, spelling in enumerate(
            [
                "agent@nile.demo",
                "AGENT@nile.demo",
                " agent@nile.demo ",
                "Agent@Nile.Demo",
                "agent@nile.demo",
                "agent@nile.demo",
            ]
        )
    ]
    assert answers[:5] == [401] * 5 and answers[5] == 429
    assert sign_in(site, "agent@nile.demo").status_code == 429  # the right password, too late
    assert sign_in(site, "clerk@mom.demo").status_code == 303  # another account is not locked


def test_failed_sign_ins_are_counted_by_every_server_process_and_for_a_while_only(
    site: TestClient, services: Services, settings, clock
) -> None:
    other_process = bootstrap.build(settings)  # its own services on the same database
    other_process.ctx.clock = clock
    second = TestClient(create_app(other_process), raise_server_exceptions=False)
    answers = [sign_in(site if n % 2 else second, "agent@nile.demo", f"guess-{n}").status_code
               for n in range(5)]  # fmt: skip
    assert answers == [401] * 5

    assert sign_in(second, "agent@nile.demo").status_code == 429
    assert sign_in(site, "agent@nile.demo").status_code == 429
    clock.advance(minutes=15, seconds=1)  # the window has passed
    assert sign_in(site, "agent@nile.demo").status_code == 303
    other_process.ctx.store.engine.dispose()


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(site: TestClient) -> None:
    unknown = sign_in(site, "nobody@nowhere.demo", "whatever-1")
    wrong = sign_in(fresh(site), "agent@nile.demo", "whatever-1")
    assert unknown.status_code == wrong.status_code == 401

    def plain(html: str, email: str) -> str:  # less the per-response tokens and nonces
        html = re.sub(r'name="csrf" value="[^"]+"', "", html).replace(email, "")
        return re.sub(r'nonce="[^"]+"', "", html)

    assert plain(unknown.text, "nobody@nowhere.demo") == plain(wrong.text, "agent@nile.demo")


# -- who may do what -------------------------------------------------------------------------
def test_an_auditor_cannot_act_from_a_page(site: TestClient, services: Services) -> None:
    sign_in(site, "auditor@mom.demo")
    page = site.get("/requests/EG-2026-000001")
    before = w.footprint(services)
    for trigger in ("attest_demand", "return_for_correction", "reject", "withdraw"):
        site.post(
            "/requests/EG-2026-000001/act",
            data={
                "trigger": trigger,
                "csrf": csrf_of(page.text),
                "reason": "attestation_invalid",
                "comment": "audit",
            },
            files={"document__attestation": ("a.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")},
        )
    filed = site.post(FORM, data=hostile_form(csrf_of(page.text)))
    assert filed.status_code in (403, 404, 422)
    assert w.footprint(services) == before


def test_another_organisation_gets_not_found_for_pages_and_forms(
    site: TestClient, services: Services
) -> None:
    sign_in(site, "rh@carthage.demo")  # a Tunisian enterprise
    page = site.get("/requests")
    before = w.footprint(services)
    for number in range(1, 8):
        assert site.get(f"/requests/EG-2026-{number:06d}").status_code == 404
    acted = site.post(
        "/requests/EG-2026-000001/act", data={"trigger": "withdraw", "csrf": csrf_of(page.text)}
    )
    assert (
        acted.status_code in (200, 404)
        and "EG-2026-000001" not in acted.text.split("no request")[0][-200:]
    )
    assert w.footprint(services) == before


def test_an_oversized_upload_through_a_page_is_refused_and_not_kept(
    site: TestClient, services: Services
) -> None:
    services.ctx.max_document_bytes = 10_000
    sign_in(site, "agent@nile.demo")
    form = site.get(FORM)
    big = b"%PDF-1.4\n" + b"0" * 50_000 + b"\n%%EOF\n"
    files = {
        f"document__{kind}": (
            f"{kind}.pdf",
            big if kind == "demand_letter" else b"%PDF-1.4\n%%EOF\n",
            "application/pdf",
        )
        for kind in demo.EG_DOCS
    }
    before = w.footprint(services)
    refused = site.post(FORM, data=hostile_form(csrf_of(form.text)), files=files)
    # the API's status for it; said in the page's Arabic
    assert refused.status_code == 413 and "يتجاوز" in refused.text
    assert w.footprint(services) == before
    kept = [p.stat().st_size for p in services.ctx.blobs.root.rglob("*") if p.is_file()]
    assert max(kept) < 10_000, "the oversized upload was written to the document store"
