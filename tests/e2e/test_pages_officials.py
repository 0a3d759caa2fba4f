"""What an official's day through the pages showed: a decision's grounds where its reader
looks, the way back from a refused form's address, what a procedure's steps check."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from sopflow.services import Command
from tests.e2e.test_pages import csrf_of, sign_in, site, version_of  # noqa: F401  (fixtures)
from tests.e2e.test_pages_refusals import refusal
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    services,
    settings,
)

EG_REQUEST = "/requests/EG-2026-000001"


def test_a_refused_request_shows_the_grounds_of_its_decision_at_the_top(site) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get(EG_REQUEST)
    site.post(f"{EG_REQUEST}/act", data={
        "trigger": "reject", "csrf": csrf_of(page.text), "version": version_of(page.text),
        "reason": "misrepresentation", "comment": "The employer does not exist"})  # fmt: skip

    closed = site.get(f"{EG_REQUEST}?lang=fr").text
    status = closed.split("</section>", 1)[0]  # the box at the top: where the request is

    assert "Motif de la décision" in status and "The employer does not exist" in status
    assert "<q><bdi>The employer does not exist</bdi></q>" in status


def test_a_refused_forms_address_opened_again_leads_to_the_request(site) -> None:
    sign_in(site, "attache@mom.demo")

    for path in (f"{EG_REQUEST}/act", f"{EG_REQUEST}/attach"):
        again = site.get(path, follow_redirects=False)
        assert again.status_code == 303 and again.headers["location"] == EG_REQUEST


def test_adding_no_file_is_refused_as_invalid_input(site) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get(EG_REQUEST)

    nothing = site.post(f"{EG_REQUEST}/attach", data={"csrf": csrf_of(page.text)})

    assert nothing.status_code == 422 and 'role="alert"' in nothing.text


def test_a_procedure_page_names_each_step_once_and_what_it_checks(site: TestClient) -> None:
    page = site.get("/sops/eg-mom-international-placement?lang=ar").text
    roles = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]

    assert len(re.findall("سحب الطلب", roles)) == 1  # offered from seven stages: named once
    assert "؛ " in page  # Arabic lists are separated by the Arabic semicolon
    english = site.get("/sops/tn-dgpemoe-foreign-worker-contract?lang=en").text
    # a step's conditions, in the SOP's own words, before anyone is refused by them
    assert "The approved-project exemption needs the reference of the project approval." \
        in english  # fmt: skip


def test_an_official_lands_on_their_inbox_and_is_told_what_their_step_did(site) -> None:
    landed = sign_in(site, "attache@mom.demo")
    page = site.get(f"{EG_REQUEST}?lang=fr")
    returned = site.post(f"{EG_REQUEST}/act", data={
        "trigger": "return_for_correction", "csrf": csrf_of(page.text),
        "version": version_of(page.text), "reason": "attestation_invalid",
        "comment": "Illegible stamp"})  # fmt: skip
    again = site.get(f"{EG_REQUEST}?done=1&lang=fr")

    assert landed.headers["location"] == "/inbox"  # type: ignore[attr-defined]
    assert "pour correction » : fait.</p>" in returned.text  # the step by its label
    assert "fait." not in again.text.split("<h2>", 1)[0]  # said once, not on every reload


def test_a_refused_step_marks_its_own_inputs_and_starts_there(site) -> None:
    sign_in(site, "attache@mom.demo")
    page = site.get(EG_REQUEST)

    refused = site.post(
        f"{EG_REQUEST}/act",
        data={"trigger": "reject", "csrf": csrf_of(page.text), "version": version_of(page.text)},
    )

    assert refused.status_code == 409
    assert 'id="refusal" tabindex="-1" autofocus' in refused.text
    form = refused.text.split('value="reject"', 1)[1].split("</form>", 1)[0]
    assert re.search(r'<select id="reason-\d+" name="reason" required aria-required="true" '
                     r'aria-invalid="true" aria-describedby="reason-\d+-error"', form)  # fmt: skip
    assert re.search(r'<textarea id="comment-\d+"[^>]*aria-invalid="true"', form)
    assert 'href="#main"' in refused.text  # the skip link, first on every page


def test_a_step_with_a_bad_file_lists_what_else_it_lacks_in_the_same_refusal(site) -> None:
    services = site.app.state.services
    services.commands.act("TN-2026-000004", "endorse_opinion", "head@dgpemoe.demo", Command())
    sign_in(site, "signatory@dgpemoe.demo")
    page = site.get("/requests/TN-2026-000004?lang=fr")

    refused = site.post("/requests/TN-2026-000004/act", data={
        "trigger": "grant_visa", "csrf": csrf_of(page.text), "version": version_of(page.text)},
        files={"document__visaed_contract": ("visa.pdf", b"not a pdf", "text/plain")})  # fmt: skip

    said = refusal(refused.text)
    assert refused.status_code == 422
    assert "visa.pdf" in said  # the file, and in the same refusal what the step also needs:
    assert "Numéro du visa" in said and "doit être renseigné" in said
    form = refused.text.split('value="grant_visa"', 1)[1].split("</form>", 1)[0]
    assert re.search(r'name="visa_number"[^>]*aria-invalid="true"', form)


def test_the_history_says_who_was_notified_of_what_in_words(site) -> None:
    sign_in(site, "attache@mom.demo")
    history = site.get(f"{EG_REQUEST}?lang=fr").text.split("<ol", 1)[1]

    assert "demande déposée" in history and "(العربية)" in history
    assert "role:" not in history and "request_submitted" not in history
    assert "field:" not in history and "[ar]" not in history


def test_every_notice_kind_has_a_label_in_every_language() -> None:
    from notifications.catalogue import NOTICE_KINDS
    from sopflow.web.i18n import WORDS

    for kind in NOTICE_KINDS:
        assert set(WORDS[f"notice_{kind}"]) >= {"en", "fr", "ar"}, kind
