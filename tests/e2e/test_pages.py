"""Pages for people: sign-in, CSRF, throttling, the requests a user may see, a request page
with exactly the user's actions, in Arabic right to left."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sopflow import bootstrap, demo
from sopflow.services import Services
from sopflow.settings import Settings
from sopflow.web.app import create_app
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)


@pytest.fixture
def site(services: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch,
         tmp_path) -> Iterator[TestClient]:  # fmt: skip
    demo.seed(services)
    off = settings.model_copy(update={"prefect_mode": "off"})
    monkeypatch.setattr(bootstrap, "settings", lambda: off)
    monkeypatch.setattr(bootstrap, "_services", services)
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "test-secret")
    with TestClient(create_app(services), raise_server_exceptions=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF token in the form"
    return match.group(1)


def version_of(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "no version in the form"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = demo.PASSWORD) -> object:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"email": email, "password": password, "csrf": token},
                       follow_redirects=False)  # fmt: skip


def test_signing_in_leads_to_the_users_requests_only(site: TestClient) -> None:
    response = sign_in(site, "rh@carthage.demo")
    listing = site.get("/requests")

    assert response.status_code == 303 and response.headers["location"] == "/requests"
    assert "sopflow_session" in response.headers["set-cookie"]
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "TN-" in listing.text and "EG-" not in listing.text  # an enterprise sees its own


def test_a_wrong_password_is_refused_and_repeated_failures_are_throttled(site) -> None:
    first = sign_in(site, "agent@nile.demo", "wrong-password")
    for _ in range(4):
        sign_in(site, "agent@nile.demo", "wrong-password")
    throttled = sign_in(site, "agent@nile.demo", demo.PASSWORD)  # right, but too late

    assert first.status_code == 401 and "wrong password" in first.text
    assert throttled.status_code == 429


def test_a_form_without_its_csrf_token_is_refused(site: TestClient) -> None:
    site.get("/login")
    forged = site.post("/login", data={"email": "agent@nile.demo", "password": demo.PASSWORD,
                                       "csrf": "forged"}, follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403


def test_pages_need_a_session(site: TestClient) -> None:
    assert site.get("/requests", follow_redirects=False).headers["location"] == "/login"


def test_an_official_acts_from_the_request_page_in_arabic(site: TestClient) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001?lang=ar")
    assert page.status_code == 200
    assert 'dir="rtl"' in page.text and 'lang="ar"' in page.text
    assert 'value="attest_demand"' in page.text and 'value="register_demand"' not in page.text

    done = site.post("/requests/EG-2026-000001/act", data={
        "trigger": "return_for_correction", "csrf": csrf_of(page.text),
        "version": version_of(page.text),
        "reason": "attestation_invalid", "comment": "<script>alert(1)</script>"},
        follow_redirects=True)  # fmt: skip
    assert done.status_code == 200 and "?done=1" in str(done.url)
    assert "<script>alert(1)</script>" not in done.text and "&lt;script&gt;" in done.text


def test_a_chosen_occupation_and_industry_are_titled_english_marked_where_untranslated(
    site: TestClient,
) -> None:
    sign_in(site, "attache@mom.demo")

    french = site.get("/requests/EG-2026-000001?lang=fr").text
    english = site.get("/requests/EG-2026-000001?lang=en").text

    # ISCO-08 unit group 7112, ISIC Rev.4 division 41: titled in English only, and said so
    assert '<td dir="auto">7112 <span lang="en" dir="ltr">Bricklayers and related workers' in french
    assert '<td dir="auto">41 <span lang="en" dir="ltr">Construction of buildings' in french
    assert '<td dir="auto">7112 Bricklayers and related workers</td>' in english


def test_a_refused_action_says_why_on_the_page(site: TestClient) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001")
    refused = site.post("/requests/EG-2026-000001/act", data={
        "trigger": "attest_demand", "csrf": csrf_of(page.text),
        "version": version_of(page.text)})  # fmt: skip
    assert refused.status_code == 409 and "must be attached" in refused.text


def test_another_organisations_request_is_not_found(site: TestClient) -> None:
    sign_in(site, "rh@carthage.demo")
    assert site.get("/requests/EG-2026-000001").status_code == 404


def test_whoever_may_see_a_request_opens_its_documents_from_its_page(site) -> None:
    sign_in(site, "examiner@dgpemoe.demo")
    page = site.get("/requests/TN-2026-000001")
    link = re.search(
        r'href="(/requests/TN-2026-000001/documents/[0-9a-f]{64})" download', page.text
    )
    assert link, "no link to the request's documents"

    opened = site.get(link.group(1))
    sign_in(site, "agent@nile.demo")  # the other ministry's agency
    elsewhere = site.get(f"{link.group(1)}?lang=fr")

    assert opened.status_code == 200 and opened.content.startswith(b"%PDF")
    assert opened.headers["Content-Disposition"].startswith("attachment; filename=")
    assert elsewhere.status_code == 404 and "Cette demande n&#39;existe pas" in elsewhere.text


def test_the_forms_of_applicants_do_not_offer_the_officials_own_fields(site) -> None:
    sign_in(site, "rh@carthage.demo")
    filing = site.get("/requests/new/tn-dgpemoe-foreign-worker-contract").text
    sign_in(site, "agent@nile.demo")
    correcting = site.get("/requests/EG-2026-000003").text  # returned to the agency

    assert 'name="enterprise_name"' in filing and 'name="examiner_opinion"' not in filing
    assert 'name="visa_number"' not in filing
    assert 'name="workers_requested"' in correcting
    assert 'name="demand_register_number"' not in correcting
    assert 'name="work_permit_number"' not in correcting


def language_links(page: str) -> dict[str, str]:
    return {lang: html.unescape(href) for href, lang in
            re.findall(r'<a href="([^"]*)" lang="(en|fr|ar)">', page)}  # fmt: skip


def test_the_language_links_keep_the_page_and_lead_back_from_a_posted_form(site) -> None:
    sign_in(site, "attache@mom.demo")
    listing = site.get("/requests?state=demand_intake&q=Red+Sea&lang=fr").text
    page = site.get("/requests/EG-2026-000001").text
    form = {"trigger": "attest_demand", "csrf": csrf_of(page), "version": version_of(page)}
    refused = site.post("/requests/EG-2026-000001/act", data=form)

    assert language_links(listing)["ar"] == "/requests?state=demand_intake&q=Red+Sea&lang=ar"
    back = language_links(refused.text)["en"]
    assert back == "/requests/EG-2026-000001?lang=en"
    assert site.get(back).status_code == 200


def test_an_employer_is_offered_only_the_procedures_it_has_a_part_in(site) -> None:
    sign_in(site, "rh@carthage.demo")  # a Tunisian enterprise, in French
    listing = site.get("/requests").text
    other = site.get("/requests/new/eg-mom-international-placement")

    assert "tn-dgpemoe-foreign-worker-contract" in listing
    assert "eg-mom-international-placement" not in listing  # neither filter nor filing link
    assert other.status_code == 403 and 'name="employer_name"' not in other.text
    assert "ne permettent pas de déposer une demande selon cette procédure" in other.text


def test_a_browser_gets_pages_for_its_mistakes_and_a_program_problems(site) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    sign_in(site, "attache@mom.demo")

    unknown = site.get("/no/such/page?lang=fr", headers=browser)
    wrong_method = site.delete("/requests/EG-2026-000001", headers=browser)
    bad_filter = site.get("/requests?overdue=maybe", headers=browser)
    for_a_program = site.get("/api/v1/nothing-here")

    assert unknown.status_code == 404 and "Cette page n" in unknown.text
    assert unknown.headers["content-type"].startswith("text/html")
    assert wrong_method.status_code == 405 and "<header>" in wrong_method.text
    assert bad_filter.status_code == 422 and "overdue" in bad_filter.text
    assert bad_filter.headers["content-type"].startswith("text/html")
    assert for_a_program.headers["content-type"] == "application/problem+json"


def test_a_sign_in_with_an_empty_password_is_refused_keeping_the_email(site) -> None:
    token = csrf_of(site.get("/login").text)
    refused = site.post("/login", data={"email": "rh@carthage.demo", "password": "",
                                        "csrf": token})  # fmt: skip

    assert refused.status_code == 401
    assert 'value="rh@carthage.demo"' in refused.text and 'role="alert"' in refused.text


def test_an_employer_files_a_request_through_the_generated_form(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    listing = site.get("/requests")
    assert "/requests/new/eg-mom-international-placement" in listing.text
    form = site.get("/requests/new/eg-mom-international-placement?lang=fr")
    assert form.status_code == 200 and 'name="workers_requested"' in form.text
    assert 'type="file"' in form.text and "Déposer la demande" in form.text
    # whole numbers as text with a numeric keyboard: a number input's value changes when the
    # page is scrolled over it in Chromium
    workers = re.search(r'<input id="f-workers_requested"[^>]*>', form.text)
    assert workers and 'inputmode="numeric"' in workers.group(0)
    assert 'type="number"' not in form.text

    fields = {k: str(v) for k, v in demo.EG_DATA.items() if not isinstance(v, dict)}
    fields.update({"monthly_wage__amount": "1500", "monthly_wage__currency": "USD",
                   "worker_fee__amount": "0", "worker_fee__currency": "USD",
                   "csrf": csrf_of(form.text)})  # fmt: skip
    bad = site.post("/requests/new/eg-mom-international-placement",
                    data={**fields, "workers_requested": "0"})  # fmt: skip
    assert bad.status_code == 422 and "doit être au moins 1" in bad.text  # the form was in French
    assert 'value="Red Sea Construction Co."' in bad.text  # the values are kept

    files = {f"document__{kind}": (f"{kind}.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
             for kind in demo.EG_DOCS}  # fmt: skip
    filed = site.post("/requests/new/eg-mom-international-placement", data=fields,
                      files=files, follow_redirects=True)  # fmt: skip
    assert filed.status_code == 200, re.findall(r'class="error"[^>]*>([^<]*)<', filed.text)
    assert "?done=1" in str(filed.url)
    assert "EG-2026-" in str(filed.url)


def test_an_official_inbox_lists_what_awaits_them(site: TestClient) -> None:
    sign_in(site, "examiner@dgpemoe.demo")
    inbox = site.get("/inbox")
    assert inbox.status_code == 200
    assert "TN-2026-000001" in inbox.text and "EG-2026-" not in inbox.text


def test_an_auditor_sees_the_chain_status_notices_and_a_past_state(site: TestClient) -> None:
    sign_in(site, "auditor@mom.demo")
    page = site.get("/requests/EG-2026-000004")  # the demo's placed request
    as_of = site.get("/requests/EG-2026-000004?at_seq=2")
    assert "intact" in page.text and "notified" in page.text
    assert "waiting to be sent" in page.text or "· sent" in page.text  # the delivery, in words
    assert "<fieldset>" not in page.text  # an auditor gets no action form
    assert as_of.status_code == 200 and "As it was after step 2" in as_of.text
    assert "Request created →" in page.text and "· create →" not in page.text  # in words


def test_an_auditor_reads_a_broken_chain_in_their_language_with_the_step_marked(
    site: TestClient, services: Services
) -> None:
    import sqlalchemy as sa

    with services.ctx.store.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE events SET comment = 'edited' WHERE seq = 2 AND request_id "
                "= (SELECT id FROM requests WHERE reference = 'TN-2026-000001')"
            )
        )
    sign_in(site, "auditor@dgpemoe.demo")

    page = html.unescape(site.get("/requests/TN-2026-000001?lang=fr").text)

    assert "Chaîne d'empreintes NON intacte" in page
    assert "étape 2\xa0: son contenu a été modifié après son enregistrement" in page
    assert page.count("⚠ ne concorde pas avec la chaîne") == 1


def test_a_step_the_history_does_not_have_is_refused_in_the_readers_language(site) -> None:
    sign_in(site, "auditor@mom.demo")
    last = len(re.findall(r"\?at_seq=\d+", site.get("/requests/EG-2026-000002").text))

    answers = {value: site.get(f"/requests/EG-2026-000002?at_seq={value}&lang=fr")
               for value in ("99", "0", "abc", "")}  # fmt: skip
    arabic = site.get("/requests/EG-2026-000002?at_seq=99&lang=ar")

    for value, page in answers.items():
        assert page.status_code == 422, value
        said = html.unescape(page.text)
        assert f"L'historique de cette demande n'a pas d'étape « {value} » : ses étapes sont " \
               f"numérotées de 1 à {last}." in said, value  # fmt: skip
        assert "Tel qu'après l'étape" not in said  # not shown as if it were that step
    assert arabic.status_code == 422 and "لا توجد في سجل هذا الطلب خطوة «99»" in arabic.text
    assert site.get("/requests/EG-2026-000002?at_seq=1").status_code == 200


def test_officials_set_fields_and_attach_documents_from_their_action_forms(site) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001")
    assert 'name="document__attestation"' in page.text
    attested = site.post("/requests/EG-2026-000001/act", data={
        "trigger": "attest_demand", "csrf": csrf_of(page.text), "version": version_of(page.text)},
        files={"document__attestation": ("attestation.pdf", b"%PDF-1.4\n%%EOF\n",
                                         "application/pdf")}, follow_redirects=True)  # fmt: skip
    assert "?done=1" in str(attested.url)

    site.post("/logout", data={"csrf": csrf_of(attested.text)})
    sign_in(site, "clerk@mom.demo")
    page = site.get("/requests/EG-2026-000001")
    assert 'name="demand_register_number"' in page.text
    registered = site.post("/requests/EG-2026-000001/act", data={
        "trigger": "register_demand", "csrf": csrf_of(page.text),
        "version": version_of(page.text), "demand_register_number": "DR-2026-0099"},
        follow_redirects=True)  # fmt: skip
    assert "?done=1" in str(registered.url) and "DR-2026-0099" in registered.text


def test_an_auditor_reads_grounds_the_directory_log_does_not_bear_out(
    site: TestClient, services: Services
) -> None:
    """The agency's licence rewritten in the directory log (hashed again) and in the
    directory: the steps that read it are marked, in the auditor's language."""
    import json

    import sqlalchemy as sa

    from sopflow.domain.chain import GENESIS, canonical_json
    from sopflow.domain.directory_log import entry_hash, stored_time
    from sopflow.store import directory_log as stored

    with services.ctx.store.read() as r:
        entries = stored.stored_entries(r)
        agency = r.one("SELECT organisation_id FROM requests WHERE reference = 'EG-2026-000004'")
    assert agency is not None
    prev, json_text = (
        GENESIS,
        ":c" if services.ctx.store.dialect == "sqlite" else "CAST(:c AS JSON)",
    )
    with services.ctx.store.engine.begin() as conn:
        for e in entries:
            change = json.loads(e.change) if isinstance(e.change, str) else e.change
            if e.subject == agency["organisation_id"] and "licence_expires" in change:
                change["licence_expires"] = "2020-01-31"
            text = canonical_json(change)
            own = entry_hash(e.seq, stored_time(e.at), e.actor, e.action, e.subject, text, prev)
            conn.execute(sa.text(f"UPDATE directory_log SET change = {json_text}, prev_hash = "
                                 ":p, hash = :h WHERE seq = :s"),
                         {"c": text, "p": prev, "h": own, "s": e.seq})  # fmt: skip
            prev = own
        conn.execute(sa.text("UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = 2"),
                     {"s": len(entries), "h": prev})  # fmt: skip
        conn.execute(sa.text("UPDATE organisations SET licence_expires = '2020-01-31' WHERE "
                             "id = :id"), {"id": agency["organisation_id"]})  # fmt: skip
    sign_in(site, "auditor@mom.demo")

    page = html.unescape(site.get("/requests/EG-2026-000004?lang=ar").text)

    assert "الترخيص الذي استندت إليه ليس الترخيص المسجَّل في سجل الدليل حينها" in page
    assert "⚠ لا تتطابق مع السلسلة" in page  # the steps that relied on it, marked
