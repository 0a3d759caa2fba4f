"""Test data builders: organisations, one user per role, valid request data, small documents.

Plain functions and constants; every builder returns a fresh object, so a test may change
what it gets. ``seed(services)`` creates the organisations and users below; the paths
``*_path_to`` walk a request of each shipped SOP through its steps.
"""

from __future__ import annotations

import itertools
import json
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sopflow.domain.directory_log import USER_RECORDED, user_record
from sopflow.services import Command, CommandResult, OrgInput, Services
from sopflow.store import directory_log
from sopflow.store.blobs import Upload

EG = "eg-mom-international-placement"
TN = "tn-dgpemoe-foreign-worker-contract"

# -- organisations -----------------------------------------------------------------------
EG_AUTHORITY = "eg-mom"
TN_AUTHORITY = "tn-dgpemoe"
AGENCY = "nile-agency"  # licensed Egyptian recruitment agency
OTHER_AGENCY = "delta-agency"  # another agency: must never see Nile's requests
ENTERPRISE = "carthage-tech"  # Tunisian employer
OTHER_ENTERPRISE = "sfax-textiles"

ORGS = (
    OrgInput("Ministry of Labour", "authority", "EG", id=EG_AUTHORITY),
    OrgInput("DGPEMOE", "authority", "TN", id=TN_AUTHORITY),
    OrgInput("Nile Recruitment", "agency", "EG", "EG-LIC-0042", date(2028, 12, 31), id=AGENCY),
    OrgInput("Delta Manpower", "agency", "EG", "EG-LIC-0077", date(2028, 12, 31), id=OTHER_AGENCY),
    OrgInput("Carthage Tech", "employer", "TN", id=ENTERPRISE),
    OrgInput("Sfax Textiles", "employer", "TN", id=OTHER_ENTERPRISE),
)


@dataclass(frozen=True)
class Person:
    email: str
    org: str
    roles: tuple[str, ...]
    locale: str = "en"


# One user per role. The two auditors, like every official, belong to the authority.
PEOPLE = {
    "agent": Person("agent@nile.example", AGENCY, ("employer_agent",), "ar"),
    "other_agent": Person("agent@delta.example", OTHER_AGENCY, ("employer_agent",), "ar"),
    "registry_clerk": Person("clerk@mom.example", EG_AUTHORITY, ("registry_clerk",), "ar"),
    "employment_officer": Person("officer@mom.example", EG_AUTHORITY, ("employment_officer",)),
    "director": Person("director@mom.example", EG_AUTHORITY, ("director",)),
    "advertisement_reviewer": Person("ads@mom.example", EG_AUTHORITY, ("advertisement_reviewer",)),
    "selection_committee": Person("selection@mom.example", EG_AUTHORITY, ("selection_committee",)),
    "contract_officer": Person("contracts@mom.example", EG_AUTHORITY, ("contract_officer",)),
    "work_permit_officer": Person("permits@mom.example", EG_AUTHORITY, ("work_permit_officer",)),
    "pdo_officer": Person("pdo@mom.example", EG_AUTHORITY, ("pdo_officer",)),
    "labour_attache": Person("attache@mom.example", EG_AUTHORITY, ("labour_attache",)),
    "eg_auditor": Person("audit@mom.example", EG_AUTHORITY, ("auditor",)),
    "enterprise": Person("hr@carthage.example", ENTERPRISE, ("enterprise",), "fr"),
    "other_enterprise": Person("hr@sfax.example", OTHER_ENTERPRISE, ("enterprise",), "fr"),
    "examiner": Person("examiner@dgpemoe.example", TN_AUTHORITY, ("examiner",), "fr"),
    "head_of_service": Person("head@dgpemoe.example", TN_AUTHORITY, ("head_of_service",), "fr"),
    "signatory": Person("signatory@dgpemoe.example", TN_AUTHORITY, ("minister_signatory",)),
    "tn_auditor": Person("audit@dgpemoe.example", TN_AUTHORITY, ("auditor",), "fr"),
    # an Egyptian official who holds a Tunisian role: still not of the Tunisian authority
    # (the directory refuses to make such a user; `seed` writes it as a hand edit would)
    "foreign_examiner": Person("examiner@mom.example", EG_AUTHORITY, ("examiner",)),
}
MISPLACED = ("foreign_examiner",)


