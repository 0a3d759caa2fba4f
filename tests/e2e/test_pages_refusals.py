"""A refusal on a page is said in the reader's language, with the SOP's own names for the
fields, documents, steps and stages it mentions (the API and the CLI keep English)."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from sopflow import demo
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


def refusal(page: str) -> str:
    found = re.search(r'<p class="error" role="alert"[^>]*>(.*?)</p>', page, re.S)
    assert found, "no refusal on the page"
    return html.unescape(found.group(1))


def field_errors(page: str) -> list[str]:
    return [html.unescape(e) for e in re.findall(r'<span class="error"[^>]*>([^<]*)</span>', page)]


def filing_form(site: TestClient, lang: str) -> dict[str, str]:
    form = site.get(f"/requests/new/{EG}?lang={lang}")
    fields = {k: str(v) for k, v in demo.EG_DATA.items() if not isinstance(v, dict)}
    fields.update({"monthly_wage__amount": "1500", "monthly_wage__currency": "USD",
                   "worker_fee__amount": "0", "worker_fee__currency": "USD",
                   "csrf": csrf_of(form.text)})  # fmt: skip
    return fields


def attache_acts_in_french(site: TestClient, trigger: str, *, stale: bool = False,
                           **form: str) -> str:  # fmt: skip
    """The refusal the labour attaché gets for ``trigger`` on the demo's first request."""
    sign_in(site, "attache@mom.demo")
    page = site.get("/requests/EG-2026-000001?lang=fr")
    version = int(version_of(page.text)) - (1 if stale else 0)
    form = {"trigger": trigger, "csrf": csrf_of(page.text), "version": str(version), **form}
    refused = site.post("/requests/EG-2026-000001/act", data=form)
    return refusal(refused.text)


def test_a_missing_document_is_named_in_french_by_the_sops_own_label(site: TestClient) -> None:
    said = attache_acts_in_french(site, "attest_demand")

    assert said.startswith("Refusé : « Légaliser la demande » demande encore ceci")
    assert (
        "la pièce « Légalisation par le consulat ou l'attaché du travail » doit être jointe" in said
    )
    assert "must be attached" not in said


def test_a_value_out_of_range_is_explained_in_arabic_beside_its_field(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "ar")
    bad = site.post(f"/requests/new/{EG}?lang=ar", data={**fields, "workers_requested": "0"})

    assert bad.status_code == 422
    assert "يجب ألا يقل عن 1" in field_errors(bad.text)
    assert "عدد العمال المطلوبين: يجب ألا يقل عن 1" in refusal(bad.text)
    assert "at least" not in bad.text


def test_a_filing_with_a_bad_value_also_marks_every_missing_document(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "fr")
    bad = site.post(f"/requests/new/{EG}?lang=fr", data={**fields, "workers_requested": "0"})

    errors = field_errors(bad.text)
    assert bad.status_code == 422
    assert "doit être au moins 1" in errors
    # one refusal, every missing document beside its input (not a second refusal later)
    assert errors.count("est obligatoire") == len(demo.EG_DOCS)
    assert "document:" not in refusal(bad.text)


def test_a_fee_above_the_legal_cap_is_refused_in_french_with_its_figures(site: TestClient) -> None:
    sign_in(site, "agent@nile.demo")
    fields = filing_form(site, "fr")
    files = {f"document__{kind}": (f"{kind}.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf")
             for kind in demo.EG_DOCS}  # fmt: skip
    bad = site.post(f"/requests/new/{EG}?lang=fr", data={**fields, "worker_fee__amount": "500"},
                    files=files)  # fmt: skip

    said = refusal(bad.text)
    assert bad.status_code == 409  # a rule of the step, as the API says
    assert ("les frais à la charge du travailleur, 500 USD, dépassent 1 % du salaire de la "
            "première année (180.00 USD)") in said  # fmt: skip


def test_a_comment_over_its_limit_is_refused_in_french_by_its_own_name(site) -> None:
    said = attache_acts_in_french(site, "attest_demand", comment="ش" * 5001)

    assert said.startswith("Refusé : ")
    assert "Commentaire : 5000 caractères au plus" in said


def test_a_step_form_sent_twice_is_applied_once(site) -> None:
    sign_in(site, "examiner@dgpemoe.demo")
    page = site.get("/requests/TN-2026-000001").text
    form_key = re.search(r'name="form_key" value="([^"]+)"', page)
    assert form_key, "no form key in the step forms"
    form = {"trigger": "accept_filing", "csrf": csrf_of(page), "version": version_of(page),
            "form_key": form_key.group(1), "comment": "Dossier complet."}  # fmt: skip

    first = site.post("/requests/TN-2026-000001/act", data=form, follow_redirects=False)
    again = site.post("/requests/TN-2026-000001/act", data=form, follow_redirects=False)
    changed = site.post("/requests/TN-2026-000001/act", data={**form, "comment": "Autre."})

    assert first.status_code == again.status_code == 303
    history = site.get("/requests/TN-2026-000001/history.json").json()
    assert [e["trigger"] for e in history["events"]].count("accept_filing") == 1
    assert "Ce formulaire a déjà été envoyé et traité" in refusal(changed.text)


def test_a_stale_form_says_who_moved_first_and_where_the_request_is_now(site) -> None:
    said = attache_acts_in_french(site, "return_for_correction", stale=True,
                                  reason="attestation_invalid", comment="x")  # fmt: skip

    assert "Quelqu'un d'autre a modifié cette demande" in said


def test_a_step_of_another_stage_lists_what_is_possible_now(site: TestClient) -> None:
    said = attache_acts_in_french(site, "register_demand")

    assert "n'est pas possible à l'étape" in said and "Possible maintenant" in said
    assert "« Légaliser la demande »" not in said.split("Possible maintenant")[0]
    assert "Légaliser la demande" in said.split("Possible maintenant")[1]


def test_the_api_keeps_the_english_message_and_gives_the_values(site: TestClient) -> None:
    from sopflow.errors import InvalidData
    from sopflow.spec import values
    from states.machine import CompiledSop

    sop: CompiledSop = site.app.state.services.sops.catalogue.get(EG)  # type: ignore[attr-defined]
    _, errors = values.validate_data(sop.fields, {"workers_requested": 0})
    problem = InvalidData(errors).to_dict()["errors"][0]

    assert problem["message"] == "must be at least 1"
    assert problem["params"] == {"bound": "min", "limit": "1"}
