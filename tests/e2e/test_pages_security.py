"""The sign-in and the pages against attacks and accidents: guesses sent all at once, a
flood of sign-ins, forged forwarded addresses, links and redirects to other sites,
framing and injected scripts, cookies over https, a form too large, a session ending."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow import demo
from sopflow.services import Services
from sopflow.services.directory import Directory
from sopflow.services.sessions import MAX_ADDRESS_FAILURES, MAX_FAILURES
from sopflow.web.app import create_app
from tests.e2e.test_pages import csrf_of, sign_in, site  # noqa: F401  (fixture)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password checked (slowed, as argon2 is, so that attempts overlap)."""
    checked: list[str] = []
    lock = threading.Lock()

    def check_password(self: Directory, email: str, password: str) -> bool:
        with lock:
            checked.append(password)
        time.sleep(0.3)
        return password == demo.PASSWORD

    monkeypatch.setattr(Directory, "check_password", check_password)
    return checked


def post_login(client: TestClient, token: str, email: str, password: str,
               **extra: str) -> Any:  # fmt: skip
    return client.post("/login", data={"email": email, "password": password, "csrf": token,
                                       **extra}, follow_redirects=False)  # fmt: skip


# -- S1: guesses sent at once ------------------------------------------------------------
def test_guesses_sent_all_at_once_are_counted_before_any_is_checked(site, checks) -> None:
    site.app.state.password_checks = threading.BoundedSemaphore(100)  # no cap in the way
    token = csrf_of(site.get("/login").text)
    guesses = [f"wrong-{n}" for n in range(39)] + [demo.PASSWORD]
    with ThreadPoolExecutor(len(guesses)) as pool:
        answers = list(pool.map(lambda p: post_login(site, token, "agent@nile.demo", p),
                                guesses))  # fmt: skip

    codes = [a.status_code for a in answers]
    assert len(checks) <= MAX_FAILURES, f"{len(checks)} passwords checked"
    assert codes.count(429) >= len(guesses) - MAX_FAILURES
    if demo.PASSWORD not in checks:  # the right one came too late: not signed in
        assert answers[-1].status_code == 429


def test_a_successful_sign_in_does_not_count_as_a_failure(site) -> None:
    for _ in range(MAX_FAILURES + 2):
        assert sign_in(site, "agent@nile.demo").status_code == 303  # type: ignore[attr-defined]


# -- S3: a flood of sign-ins -------------------------------------------------------------
def test_one_address_trying_many_emails_is_throttled(site, checks) -> None:
    token = csrf_of(site.get("/login").text)
    for n in range(MAX_ADDRESS_FAILURES):
        assert post_login(site, token, f"nobody{n}@nowhere.test", "x").status_code == 401
    refused = post_login(site, token, "another@nowhere.test", "x")
    assert refused.status_code == 429 and len(checks) == MAX_ADDRESS_FAILURES


