"""Plain-function factories for the unit tests: SOP texts, sample data, actors, documents.

Nothing here is a fixture: every function returns a fresh value, so tests can call them
freely and change what they get without affecting other tests.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from notifications.catalogue import TEMPLATE_IDS
from sopflow.errors import SopIssue
from sopflow.spec.models import (
    DateField,
    DocumentKind,
    EnumField,
    FieldSpec,
    MoneyField,
    NumberField,
    SimpleField,
    StringField,
    Transition,
)
from sopflow.spec.values import normalise_value
from sopflow.spec.yamlsource import parse_yaml
from states import Actor, CompiledSop, DocumentRef, OrganisationFacts, Payload, compile_sop
from states.machine import check_sop
from states.provenance import attach_roles, may_provide

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
BENCH = Path("bench/peer-recruitment-approval.v1.yaml")
EG = Path("sop_definitions/eg-mom-international-placement.v1.yaml")
TN = Path("sop_definitions/tn-dgpemoe-foreign-worker-contract.v1.yaml")
SHIPPED = (EG, TN)

# A Monday with no public holiday in Egypt or Tunisia.
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


# ---------------------------------------------------------------- SOP texts


def read(relative: Path) -> str:
    return (ROOT / relative).read_text(encoding="utf-8")


def compiled(relative: Path) -> CompiledSop:
    """An SOP file of the repository, compiled with the real template catalogue."""
    return compile_sop(read(relative), str(relative), templates=TEMPLATE_IDS)


def compile_text(text: str, file: str = "inline.yaml") -> CompiledSop:
    return compile_sop(text, file, templates=TEMPLATE_IDS)


@functools.cache
def _bench_data() -> dict[str, Any]:
    data, _, issues = parse_yaml(read(BENCH), str(BENCH))
    assert not issues, issues
    return data  # type: ignore[no-any-return]


def bench_data() -> dict[str, Any]:
    """The bench SOP as plain data, a fresh copy each time, to build variants from."""
    return copy.deepcopy(_bench_data())


_PLAIN = re.compile(r"^[A-Za-z_][^:#{}\[\],&*!|\"\n]*$")
_YAML_WORDS = {"yes", "no", "on", "off", "y", "n", "true", "false", "null", "~"}


def _scalar(value: Any) -> str:
    """One YAML scalar: plain when YAML 1.2 reads it back as the same text, else quoted."""
    if isinstance(value, Mapping | list):
        return "{}" if isinstance(value, Mapping) else "[]"  # only empty ones get here
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float | date):
        return str(value)
    text = str(value)
    plain = _PLAIN.match(text) and text.lower() not in _YAML_WORDS and not text.endswith(" ")
    return text if plain else json.dumps(text, ensure_ascii=False)


def _nested(value: Any) -> bool:
    return isinstance(value, Mapping | list) and bool(value)


def _emit(value: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            if _nested(item):
                lines.append(f"{pad}{key}:")
                _emit(item, indent + 2, lines)
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
        return
    for item in value:
        if _nested(item):
            sub: list[str] = []
            _emit(item, indent + 2, sub)
            lines.append(f"{pad}- {sub[0].lstrip()}")
            lines.extend(sub[1:])
        else:
            lines.append(f"{pad}- {_scalar(item)}")


def to_yaml(data: Mapping[str, Any]) -> str:
    """Block-style YAML for ``data``: one key per line, so positions are easy to find."""
    lines: list[str] = []
    _emit(data, 0, lines)
    return "\n".join(lines) + "\n"


def bench_variant(change: Callable[[dict[str, Any]], object]) -> str:
    """The bench SOP, changed in place by ``change``, as YAML text."""
    data = bench_data()
    change(data)
    return to_yaml(data)


def issues_of(text: str, file: str = "variant.yaml") -> list[SopIssue]:
    """Every issue (errors and warnings) the loader and the linter find in ``text``."""
    _, issues = check_sop(text, file, templates=TEMPLATE_IDS)
    return issues


def codes(issues: Iterable[SopIssue]) -> list[str]:
    return [i.code for i in issues]


def position(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based (line, column) of the ``occurrence``-th ``needle`` in ``text``."""
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def label(text: str) -> dict[str, str]:
    return {"en": text, "fr": text, "ar": text}


# ---------------------------------------------------------------- an SOP for engine tests

