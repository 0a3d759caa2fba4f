"""The demo that ``make serve`` seeds: the two ministries, an agency and an enterprise, one
user per role of each SOP (password ``sopflow-demo``), and requests in various states.

Its dates (a licence's expiry, an attestation, an orientation, a visa) are counted from the
day of the services' clock, never from the machine's: the SOPs refuse a date in the future,
so a demo dated by the machine would fail under any clock behind it (the tests' is fixed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, timedelta
from typing import Any

from sopflow.services import Command, OrgInput, Services
from sopflow.store.blobs import Upload

PASSWORD = "sopflow-demo"  # noqa: S105 - the published password of the demo users
EG, TN = "eg-mom-international-placement", "tn-dgpemoe-foreign-worker-contract"
DEMO = "demo"  # who the directory log says made the demo's organisations and users


def orgs(day: date) -> tuple[OrgInput, ...]:
    return (
        OrgInput("Ministry of Labour (Egypt)", "authority", "EG", id="eg-mom"),
        OrgInput("DGPEMOE (Tunisia)", "authority", "TN", id="tn-dgpemoe"),
        OrgInput(
            "Nile Recruitment",
            "agency",
            "EG",
            "RA-2024-117",
            day + timedelta(days=700),
            id="nile-recruitment",
        ),
        OrgInput("Carthage Tech SARL", "employer", "TN", id="carthage-tech"),
    )


# role -> (e-mail, organisation, locale)
USERS = {
    "employer_agent": ("agent@nile.demo", "nile-recruitment", "ar"),
    "registry_clerk": ("clerk@mom.demo", "eg-mom", "ar"),
    "employment_officer": ("officer@mom.demo", "eg-mom", "en"),
    "director": ("director@mom.demo", "eg-mom", "ar"),
    "advertisement_reviewer": ("ads@mom.demo", "eg-mom", "en"),
    "selection_committee": ("selection@mom.demo", "eg-mom", "en"),
    "contract_officer": ("contracts@mom.demo", "eg-mom", "en"),
    "work_permit_officer": ("permits@mom.demo", "eg-mom", "en"),
    "pdo_officer": ("pdo@mom.demo", "eg-mom", "en"),
    "labour_attache": ("attache@mom.demo", "eg-mom", "en"),
    "enterprise": ("rh@carthage.demo", "carthage-tech", "fr"),
    "examiner": ("examiner@dgpemoe.demo", "tn-dgpemoe", "fr"),
    "head_of_service": ("head@dgpemoe.demo", "tn-dgpemoe", "fr"),
    "minister_signatory": ("signatory@dgpemoe.demo", "tn-dgpemoe", "fr"),
}
AUDITORS = {"auditor@mom.demo": "eg-mom", "auditor@dgpemoe.demo": "tn-dgpemoe"}


@dataclass(frozen=True)
class Step:
    role: str
    trigger: str
    documents: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    reason: str | None = None


def _money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


EG_DATA = {
    "employer_name": "Red Sea Construction Co.", "employer_country": "SA",
    "destination_country": "SA", "occupation": "7112", "industry": "41",
    "workers_requested": 20, "monthly_wage": _money("1500.00", "USD"),
    "worker_fee": _money("0", "USD"), "legal_regime": "law_14_2025",
    "placement_channel": "licensed_agency", "contract_months": 24,
    "job_description": "Bricklaying on residential sites in Jeddah, 48 hours a week.",
    "contact_email": "demands@redsea.example",
}  # fmt: skip
EG_DOCS = ("demand_letter", "power_of_attorney")


def eg_path(day: date, register_number: str = "DR-2026-0042") -> tuple[Step, ...]:
    """The Egyptian request from attestation to placement (orientation on ``day``)."""
    return (
        Step("labour_attache", "attest_demand", ("attestation",)),
        Step("registry_clerk", "register_demand", data={"demand_register_number": register_number}),
        Step("employment_officer", "approve_demand"),
        Step("employer_agent", "submit_advertisement", ("job_advertisement",)),
        Step("advertisement_reviewer", "approve_advertisement"),
        Step("selection_committee", "record_selection", ("selection_results",),
             {"workers_selected": 18}),
        Step("employer_agent", "attach", ("employment_contract", "passport_copies")),
        Step("contract_officer", "attest_contract", data={
            "weekly_hours": 48, "work_location": "Jeddah", "contract_in_worker_language": True,
            "passports_machine_readable": True}),
        Step("employer_agent", "submit_visas",
             ("medical_certificates", "visas", "worker_clearances")),
        Step("work_permit_officer", "issue_work_permit", ("work_permits",),
             {"work_permit_number": "WP-2026-9001"}),
        Step("pdo_officer", "record_pdo_attendance", ("pdo_attendance",), {
            "pdo_attendance_date": day.isoformat(), "passports_with_workers": True,
            "grievance_channel_explained": True}),
    )  # fmt: skip


def tn_data(day: date) -> dict[str, Any]:
    """A Tunisian contract filed on ``day``: ANETI attested 20 days before, work in 30."""
    return {
        "application_type": "initial", "approved_project_exemption": False,
        "enterprise_name": "Carthage Tech SARL", "enterprise_tax_id": "1234567ABC000",
        "contact_email": "rh@carthage.example", "aneti_attestation_number": "ANETI-2026-0815",
        "aneti_attestation_date": (day - timedelta(days=20)).isoformat(),
        "worker_full_name": "Amina Diallo", "sex": "female", "birth_date": "1990-04-12",
        "citizenship": "SN", "passport_number": "A1234567", "education_level": "isced_5_8",
        "occupation": "2512", "job_title": "Software developer", "industry": "62",
        "governorate": "tunis", "monthly_wage": _money("4500.000", "TND"),
        "worker_fee": _money("0", "TND"),
        "contract_start": (day + timedelta(days=30)).isoformat(),
        "contract_end": (day + timedelta(days=30 + 364)).isoformat(),
        "contract_months": 12,
    }  # fmt: skip


TN_DOCS = ("model_contract", "aneti_attestation", "passport_copy", "photos", "cv", "diplomas",
           "work_certificates", "trade_register_extract", "tax_id_card", "company_statutes",
           "official_journal_notice", "cnss_staff_list", "cnss_payment_receipt",
           "fiscal_stamps")  # fmt: skip


def tn_path(day: date) -> tuple[Step, ...]:
    """The Tunisian contract from filing to the visa (granted on ``day``)."""
    return (
        Step("examiner", "accept_filing"),
        Step("examiner", "submit_opinion", data={"examiner_opinion": "favourable"},
             comment="ANETI test done; no Tunisian candidate."),
        Step("head_of_service", "endorse_opinion"),
        Step("minister_signatory", "grant_visa", ("visaed_contract",),
             {"visa_number": "V-2026-0310", "visa_date": day.isoformat()}),
    )  # fmt: skip


def _pdf(label: str) -> bytes:
    return (f"%PDF-1.4\n% sopflow demo document: {label}\n1 0 obj<</Type/Catalog>>endobj\n"
            "trailer<</Root 1 0 R>>\n%%EOF\n").encode()  # fmt: skip


def _uploads(kinds: Iterable[str]) -> list[Upload]:
    return [Upload(kind, f"{kind}.pdf", _pdf(kind)) for kind in kinds]


def _walk(services: Services, reference: str, steps: Iterable[Step]) -> None:
    for s in steps:
        email = USERS[s.role][0]
        cmd = Command(data=s.data, documents=_uploads(s.documents), comment=s.comment,
                      reason=s.reason)  # fmt: skip
        if s.trigger == "attach":
            services.commands.attach(reference, email, cmd)
        else:
            services.commands.act(reference, s.trigger, email, cmd)


def _file(services: Services, sop: str, role: str, data: dict[str, Any],
          docs: tuple[str, ...]) -> str:  # fmt: skip
    cmd = Command(data=data, documents=_uploads(docs))
    return services.commands.submit(sop, USERS[role][0], cmd).reference


def seed(services: Services) -> list[str]:
    """Seed the demo once (nothing if the Egyptian ministry exists); the references made."""
    with services.ctx.store.read() as r:
        if r.organisation("eg-mom") is not None:
            return []
    day = services.ctx.clock().astimezone(UTC).date()
    eg_steps, tn_filing, tn_steps = eg_path(day), tn_data(day), tn_path(day)
    # the directory log records the demo's seed as made by "demo"
    for organisation in orgs(day):
        services.directory.add_org(organisation, by=DEMO)
    for role, (email, org, locale) in USERS.items():
        services.directory.add_user(email, role.replace("_", " ").title(), org, [role], locale,
                                    PASSWORD, by=DEMO)  # fmt: skip
    for email, org_id in AUDITORS.items():
        services.directory.add_user(email, "Auditor", org_id, ["auditor"], "en", PASSWORD,
                                    by=DEMO)  # fmt: skip
    made = []
    # Egypt: just filed; half-way (advertisement to file); returned for correction; placed
    made.append(_file(services, EG, "employer_agent", EG_DATA, EG_DOCS))
    made.append(ref := _file(services, EG, "employer_agent", EG_DATA, EG_DOCS))
    _walk(services, ref, eg_steps[:3])
    made.append(ref := _file(services, EG, "employer_agent", EG_DATA, EG_DOCS))
    _walk(services, ref, [Step("labour_attache", "return_for_correction",
                               comment="Please attach the demand letter attested by the "
                                       "consulate.", reason="attestation_invalid")])  # fmt: skip
    made.append(ref := _file(services, EG, "employer_agent", EG_DATA, EG_DOCS))
    _walk(services, ref, eg_path(day, "DR-2026-0043"))  # a register number is used once
    # Tunisia: three just filed (a bulk acceptance to try); under examination; visa granted
    for passport in ("A1234567", "D4445556", "E7778889"):
        made.append(_file(services, TN, "enterprise", {**tn_filing, "passport_number": passport},
                          TN_DOCS))  # fmt: skip
    made.append(ref := _file(services, TN, "enterprise",
                             {**tn_filing, "passport_number": "B7654321"}, TN_DOCS))  # fmt: skip
    _walk(services, ref, tn_steps[:2])
    made.append(ref := _file(services, TN, "enterprise",
                             {**tn_filing, "passport_number": "C1112223"}, TN_DOCS))  # fmt: skip
    _walk(services, ref, tn_steps)
    return made


def users_table() -> list[tuple[str, str, str]]:
    """(role, e-mail, password) of every demo user, to print at start-up."""
    rows = [(role, email, PASSWORD) for role, (email, _, _) in USERS.items()]
    return rows + [("auditor", email, PASSWORD) for email in AUDITORS]