def email(who: str) -> str:
    return PEOPLE[who].email


def seed(services: Services) -> None:
    """Create every organisation of ``ORGS`` and every user of ``PEOPLE``."""
    for org in ORGS:
        services.directory.add_org(org)
    for who, person in PEOPLE.items():
        name = person.email.split("@")[0].title()
        if who not in MISPLACED:
            services.directory.add_user(person.email, name, person.org, list(person.roles),
                                        person.locale)  # fmt: skip
            continue
        add_user_directly(services, person.email, name, person.org, person.roles, person.locale)


def add_user_directly(services: Services, email: str, name: str, org: str,
                      roles: Sequence[str], locale: str = "en") -> None:  # fmt: skip
    """A user written past the directory's checks: access control must hold for users the
    directory would have refused. Such a user is recorded in the directory log as one made
    before the log began (its baseline entry, ``user-recorded`` by ``migration``), so
    that the directory still verifies."""
    with services.ctx.store.write() as w:
        row = {"email": email, "name": name, "organisation_id": org, "roles": list(roles),
               "locale": locale, "password_hash": None, "active": True,
               "created_at": services.ctx.clock()}  # fmt: skip
        w.insert("users", row)
        directory_log.record(w, row["created_at"], "migration", USER_RECORDED, email,
                             user_record(row))  # fmt: skip


# -- documents ---------------------------------------------------------------------------
_counter = itertools.count(1)


def pdf(label: str = "") -> bytes:
    """A small valid PDF; every call gives different bytes (a different document)."""
    text = f"{label} #{next(_counter):08d}".encode()  # fixed length: sizes stay the same
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% " + text + b"\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def png() -> bytes:
    """A valid 1x1 PNG image."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def doc(kind: str, content: bytes | None = None, name: str | None = None) -> Upload:
    return Upload(kind, name or f"{kind}.pdf", pdf(kind) if content is None else content)


def docs(*kinds: str) -> list[Upload]:
    return [doc(kind) for kind in kinds]


# -- request data ------------------------------------------------------------------------
EG_SUBMIT_DOCS = ("demand_letter", "power_of_attorney")
TN_SUBMIT_DOCS = (
    "model_contract",
    "aneti_attestation",
    "passport_copy",
    "photos",
    "cv",
    "diplomas",
    "work_certificates",
    "trade_register_extract",
    "tax_id_card",
    "company_statutes",
    "official_journal_notice",
    "cnss_staff_list",
    "cnss_payment_receipt",
    "fiscal_stamps",
)


def money(amount: str, currency: str) -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def eg_data(**changes: Any) -> dict[str, Any]:
    """A valid Egyptian demand (Law 14/2025, no worker fee): wage 1,500 USD a month."""
    data: dict[str, Any] = {
        "employer_name": "Red Sea Construction Co.",
        "employer_country": "SA",
        "destination_country": "SA",
        "occupation": "7112",
        "industry": "41",
        "workers_requested": 20,
        "monthly_wage": money("1500.00", "USD"),
        "worker_fee": money("0", "USD"),
        "legal_regime": "law_14_2025",
        "placement_channel": "licensed_agency",
        "contract_months": 24,
        "job_description": "Bricklaying on residential sites in Jeddah, 48 hours a week.",
        "contact_email": "demands@redsea.example",
    }
    data.update(changes)
    return data


def tn_data(**changes: Any) -> dict[str, Any]:
    """A valid Tunisian initial contract for a 12-month job in Tunis."""
    data: dict[str, Any] = {
        "application_type": "initial",
        "approved_project_exemption": False,
        "enterprise_name": "Carthage Tech SARL",
        "enterprise_tax_id": "1234567ABC000",
        "contact_email": "rh@carthage.example",
        "aneti_attestation_number": "ANETI-2026-0815",
        "aneti_attestation_date": "2026-11-02",
        "worker_full_name": "Amina Diallo",
        "sex": "female",
        "birth_date": "1990-04-12",
        "citizenship": "SN",
        "passport_number": "A1234567",
        "education_level": "isced_5_8",
        "occupation": "2512",
        "job_title": "Software developer",
        "industry": "62",
        "governorate": "tunis",
        "monthly_wage": money("4500.000", "TND"),
        "worker_fee": money("0", "TND"),
        "contract_start": "2027-01-01",
        "contract_end": "2027-12-31",
        "contract_months": 12,
    }
    data.update(changes)
    return data


def tn_dates(now: datetime) -> dict[str, str]:
    """The dates of a Tunisian filing made at ``now``: a fresh ANETI attestation and a
    contract of a year starting soon (the SOP refuses a stale attestation and a contract
    that has already started)."""
    today = now.date()
    start = today + timedelta(days=30)
    return {"aneti_attestation_date": (today - timedelta(days=10)).isoformat(),
            "contract_start": start.isoformat(),
            "contract_end": (start + timedelta(days=364)).isoformat()}  # fmt: skip


# -- walking requests --------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One command on a request: who fires which trigger with what."""

    who: str
    trigger: str
    data: dict[str, Any]
    documents: tuple[str, ...] = ()
    comment: str | None = None
    reason: str | None = None

    def command(self) -> Command:
        return Command(
            data=self.data,
            documents=docs(*self.documents),
            comment=self.comment,
            reason=self.reason,
        )