LAB_SOP = """\
id: engine-lab
version: 1
effective_from: 2026-01-01
title: {en: Engine lab, fr: Laboratoire, ar: مختبر}
reference_prefix: LAB
authority: {id: lab-ministry, name: {en: Lab ministry, fr: Ministère, ar: وزارة}}
jurisdiction: EG
calendar: {timezone: Africa/Cairo, weekend: [friday, saturday], holidays: EG}
legal_basis:
  - {id: lab-law, citation: Lab law art. 1, summary: Everything the lab does.}
reason_codes:
  - {id: incomplete, label: {en: Incomplete, fr: Incomplet, ar: ناقص}}
  - {id: fraud, label: {en: Fraud, fr: Fraude, ar: احتيال}}
roles:
  - {id: applicant, kind: requester, scope: own_organisation,
     title: {en: Applicant, fr: Demandeur, ar: مقدم}}
  - {id: clerk, kind: official, scope: all, title: {en: Clerk, fr: Agent, ar: موظف}}
  - {id: chief, kind: official, scope: all, title: {en: Chief, fr: Chef, ar: رئيس}}
  - {id: system, kind: system, scope: all, title: {en: System, fr: Système, ar: النظام}}
  - {id: auditor, kind: auditor, scope: all, title: {en: Auditor, fr: Auditeur, ar: مراجع}}
fields:
  - {id: name, type: string, required: true, max_length: 50, label: {en: Name, fr: Nom, ar: اسم}}
  - {id: email, type: email, required: true, label: {en: E-mail, fr: Courriel, ar: بريد}}
  - {id: count, type: integer, required: true, min: 1, max: 10,
     label: {en: Count, fr: Nombre, ar: عدد}}
  - {id: wage, type: money, required: true, currencies: [USD, EGP], min: 0,
     label: {en: Wage, fr: Salaire, ar: أجر}}
  - {id: fee, type: money, required: true, min: 0, label: {en: Fee, fr: Frais, ar: عمولة}}
  - id: regime
    type: enum
    required: true
    label: {en: Regime, fr: Régime, ar: نظام}
    values:
      - {id: new, label: {en: New law, fr: Nouvelle loi, ar: جديد}}
      - {id: old, label: {en: Old law, fr: Ancienne loi, ar: قديم}}
  - id: application
    type: enum
    label: {en: Application, fr: Demande, ar: طلب}
    values:
      - {id: initial, label: {en: Initial, fr: Initiale, ar: أول}}
      - {id: renewal, label: {en: Renewal, fr: Renouvellement, ar: تجديد}}
  - {id: exempt, type: boolean, label: {en: Exempt, fr: Exempté, ar: معفى}}
  - {id: ref_no, type: string, max_length: 20, label: {en: Reference, fr: Référence, ar: مرجع}}
  - {id: start, type: date, label: {en: Start, fr: Début, ar: بداية}}
  - {id: end, type: date, label: {en: End, fr: Fin, ar: نهاية}}
  - {id: note, type: text, max_length: 20, label: {en: Note, fr: Note, ar: ملاحظة}}
documents:
  - {id: contract, media_types: [application/pdf], max_size_mb: 1,
     label: {en: Contract, fr: Contrat, ar: عقد}}
  - {id: passport, label: {en: Passport, fr: Passeport, ar: جواز}}
submission: {roles: [applicant], trigger: submit}
states:
  - {id: draft, initial: true, waiting_on: requester,
     label: {en: Draft, fr: Brouillon, ar: مسودة}}
  - id: review
    label: {en: Review, fr: Examen, ar: مراجعة}
    sla: {working_days: 2}
    on_breach: {notify: [{to: {role: chief}, template: deadline_breached}]}
  - id: decision
    label: {en: Decision, fr: Décision, ar: قرار}
    sla: {hours: 48}
    on_breach: {notify: [{to: {role: chief}, template: deadline_breached}]}
  - id: returned
    waiting_on: requester
    label: {en: Returned, fr: Renvoyé, ar: معاد}
    sla: {working_days: 10}
    on_breach: {trigger: expire}
  - {id: approved, final: approved, label: {en: Approved, fr: Approuvé, ar: موافق}}
  - {id: rejected, final: rejected, label: {en: Rejected, fr: Rejeté, ar: مرفوض}}
  - {id: expired, final: expired, label: {en: Expired, fr: Expiré, ar: منتهي}}
transitions:
  - trigger: submit
    label: {en: Submit, fr: Déposer, ar: تقديم}
    from: draft
    to: review
    roles: [applicant]
    requires:
      documents: [contract]
      rules:
        - agency_licence_valid
        - rule: worker_fee_within_cap
          params: {fee_field: fee, wage_field: wage, cap_percent: 1, regime_field: regime,
                   legacy_value: old, legacy_cap_percent: 2}
        - rule: renewal_allowed_once
          params: {type_field: application, exemption_field: exempt}
      conditions:
        - expr: count <= 5
          message: {en: At most 5 workers., fr: Au plus 5., ar: خمسة على الأكثر}
    notify:
      - {to: requester, template: request_submitted}
      - {to: {field: email}, template: request_submitted}
      - {to: {role: clerk}, template: action_required}
    legal_clause: lab-law
  - trigger: register
    label: {en: Register, fr: Enregistrer, ar: قيد}
    from: review
    to: decision
    roles: [clerk]
    requires: {fields: [ref_no]}
    sets: [ref_no, note]
  - trigger: return
    label: {en: Return, fr: Renvoyer, ar: إعادة}
    from: [review, decision]
    to: returned
    roles: [clerk, chief]
    requires: {reason: true, comment: true}
    reasons: [incomplete]
    notify: [{to: requester, template: returned_for_correction}]
  - trigger: resubmit
    label: {en: Resubmit, fr: Redéposer, ar: إعادة تقديم}
    from: returned
    to: review
    roles: [applicant]
    requires: {documents: [contract]}
  - trigger: approve
    label: {en: Approve, fr: Approuver, ar: موافقة}
    from: decision
    to: approved
    roles: [chief, clerk]
    distinct_from: [register]
    requires:
      rules:
        - rule: document_unchanged_since
          params: {document: contract, trigger: submit}
    notify: [{to: requester, template: request_approved}]
  - trigger: close
    label: {en: Close, fr: Clore, ar: إغلاق}
    from: decision
    to: rejected
    roles: [chief]
    requires:
      fields: [note]
      documents: [passport]
      comment: true
      reason: true
      rules:
        - rule: step_done
          params: {trigger: resubmit}
      conditions:
        - expr: count <= 2
          message: {en: Only small requests may be closed., fr: Petites demandes., ar: صغيرة}
        - expr: years_between(start, end) >= 1
          message: {en: At least one year., fr: Un an au moins., ar: سنة على الأقل}
    reasons: [incomplete, fraud]
  - trigger: expire
    label: {en: Expire, fr: Expirer, ar: انتهاء}
    from: returned
    to: expired
    roles: [system]
"""