@pytest.fixture
def held_check(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """A password check that signals when it starts and then waits to be let go: the
    test decides when it ends, so "refused while a check runs" needs no clock."""
    started, let_go = threading.Event(), threading.Event()

    def check_password(self: Directory, email: str, password: str) -> bool:
        started.set()
        assert let_go.wait(30), "the test never let the check go"
        return False

    monkeypatch.setattr(Directory, "check_password", check_password)
    return started, let_go


def test_sign_ins_beyond_the_checks_at_once_are_told_to_come_back_quickly(site, held_check) -> None:
    started, let_go = held_check
    site.app.state.password_checks = threading.BoundedSemaphore(1)
    token = csrf_of(site.get("/login?lang=fr").text)

    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(post_login, site, token, "user0@nowhere.test", "x")
        assert started.wait(30), "the first sign-in never reached its check"
        try:  # the one check is held: the others are answered while it still runs
            busy = [post_login(site, token, f"user{n}@nowhere.test", "x") for n in (1, 2, 3)]
        finally:
            let_go.set()
        checked = first.result(30)

    assert checked.status_code == 401
    assert [a.status_code for a in busy] == [503] * 3, "refused at once, not after a check"
    assert all("réessayez dans quelques secondes" in a.text for a in busy)
    assert all(a.headers["retry-after"] for a in busy)
    with site.app.state.services.ctx.store.read() as r:  # a refused attempt is not counted
        n = r.one("SELECT count(*) AS n FROM sign_in_failures")["n"]
    assert int(n) == 1


# -- S4: links and redirects to other sites ----------------------------------------------
def language_links(text: str) -> dict[str, str]:
    return {lang: href.replace("&amp;", "&") for href, lang in
                re.findall(r'<a href="([^"]*)" lang="(\w\w)"', text)}  # fmt: skip


@pytest.mark.parametrize(
    "path",
    [
        "//evil.example/login",
        "/\\evil.example/login",
        "/%2F%2Fevil.example/login",
        "///evil.example/login",
    ],
)
def test_language_links_stay_on_this_site(site, path: str) -> None:
    page = site.get(f"http://testserver{path}", headers=BROWSER)
    links = language_links(page.text)

    assert set(links) == {"en", "fr", "ar"}
    for href in links.values():
        assert href.startswith("/") and not href.startswith(("//", "/\\")), href


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "evil.example",
        "/logout",
    ],
)
def test_signing_in_never_leads_to_another_site(site, target: str) -> None:
    token = csrf_of(site.get("/login").text)
    answer = post_login(site, token, "agent@nile.demo", demo.PASSWORD, next=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/requests"


# -- S5: headers -------------------------------------------------------------------------
def test_every_answer_has_the_security_headers(site) -> None:
    sign_in(site, "agent@nile.demo")
    answers = [site.get("/requests"), site.get("/login"), site.get("/api/v1/me"),
               site.get("/no/such/page", headers=BROWSER), site.get("/api/v1/nothing"),
               site.get("/health"), site.get("/sops/eg-mom-international-placement")]  # fmt: skip
    for answer in answers:
        csp = answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"


def test_the_pages_inline_only_what_their_policy_allows(site) -> None:
    sign_in(site, "attache@mom.demo")
    for path in (
        "/",
        "/requests",
        "/inbox",
        "/requests/EG-2026-000001",
        "/sops/eg-mom-international-placement",
        "/stats",
        "/login",
    ):
        answer = site.get(path)
        nonce = re.search(r"'nonce-([^']+)'", answer.headers["content-security-policy"])
        assert nonce, path
        for tag in re.findall(r"<(?:script|style)\b[^>]*>", answer.text):
            assert f'nonce="{nonce.group(1)}"' in tag, (path, tag)
        assert not re.search(r"<[^>]+\sstyle=", answer.text), path
        assert not re.search(r"<[^>]+\son[a-z]+=", answer.text), path


# -- S6: the cookie over https -----------------------------------------------------------
def cookie_of(answer: Any) -> str:
    return next(c for c in answer.headers.get_list("set-cookie") if "sopflow_session" in c)


def test_the_session_cookie_is_secure_over_https(site) -> None:
    over_http = site.get("/login")
    with TestClient(site.app, base_url="https://testserver") as secure:
        over_https = secure.get("/login")

    assert "secure" not in cookie_of(over_http).lower()
    assert "; secure" in cookie_of(over_https).lower()


def test_the_session_cookie_is_secure_when_the_public_address_is_https(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "test-secret")
    monkeypatch.setenv("SOPFLOW_PUBLIC_URL", "https://sopflow.example")
    with TestClient(create_app(services)) as client:
        assert "; secure" in cookie_of(client.get("/login")).lower()


# -- P3, P4: what is expected of an employer, and why a request came back ----------------
def expected_cells(listing: str) -> dict[str, str]:
    rows = re.findall(r'<tr>\s*<td><a class="[^"]*" href="/requests/([^"]+)">.*?</tr>',
                      listing, re.S)  # fmt: skip
    cells = {}
    for ref in rows:
        row = listing[listing.index(f'href="/requests/{ref}"') :]
        row = row[: row.index("</tr>")]
        cells[ref] = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)[2].strip()  # after the reference
    return cells


def test_an_employer_is_expected_to_act_only_on_what_waits_on_them(site) -> None:
    sign_in(site, "agent@nile.demo")
    expected = expected_cells(site.get("/requests?lang=en").text)
    inbox = site.get("/inbox").text
    held = site.get("/requests/EG-2026-000001").text

    assert expected["EG-2026-000001"] == ""  # the ministry holds it: withdrawing is an option
    assert expected["EG-2026-000003"] and "Withdraw" not in expected["EG-2026-000003"]
    assert "EG-2026-000003" in inbox and "EG-2026-000001" not in inbox
    assert "Expected from you" not in held and 'value="withdraw"' in held  # still offered


def test_a_returned_request_says_why_at_the_top(site) -> None:
    sign_in(site, "agent@nile.demo")
    page = site.get("/requests/EG-2026-000003?lang=fr").text
    top = page[page.index('<section class="status"') : page.index("</section>")]

    assert "Renvoyée pour le motif" in top and "Please attach the demand letter" in top
    assert "À faire avant le" in top


