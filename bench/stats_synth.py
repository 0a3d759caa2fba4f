"""A realistic synthetic event log for the statistics benchmark, written fast.

Requests of both shipped SOPs (Egyptian placements, Tunisian contract visas) are filed over
three years and walked through their real states: mostly forward, with returns for
correction (reason codes), resubmissions, re-examinations, refusals, withdrawals, deadline
warnings and breaches where a stay outlasts its deadline (escalations and expiries fired by
the system as the SOPs say), documents added, and requests still open at the end. Data
carry the SOPs' statistics fields (destinations, ISCO-08, ISIC, sex, birth dates, wages and
fees). Every hash is computed with the production chain functions: ``audit verify`` passes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sopflow.domain.chain import GENESIS, canonical_time, event_hash, link
from sopflow.domain.directory_log import ORG_ADDED, org_record
from sopflow.sop_files import compile_file, shipped_sop_dir
from sopflow.store import directory_log
from sopflow.store.db import make_engine, upgrade
from sopflow.store.queries import Writer
from sopflow.store.repository import Store
from states.machine import CompiledSop
from states.model import ATTACH, BREACH, CREATE, WARNING

START = datetime(2024, 1, 1, 7, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 8, tzinfo=UTC)  # the benchmark's "now" (ageing, open stays)
FORWARD = {
    "eg-mom-international-placement": ("submit", "attest_demand", "register_demand",
                                       "approve_demand", "submit_advertisement",
                                       "approve_advertisement", "record_selection",
                                       "attest_contract", "submit_visas", "issue_work_permit",
                                       "record_pdo_attendance"),
    "tn-dgpemoe-foreign-worker-contract": ("submit", "accept_filing", "submit_opinion",
                                           "endorse_opinion", "grant_visa"),
}  # fmt: skip
COUNTRIES_EG = ("SA", "SA", "SA", "AE", "AE", "KW", "QA", "JO", "IQ", "LB", "IT")
ISCO = ("7112", "7115", "9313", "5120", "8322", "7411", "2221", "3221", "9412", "7231", "5131")
ISIC = ("41", "42", "55", "56", "86", "49", "01", "10", "43", "62")
CITIZENS_TN = ("SN", "CI", "MA", "FR", "IT", "CN", "TR", "EG", "DZ", "CM", "DE", "ML")
OFFICIALS_PER_ROLE = 6


@dataclass
class Plan:
    sop: CompiledSop
    requesters: list[tuple[str, str]]  # (organisation, e-mail)
    actors: dict[str, list[str]] = field(default_factory=dict)


def _money(amount: float, currency: str, places: int = 2) -> dict[str, str]:
    return {"amount": f"{amount:.{places}f}", "currency": currency}


def _data(rng: random.Random, sop_id: str) -> dict[str, Any]:
    if sop_id.startswith("eg-"):
        wage = rng.randint(400, 2200)
        fee = 0.0 if rng.random() < 0.8 else round(wage * 12 * rng.uniform(0.001, 0.01), 2)
        return {"employer_name": f"Employer {rng.randint(1, 400)}",
                "employer_country": (c := rng.choice(COUNTRIES_EG)), "destination_country": c,
                "occupation": rng.choice(ISCO), "industry": rng.choice(ISIC),
                "workers_requested": rng.randint(1, 120), "monthly_wage": _money(wage, "USD"),
                "worker_fee": _money(fee, "USD"), "legal_regime": "law_14_2025",
                "placement_channel": rng.choice(("licensed_agency", "licensed_agency",
                                                 "labour_attache", "public_office")),
                "contract_months": rng.choice((12, 24, 24, 36)), "job_description": "Work.",
                "contact_email": "hr@employer.example"}  # fmt: skip
    born = date(rng.randint(1962, 2004), rng.randint(1, 12), rng.randint(1, 28))
    return {"application_type": "initial", "approved_project_exemption": False,
            "enterprise_name": "Enterprise", "enterprise_tax_id": "1234567ABC000",
            "contact_email": "rh@enterprise.example", "aneti_attestation_number": "A-1",
            "aneti_attestation_date": "2024-01-01", "worker_full_name": "Worker",
            "sex": rng.choice(("female", "male", "male")), "birth_date": born.isoformat(),
            "citizenship": rng.choice(CITIZENS_TN),
            "passport_number": f"P{rng.randint(10**6, 10**7)}",
            "education_level": rng.choice(("isced_1_2", "isced_3_4", "isced_5_8", "isced_5_8")),
            "occupation": rng.choice(ISCO), "job_title": "Job", "industry": rng.choice(ISIC),
            "governorate": "tunis", "monthly_wage": _money(rng.randint(1500, 9000), "TND", 3),
            "worker_fee": _money(0, "TND", 3), "contract_start": "2025-01-01",
            "contract_end": "2025-12-31", "contract_months": 12}  # fmt: skip


class Walker:
    """Walks one request through its SOP, yielding (trigger, from, to, role, at, reason)."""

    def __init__(self, rng: random.Random, sop: CompiledSop) -> None:
        self.rng, self.sop = rng, sop
        self.forward = FORWARD[sop.spec.id]

    def _choices(self, state: str) -> list[tuple[str, float]]:
        options = self.sop.by_state[state]
        weighted = []
        for trigger, tr in options.items():
            target = self.sop.states[tr.to]
            kinds = {self.sop.roles[r].kind for r in tr.roles}
            if kinds == {"system"}:
                continue  # fired by the sweep only
            if trigger in self.forward or trigger == "resubmit":
                weighted.append((trigger, 0.86))
            elif tr.requires.reason and target.final is None:
                weighted.append((trigger, 0.08))
            elif target.final == "rejected":
                weighted.append((trigger, 0.03))
            elif target.final == "withdrawn":
                weighted.append((trigger, 0.015))
            else:
                weighted.append((trigger, 0.04))  # re-examination, ...
        return weighted

    def _stay_days(self, state: str) -> float:
        sla = self.sop.states[state].sla
        if state == self.sop.initial:
            return 0.0
        if sla is None:
            return self.rng.uniform(1, 45)
        typical = (sla.working_days or 0) * 1.4 or (sla.hours or 24) / 24
        return self.rng.lognormvariate(0, 0.55) * typical * 0.55

    def walk(self, filed: datetime) -> list[tuple[str, str | None, str, str, datetime, str | None]]:
        sop, rng = self.sop, self.rng
        steps: list[tuple[str, str | None, str, str, datetime, str | None]] = []
        requester = next(iter(sop.requester_roles))
        steps.append((CREATE, None, sop.initial, requester, filed, None))
        state, entered = sop.initial, filed
        while not sop.is_final(state):
            spec = sop.states[state]
            leave = entered + timedelta(days=self._stay_days(state))
            deadline = sop.calendar.deadline(entered, spec.sla) if spec.sla else None
            if deadline is not None and spec.sla and spec.sla.warn_before_hours:
                warn = deadline - timedelta(hours=spec.sla.warn_before_hours)
                if entered < warn < leave and warn < NOW:
                    steps.append((WARNING, state, state, "system", warn, None))
            if rng.random() < 0.08 and entered + timedelta(hours=2) < min(leave, NOW):
                steps.append((ATTACH, state, state, requester, entered + timedelta(hours=2), None))
            if deadline is not None and deadline < leave:
                lag = deadline + timedelta(minutes=rng.randint(1, 5))
                if lag >= NOW:
                    break
                steps.append((BREACH, state, state, "system", lag, None))
                action = spec.on_breach
                if action is not None and action.trigger:
                    target = sop.by_state[state][action.trigger].to
                    steps.append((action.trigger, state, target, "system", lag, None))
                    state, entered = target, lag
                    continue
            if leave >= NOW:
                break  # still open
            choices = self._choices(state)
            trigger = rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
            tr = sop.by_state[state][trigger]
            role = next((r for r in tr.roles if sop.roles[r].kind != "system"), tr.roles[0])
            reason = rng.choice(tr.reasons) if tr.requires.reason and tr.reasons else None
            steps.append((trigger, state, tr.to, role, leave, reason))
            state, entered = tr.to, leave
        return steps


def fill(url: str, events: int, seed: int = 20261130) -> dict[str, int]:
    rng = random.Random(seed)
    folder = shipped_sop_dir()
    sops = [compile_file(p) for p in sorted(folder.glob("*.yaml"))]
    engine = make_engine(url)
    upgrade(engine)
    store = Store(engine)
    plans = [Plan(sops[0], [(f"eg-agency-{i}", f"agent@eg-agency-{i}.bench") for i in range(30)]),
             Plan(sops[1], [(f"tn-firm-{i}", f"rh@tn-firm-{i}.bench")
                            for i in range(60)])]  # fmt: skip
    with store.write() as w:
        _directory(w, plans)
    walkers = [Walker(rng, p.sop) for p in plans]
    made = requests = 0
    head = (0, GENESIS)
    span = (NOW - START).total_seconds()
    while made < events:
        with store.write() as w:
            for _ in range(2000):
                which = 0 if rng.random() < 0.55 else 1
                filed = START + timedelta(seconds=rng.uniform(0, span))
                steps = walkers[which].walk(filed)
                head = _write(w, plans[which], rng, requests, steps, head)
                made += len(steps)
                requests += 1
                if made >= events:
                    break
            w.execute("UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = 1",
                      {"s": head[0], "h": head[1]})  # fmt: skip
    engine.dispose()
    return {"events": made, "requests": requests}


def _directory(w: Writer, plans: list[Plan]) -> None:
    for plan in plans:
        spec = plan.sop.spec
        _organisation(w, {"id": spec.authority.id, "name": spec.authority.name.en,
                          "kind": "authority", "created_at": START})  # fmt: skip
        for org, _ in plan.requesters:
            _organisation(w, {"id": org, "name": org, "kind": "agency", "created_at": START})
        for role in spec.roles:
            plan.actors[role.id] = [f"{role.id}-{i}@{spec.authority.id}.bench"
                                    for i in range(OFFICIALS_PER_ROLE)]  # fmt: skip
        w.insert("sop_versions", {"sop_id": spec.id, "version": spec.version,
                                  "content_hash": plan.sop.content_hash, "text": plan.sop.text,
                                  "source": plan.sop.file, "published_at": START})  # fmt: skip


def _organisation(w: Writer, row: dict[str, Any]) -> None:
    """An organisation, recorded in the directory log as sopflow records it."""
    w.insert("organisations", row)
    directory_log.record(w, START, "bench", ORG_ADDED, row["id"], org_record(row))


def _write(w: Writer, plan: Plan, rng: random.Random, number: int,
           steps: list[tuple[str, str | None, str, str, datetime, str | None]],
           head: tuple[int, str]) -> tuple[int, str]:  # fmt: skip
    sop, spec = plan.sop, plan.sop.spec
    org, requester = rng.choice(plan.requesters)
    data = _data(rng, spec.id)
    last = steps[-1]
    final = sop.states[last[2]].final
    if spec.id.startswith("eg-") and any(s[0] == "record_selection" for s in steps):
        data["workers_selected"] = rng.randint(1, data["workers_requested"])
    reference = f"{spec.reference_prefix}-{steps[0][4].year}-{number + 1:07d}"
    request_id = w.insert("requests", {
        "reference": reference, "sop_id": spec.id, "sop_version": spec.version,
        "sop_hash": sop.content_hash, "organisation_id": org, "created_by": requester,
        "state": last[2], "outcome": final,
        "snapshot": {"state": last[2], "data": data, "seq": len(steps)}, "seq": len(steps),
        "last_hash": "", "deadline": None, "breached": False, "version": len(steps),
        "created_at": steps[0][4], "updated_at": last[4]}, returning=True)  # fmt: skip
    prev, (chain_seq, chain_prev) = GENESIS, head
    rows = []
    for seq, (trigger, src, dst, role, at, reason) in enumerate(steps, start=1):
        if role == "system":
            actor = "system"
        elif sop.roles[role].kind == "requester":
            actor = requester
        else:
            actor = rng.choice(plan.actors[role])
        payload: dict[str, Any] = {"data": data} if trigger == CREATE else {}
        if trigger == "record_selection":
            payload = {"data": {"workers_selected": data.get("workers_selected", 1)}}
        tr = sop.by_state.get(src or "", {}).get(trigger)
        fields = {"seq": seq, "trigger": trigger, "from_state": src, "to_state": dst,
                  "actor_id": actor, "role": role, "acting_for": None, "payload": payload,
                  "comment": "See the reason." if reason else None, "reason": reason,
                  "legal_clause": tr.legal_clause if tr else None, "sop_id": spec.id,
                  "sop_version": spec.version, "sop_hash": sop.content_hash, "at": at,
                  "flow_run_id": None}  # fmt: skip
        own = event_hash({**fields, "reference": reference, "prev_hash": prev,
                          "at": canonical_time(at)})  # fmt: skip
        chain_seq += 1
        chained = link(chain_prev, own)
        rows.append(
            {
                **fields,
                "request_id": request_id,
                "prev_hash": prev,
                "hash": own,
                "chain_seq": chain_seq,
                "chain_prev": chain_prev,
                "chain_hash": chained,
            }
        )
        prev, chain_prev = own, chained
    w.insert_many("events", rows)
    w.execute("UPDATE requests SET last_hash = :h WHERE id = :id", {"h": prev, "id": request_id})
    return chain_seq, chain_prev