def step(
    who: str,
    trigger: str,
    *documents: str,
    comment: str | None = None,
    reason: str | None = None,
    **data: Any,
) -> Step:
    return Step(who, trigger, dict(data), documents, comment, reason)


# The Egyptian happy path, in order, after 'submit' (request in attestation_review).
EG_PATH = (
    step("labour_attache", "attest_demand", "attestation"),
    step("registry_clerk", "register_demand", demand_register_number="DR-2026-0042"),
    step("employment_officer", "approve_demand"),
    step("agent", "submit_advertisement", "job_advertisement"),
    step("advertisement_reviewer", "approve_advertisement"),
    step("selection_committee", "record_selection", "selection_results", workers_selected=18),
    step("agent", "attach", "employment_contract", "passport_copies"),
    step(
        "contract_officer",
        "attest_contract",
        weekly_hours=48,
        work_location="Jeddah",
        contract_in_worker_language=True,
        passports_machine_readable=True,
    ),
    step("agent", "submit_visas", "medical_certificates", "visas", "worker_clearances"),
    step(
        "work_permit_officer",
        "issue_work_permit",
        "work_permits",
        work_permit_number="WP-2026-9001",
    ),
    step(
        "pdo_officer",
        "record_pdo_attendance",
        "pdo_attendance",
        pdo_attendance_date="2026-11-27",
        passports_with_workers=True,
        grievance_channel_explained=True,
    ),
)

# The Tunisian happy path after 'submit' (request in filing_check).
TN_PATH = (
    step("examiner", "accept_filing"),
    step(
        "examiner",
        "submit_opinion",
        comment="ANETI test done; no Tunisian candidate.",
        examiner_opinion="favourable",
    ),
    step("head_of_service", "endorse_opinion"),
    step(
        "signatory",
        "grant_visa",
        "visaed_contract",
        visa_number="V-2026-0310",
        visa_date="2026-11-27",
    ),
)


def register_number(reference: str) -> str:
    """The register number ``run`` gives a request at ``register_demand`` (the first
    request of a test keeps the one of ``EG_PATH``)."""
    return "DR-2026-0042" if reference == "EG-2026-000001" else f"DR-{reference}"


def eg_path_to(trigger: str) -> tuple[Step, ...]:
    """The steps of ``EG_PATH`` before the step firing ``trigger``."""
    return _until(EG_PATH, trigger)


def eg_path_from(trigger: str) -> tuple[Step, ...]:
    """The steps of ``EG_PATH`` from the step firing ``trigger`` on."""
    return EG_PATH[len(_until(EG_PATH, trigger)) :]


def tn_path_to(trigger: str) -> tuple[Step, ...]:
    return _until(TN_PATH, trigger)


def eg_step(trigger: str) -> Step:
    """The step of ``EG_PATH`` firing ``trigger``."""
    return next(s for s in EG_PATH if s.trigger == trigger)