def lab_sop() -> CompiledSop:
    return compile_text(LAB_SOP, "lab.yaml")


def lab_data(**overrides: Any) -> dict[str, Any]:
    """Valid data for every field the applicant fills in the lab SOP."""
    data: dict[str, Any] = {
        "name": "Nile Builders",
        "email": "hr@nile.example",
        "count": 3,
        "wage": {"amount": "1000", "currency": "USD"},
        "fee": {"amount": "0", "currency": "USD"},
        "regime": "new",
        "application": "initial",
    }
    data.update(overrides)
    return data


# ---------------------------------------------------------------- people and documents

_ids = itertools.count(1)


def fresh_id(prefix: str = "user") -> str:
    return f"{prefix}-{next(_ids)}"


def actor(*roles: str, id: str | None = None, organisation_id: str | None = "org-1") -> Actor:
    return Actor(id or fresh_id(), frozenset(roles), organisation_id)


def agency(**overrides: Any) -> OrganisationFacts:
    """An agency whose licence is active until the end of 2027."""
    values: dict[str, Any] = {
        "id": "agency-1",
        "kind": "agency",
        "licence_number": "LIC-001",
        "licence_status": "active",
        "licence_expires": date(2027, 12, 31),
    }
    values.update(overrides)
    return OrganisationFacts(**values)


def document_ref(
    kind: DocumentKind | str,
    *,
    content: str = "v1",
    media_type: str | None = None,
    size: int = 2_000,
) -> DocumentRef:
    """A document of ``kind``; the same kind and content always give the same hash."""
    kind_id = kind if isinstance(kind, str) else kind.id
    allowed = "application/pdf" if isinstance(kind, str) else kind.media_types[0]
    return DocumentRef(
        kind=kind_id,
        sha256=hashlib.sha256(f"{kind_id}:{content}".encode()).hexdigest(),
        file_name=f"{kind_id}.pdf",
        media_type=media_type or allowed,
        size=size,
    )


def documents_for(sop: CompiledSop, kinds: Iterable[str]) -> tuple[DocumentRef, ...]:
    by_id = {d.id: d for d in sop.spec.documents}
    return tuple(document_ref(by_id[k]) for k in kinds)


