"""The forms offer a user only what the core accepts from them: the document kinds their
roles may provide (``provided_by``), the fields they may still correct (``editable``); they
show each field's help and mark what is required, in the reader's language."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.e2e.test_pages import (  # noqa: F401  (fixtures)
    _template,
    clock,
    csrf_of,
    database_url,
    services,
    settings,
    sign_in,
    site,
    version_of,
)

EG = "eg-mom-international-placement"
TN = "tn-dgpemoe-foreign-worker-contract"


def file_inputs(page: str) -> list[str]:
    return re.findall(r'name="document__([a-z_]+)"', page)


def form_of(page: str, trigger: str) -> str:
    """The step form of ``trigger`` on a request's page."""
    for form in re.findall(r"<form .*?</form>", page, flags=re.S):
        if f'name="trigger" value="{trigger}"' in form:
            return str(form)
    raise AssertionError(f"no form for {trigger}")


def attach_form(page: str) -> str:
    found = re.search(r'<form [^>]*action="[^"]*/attach".*?</form>', page, flags=re.S)
    assert found, "no form to add documents"
    return found.group(0)


def test_the_filing_form_offers_only_the_requesters_documents_and_marks_the_required(site):
    sign_in(site, "rh@carthage.demo")
    page = site.get(f"/requests/new/{TN}?lang=fr").text

    kinds = file_inputs(page)
    assert "visaed_contract" not in kinds and len(kinds) == 14
    # every one of the 14 is required by the filing step, and said so
    assert len(re.findall(r'type="file"[^>]*aria-required="true"', page)) == 14
    assert page.count('<span class="required-mark" aria-hidden="true">*</span>') >= 14 + 20
    assert "Les champs et pièces marqués * sont obligatoires." in page
    assert '<span class="visually-hidden"> (obligatoire)</span>' in page


def test_the_egyptian_filing_form_shows_help_described_by_its_field(site):
    sign_in(site, "agent@nile.demo")
    page = site.get(f"/requests/new/{EG}?lang=ar").text

    assert not {"attestation", "work_permits", "pdo_attendance", "selection_results"} & set(
        file_inputs(page)
    )
    assert '<span id="f-worker_fee-help" class="help">أدخل صفرًا إن لم توجد عمولة.' in page
    fee = re.search(r'<input id="f-worker_fee"[^>]*>', page)
    assert fee and 'aria-describedby="f-worker_fee-help"' in fee.group(0)
    # documents the filing step needs are marked
    letter = re.search(r'<input id="d-demand_letter"[^>]*>', page)
    assert letter and 'aria-required="true"' in letter.group(0)


def test_the_attache_is_offered_the_attestation_not_the_employers_papers(site):
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001").text

    assert file_inputs(form_of(page, "attest_demand")) == ["attestation"]
    options = re.findall(r'<option value="([a-z_]+)"', attach_form(page))
    assert "attestation" in options and "demand_letter" not in options


def test_the_employer_is_not_offered_the_attestation_to_add(site):
    sign_in(site, "agent@nile.demo")
    page = site.get("/requests/EG-2026-000001").text  # in attestation review

    options = re.findall(r'<option value="([a-z_]+)"', attach_form(page))
    assert "attestation" not in options and "work_permits" not in options
    assert "demand_letter" in options


def test_the_approved_demand_is_not_offered_for_correction(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    drafting = site.get("/requests/EG-2026-000002").text  # demand approved: advert to file
    returned = site.get("/requests/EG-2026-000003").text  # returned before approval

    advert = form_of(drafting, "submit_advertisement")
    assert 'name="workers_requested"' not in advert and 'name="monthly_wage__amount"' not in advert
    assert file_inputs(advert) == ["job_advertisement"]
    assert 'name="workers_requested"' in form_of(returned, "resubmit")


def test_a_frozen_field_posted_anyway_is_refused_with_the_stage_named(site) -> None:
    sign_in(site, "agent@nile.demo")
    page = site.get("/requests/EG-2026-000002?lang=en").text
    refused = site.post("/requests/EG-2026-000002/act", data={
        "trigger": "submit_advertisement", "csrf": csrf_of(page), "version": version_of(page),
        "workers_requested": "500"}, files={"document__job_advertisement": (
            "ad.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")})  # fmt: skip

    assert refused.status_code == 422
    assert "may no longer be changed at the stage “Demand approved, advertisement to be filed”" in (
        refused.text.replace("&#34;", '"')
    )