def tn_step(trigger: str) -> Step:
    return next(s for s in TN_PATH if s.trigger == trigger)


def _until(path: Iterable[Step], trigger: str) -> tuple[Step, ...]:
    done = []
    for s in path:
        if s.trigger == trigger:
            return tuple(done)
        done.append(s)
    raise ValueError(f"no step '{trigger}'")


def run(services: Services, reference: str, steps: Iterable[Step]) -> CommandResult | None:
    """Apply ``steps`` to ``reference``; the last result."""
    result = None
    for s in steps:
        if s.trigger == "register_demand" and s.data == eg_step("register_demand").data:
            # a register number is used once: each request of a test gets its own
            s = replace(s, data={"demand_register_number": register_number(reference)})
        if s.trigger == "attach":
            result = services.commands.attach(reference, email(s.who), s.command())
        else:
            result = services.commands.act(reference, s.trigger, email(s.who), s.command())
    return result


def submit_eg(services: Services, who: str = "agent", **changes: Any) -> CommandResult:
    return services.commands.submit(
        EG, email(who), Command(data=eg_data(**changes), documents=docs(*EG_SUBMIT_DOCS))
    )


def submit_tn(services: Services, who: str = "enterprise", **changes: Any) -> CommandResult:
    return services.commands.submit(
        TN, email(who), Command(data=tn_data(**changes), documents=docs(*TN_SUBMIT_DOCS))
    )


# -- looking at the database -------------------------------------------------------------
TABLES = ("requests", "events", "outbox", "documents", "idempotency_keys", "sop_versions",
          "organisations", "users", "directory_log")  # fmt: skip


def footprint(services: Services) -> dict[str, Any]:
    """What the database holds: row counts, every request's state and version, the chain
    head, the directory (its licences) and its log's head. A rejected command must leave
    it exactly as it was."""
    with services.ctx.store.read() as r:
        counts = {t: r.one(f"SELECT count(*) AS n FROM {t}")["n"] for t in TABLES}  # type: ignore[index]
        rows = r.all("SELECT reference, state, version, seq, last_hash FROM requests ORDER BY id")
        head = r.chain_head()
        licences = [(o["id"], o["licence_status"], o["licence_expires"]) for o in r.organisations()]
        directory_head = directory_log.head(r)
    return {"counts": counts, "requests": rows, "head": head, "licences": licences,
            "directory_head": directory_head}  # fmt: skip


def event_count(services: Services) -> int:
    return int(footprint(services)["counts"]["events"])


def demand_batch(folder: Path, demands: int, year: int,
                 key_prefix: str) -> tuple[Path, list[str], list[str]]:  # fmt: skip
    """A JSONL batch of ``demands`` Egyptian demands, each filed, attested and registered,
    every line with an explicit idempotency key; the documents beside it. Returns the file,
    the keys and the references the demands get on a fresh database (filing order)."""
    for kind in (*EG_SUBMIT_DOCS, "attestation"):
        (folder / f"{kind}.pdf").write_bytes(pdf(kind))
    lines: list[dict[str, Any]] = []
    references = [f"EG-{year}-{n:06d}" for n in range(1, demands + 1)]
    for n, ref in enumerate(references, start=1):
        lines += [
            {"command": "submit", "as": email("agent"), "sop": EG,
             "data": eg_data(workers_requested=n),
             "documents": [{"kind": k, "path": f"{k}.pdf"} for k in EG_SUBMIT_DOCS]},
            {"command": "act", "as": email("labour_attache"), "reference": ref,
             "trigger": "attest_demand",
             "documents": [{"kind": "attestation", "path": "attestation.pdf"}]},
            {"command": "act", "as": email("registry_clerk"), "reference": ref,
             "trigger": "register_demand", "data": {"demand_register_number": f"DR-{n}"}},
        ]  # fmt: skip
    keys = [f"{key_prefix}:{number}" for number in range(1, len(lines) + 1)]
    path = folder / "commands.jsonl"
    path.write_text("".join(json.dumps({**line, "idempotency_key": key}) + "\n"
                            for line, key in zip(lines, keys, strict=True)), "utf-8")  # fmt: skip
    return path, keys, references