def at(day: int = 2, hour: int = 9, month: int = 3, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# ---------------------------------------------------------------- sample data for any SOP

SAMPLE_DATE = date(2026, 1, 15)
_TEXT_CANDIDATES = ("Sample value", "SAMPLE12345", "AB12345", "12345", "Sample", "x")


def _clamp(value: Any, low: Any, high: Any) -> Any:
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return value


def sample_value(spec: FieldSpec) -> Any:
    """A valid raw value for any field (checked against the field's own validation)."""
    if isinstance(spec, StringField):
        if spec.type == "email":
            candidates: list[Any] = ["applicant@example.org"]
        else:
            lo = spec.min_length or 0
            candidates = [c[: spec.max_length].ljust(lo, "X") for c in _TEXT_CANDIDATES]
    elif isinstance(spec, NumberField):
        number = _clamp(Decimal(1), spec.min, spec.max)
        candidates = [int(number) if spec.type == "integer" else str(number)]
    elif isinstance(spec, MoneyField):
        currency = spec.currencies[0] if spec.currencies else "USD"
        amount = _clamp(Decimal(1000), spec.min, spec.max)
        candidates = [{"amount": str(amount), "currency": currency}]
    elif isinstance(spec, DateField):
        candidates = [_clamp(SAMPLE_DATE, spec.min, spec.max).isoformat()]
    elif isinstance(spec, EnumField):
        candidates = [spec.values[0].id]
    else:
        assert isinstance(spec, SimpleField)
        candidates = [{"boolean": True, "country": "EG", "isco08": "7212", "isic": "C"}[spec.type]]
    for candidate in candidates:
        try:
            normalise_value(spec, candidate)
        except ValueError:
            continue
        return candidate
    raise AssertionError(f"no sample value fits field '{spec.id}' ({spec.type})")


def sample_data(
    sop: CompiledSop,
    names: Iterable[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Valid values for ``names`` (default: every field), with ``overrides`` applied."""
    chosen = list(sop.fields) if names is None else list(names)
    data = {name: sample_value(sop.fields[name]) for name in chosen}
    for name, value in (overrides or {}).items():
        if name in data:
            data[name] = value
    return data


def satisfying_overrides(sop: CompiledSop) -> dict[str, Any]:
    """Values, where the generic sample is not enough, that meet the shipped SOPs' rules and
    conditions: no fee charged to the worker, a contract of twelve months that starts after
    the day of filing and ends a year later."""
    overrides: dict[str, Any] = {}
    if "worker_fee" in sop.fields:
        overrides["worker_fee"] = {**sample_value(sop.fields["worker_fee"]), "amount": "0"}
    if "contract_end" in sop.fields:  # twelve months, starting after the tests' Monday
        overrides["contract_start"] = "2026-04-01"
        overrides["contract_end"] = "2027-03-31"
        overrides["contract_months"] = 12
    return overrides


def official_fields(sop: CompiledSop) -> set[str]:
    """Fields that a transition sets: filled in by the officials along the way."""
    return {name for tr in sop.spec.transitions for name in tr.sets}


def step_payload(
    sop: CompiledSop, tr: Transition, overrides: Mapping[str, Any] | None = None
) -> Payload:
    """Everything a step could ask for: its fields, the documents it needs that its first
    role may provide (the others come from their providers), a comment, a reason."""
    kinds = {d.id: d for d in sop.spec.documents}
    mine = [k for k in tr.requires.documents if may_provide(kinds[k], tr.roles[:1])]
    return Payload(
        data=sample_data(sop, tr.sets, overrides),
        documents=documents_for(sop, mine),
        comment="Checked against the file.",
        reason=tr.reasons[0] if tr.reasons else None,
    )


def provider_uploads(sop: CompiledSop, state: str, tr: Transition,
                     on_file: Iterable[str]) -> list[tuple[Actor, Payload]]:  # fmt: skip
    """Who adds, before ``tr`` fires from ``state``, the documents it needs that are not
    ``on_file`` and that its first role may not provide: an actor holding a provider role
    that may add documents in ``state``, with those files."""
    kinds = {d.id: d for d in sop.spec.documents}
    present = set(on_file)
    uploads: dict[str, list[str]] = {}
    for name in tr.requires.documents:
        kind = kinds[name]
        if name in present or may_provide(kind, tr.roles[:1]):
            continue
        role = next(iter(sorted(attach_roles(sop, state, kind.provided_by or ()))), None)
        assert role is not None, f"nobody may provide '{name}' in '{state}'"
        uploads.setdefault(role, []).append(name)
    return [(actor(role), Payload(documents=documents_for(sop, names)))
            for role, names in uploads.items()]  # fmt: skip


# ---------------------------------------------------------------- paths through an SOP

Edge = tuple[str, str, str]  # (source, trigger, target)


def edges(sop: CompiledSop) -> list[Edge]:
    return [(src, tr.trigger, tr.to) for tr in sop.spec.transitions for src in tr.source]


def shortest_path(sop: CompiledSop, start: str, goal: Callable[[str], bool]) -> list[Edge]:
    """The shortest list of edges from ``start`` to a state satisfying ``goal`` (BFS)."""
    previous: dict[str, Edge | None] = {start: None}
    queue = deque([start])
    while queue:
        state = queue.popleft()
        if goal(state):
            path: list[Edge] = []
            step = previous[state]
            while step is not None:
                path.append(step)
                step = previous[step[0]]
            return path[::-1]
        if sop.is_final(state):
            continue
        for src, trigger, target in edges(sop):
            if src == state and target not in previous:
                previous[target] = (src, trigger, target)
                queue.append(target)
    raise AssertionError(f"no path from '{start}' in {sop.spec.id}")