# -- P1: a form too large ----------------------------------------------------------------
@pytest.mark.parametrize("chunked", [False, True])
def test_a_form_too_large_for_the_server_is_a_page_saying_how_to_go_on(
        site, chunked: bool) -> None:  # fmt: skip
    site.app.state.services.ctx.max_request_bytes = 50_000
    with TestClient(create_app(site.app.state.services)) as small:
        sign_in(small, "agent@nile.demo")
        path = "/requests/new/eg-mom-international-placement"
        token = csrf_of(small.get(path + "?lang=fr").text)
        files = {"document__demand_letter": ("big.pdf", b"%PDF-1.4\n" + b"0" * 200_000)}
        if chunked:
            body = (
                b'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n'
                + token.encode()
                + b"\r\n--x\r\n"
                + b"0" * 200_000
                + b"\r\n--x--\r\n"
            )
            refused = small.post(path, content=iter([body[i:i + 8192] for i in range(
                0, len(body), 8192)]), headers={**BROWSER,
                "Content-Type": "multipart/form-data; boundary=x"})  # fmt: skip
        else:
            refused = small.post(path, data={"csrf": token}, files=files, headers=BROWSER)
        program = small.post("/api/v1/requests", content=b"0" * 200_000,
                             headers={"Content-Type": "application/json"})  # fmt: skip

    assert refused.status_code == 413
    assert refused.headers["content-type"].startswith("text/html")
    assert "Ajouter des pièces" in refused.text and "un par un" in refused.text
    assert f'href="{path}"' in refused.text  # the way back to the form
    assert program.headers["content-type"] == "application/problem+json"


# -- P2: a session ending in the middle of a form ----------------------------------------
def test_a_session_ended_mid_form_leads_back_to_the_page_in_the_readers_language(
        site) -> None:  # fmt: skip
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001?lang=fr")
    site.app.state.services.sessions.close_all("attache@mom.demo")  # ended elsewhere
    sent = site.post(
        "/requests/EG-2026-000001/act",
        data={"trigger": "attest_demand", "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    where = sent.headers["location"]
    login = site.get(where)

    assert sent.status_code == 303 and where.startswith("/login?")
    assert "next=%2Frequests%2FEG-2026-000001" in where
    assert 'lang="fr"' in login.text and "Votre session a pris fin" in login.text
    # it does not promise to carry on with the form: what was sent was not recorded
    assert "rien n'a été enregistré" in login.text.replace("&#39;", "'")
    back = post_login(site, csrf_of(login.text), "attache@mom.demo", demo.PASSWORD,
                      next=re.search(r'name="next" value="([^"]+)"', login.text)[1])  # type: ignore[index]  # fmt: skip
    assert back.headers["location"] == "/requests/EG-2026-000001"


def test_a_signed_out_visitor_is_asked_in_their_browsers_language(site) -> None:
    asked = site.get("/inbox", headers={"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"})
    assert 'lang="ar"' in asked.text and 'name="next" value="/inbox"' in asked.text


# -- P5, P6: the data table and Arabic ---------------------------------------------------
def test_the_data_table_follows_the_sop_with_names_and_amounts_as_read(site) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001?lang=fr").text
    table = page[page.index("<h2>Données de la demande</h2>") :]
    table = table[: table.index("</table>")]
    labels = re.findall(r'<th scope="row">(.*?)</th>', table)

    assert labels.index("Salaire mensuel proposé") < labels.index(
        "Frais à la charge du travailleur")  # fmt: skip
    assert "employer_name" not in labels
    assert "1\u202f500,00\xa0$US" in table or "1\u00a0500,00\xa0$US" in table
    assert 'td dir="auto"' in table
    org = site.app.state.services.directory.organisation(
        site.app.state.services.queries.show("EG-2026-000001", "attache@mom.demo")[
            "organisation_id"])["name"]  # fmt: skip
    assert f"<bdi>{org}</bdi>" in page


def test_arabic_lists_keep_dates_and_references_whole(site) -> None:
    sign_in(site, "attache@mom.demo")
    inbox = site.get("/inbox?lang=ar").text
    listing = site.get("/requests?lang=ar").text

    assert '<span class="ltr">' not in inbox.split("<tbody>")[1].split("</tbody>")[0]
    assert '<a class="ref" href="/requests/EG-2026-000001">' in inbox
    assert ".ref { direction: ltr; unicode-bidi: isolate; white-space: nowrap; }" in inbox
    assert "; " not in "".join(re.findall(r"<td>([^<]*)</td>", listing))


# -- P7: a withdrawal is confirmed first -------------------------------------------------
def test_a_withdrawal_asks_for_confirmation_before_it_applies(site) -> None:
    sign_in(site, "agent@nile.demo")
    page = site.get("/requests/EG-2026-000001?lang=fr").text
    form = {"trigger": "withdraw", "csrf": csrf_of(page), "version": re.search(
        r'name="version" value="(\d+)"', page)[1], "comment": "plus besoin"}  # type: ignore[index]  # fmt: skip
    asked = site.post("/requests/EG-2026-000001/act", data=form, follow_redirects=False)
    still = site.app.state.services.queries.show("EG-2026-000001", "agent@nile.demo")

    assert asked.status_code == 200 and "Voulez-vous la retirer" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text and 'value="plus besoin"' in asked.text
    assert 'href="/requests/EG-2026-000001"' in asked.text and still["state"] != "withdrawn"

    done = site.post("/requests/EG-2026-000001/act", data={**form, "confirmed": "yes"},
                     follow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    assert site.app.state.services.queries.show(
        "EG-2026-000001", "agent@nile.demo")["state"] == "withdrawn"  # fmt: skip
