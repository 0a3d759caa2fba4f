"""The SLA sweep: requests whose working-day deadline passed get their breach recorded and
the SOP's breach action applied (notices, escalation trigger), once per breach."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from sopflow.domain.access import system_actor
from sopflow.errors import CommandRejected
from sopflow.services.commands import Command, Commands, organisation_facts
from sopflow.services.context import Context
from sopflow.store.tables import Organisation, RequestRow
from states import engine, timers
from states.model import Payload
from states.model import RequestState as CoreState

requests = RequestRow.__table__  # type: ignore[attr-defined]
organisations = Organisation.__table__  # type: ignore[attr-defined]
BATCH = 500


@dataclass
class SweepReport:
    checked: int = 0
    breached: list[str] = field(default_factory=list)
    escalated: list[dict[str, str]] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "breached": self.breached, "warned": self.warned,
                "escalated": self.escalated, "failed": self.failed}  # fmt: skip


class Deadlines:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.commands = Commands(ctx)

    def _candidates(self, limit: int, *, overdue: bool) -> list[dict[str, Any]]:
        """Open requests whose deadline passed (``overdue``), or will pass within the longest
        warning window of the loaded SOPs, and whose breach is not recorded yet."""
        now = self.ctx.clock()
        window = max((s.sla.warn_before_hours or 0 for sop in self.ctx.sops.catalogue.versions
                      .values() for s in sop.spec.states if s.sla), default=0)  # fmt: skip
        due = (
            requests.c.deadline < now
            if overdue
            else sa.and_(
                requests.c.deadline >= now, requests.c.deadline <= now + timedelta(hours=window)
            )
        )
        stmt = (sa.select(requests, organisations.c.kind.label("o_kind"),
                          organisations.c.licence_number.label("o_licence_number"),
                          organisations.c.licence_status.label("o_licence_status"),
                          organisations.c.licence_expires.label("o_licence_expires"))
                .join(organisations, organisations.c.id == requests.c.organisation_id)
                .where(due, requests.c.breached.is_(False), requests.c.outcome.is_(None))
                .order_by(requests.c.deadline, requests.c.id).limit(limit))  # fmt: skip
        return self.ctx.store.select(stmt)

    def overdue(self, limit: int = BATCH) -> list[dict[str, Any]]:
        return self._candidates(limit, overdue=True)

    def sweep(self, *, flow_run_id: str | None = None, limit: int = BATCH) -> SweepReport:
        """Warn of near deadlines (once per stay) and breach passed ones (once per breach)."""
        report = SweepReport()
        for row in self._candidates(limit, overdue=False):
            try:
                self._warn(row, flow_run_id, report)
            except CommandRejected as exc:
                report.failed.append({"reference": row["reference"], "error": exc.message})
        for row in self.overdue(limit):
            report.checked += 1
            try:
                self._breach(row, flow_run_id, report)
            except CommandRejected as exc:  # e.g. a conflict: an official acted meanwhile
                report.failed.append({"reference": row["reference"], "error": exc.message})
        return report

    def _warn(self, row: dict[str, Any], flow_run_id: str | None, report: SweepReport) -> None:
        now = self.ctx.clock()
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        outcome = timers.warning(sop, CoreState.from_json(row["snapshot"]),
                                 system_actor(sop.spec), now)  # fmt: skip
        if outcome is not None:
            self.commands.append_outcomes(row, sop, [outcome], Command(flow_run_id=flow_run_id),
                                          now)  # fmt: skip
            report.warned.append(row["reference"])

    def _breach(self, row: dict[str, Any], flow_run_id: str | None, report: SweepReport) -> None:
        now = self.ctx.clock()
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        state = CoreState.from_json(row["snapshot"])
        system = system_actor(sop.spec)
        marked = timers.breach(sop, state, system, now)
        if marked is None:
            return
        outcomes = [marked]
        trigger = timers.escalation(sop, state)
        if trigger:
            org = {"id": row["organisation_id"], "kind": row["o_kind"],
                   "licence_number": row["o_licence_number"],
                   "licence_status": row["o_licence_status"],
                   "licence_expires": row["o_licence_expires"]}  # fmt: skip
            try:
                outcomes.append(engine.fire(sop, marked.state, trigger, system, Payload(), now,
                                            organisation=organisation_facts(org)))  # fmt: skip
            except CommandRejected as exc:
                report.failed.append(
                    {
                        "reference": row["reference"],
                        "error": f"escalation '{trigger}': {exc.message}",
                    }
                )
        self.commands.append_outcomes(row, sop, outcomes, Command(flow_run_id=flow_run_id), now)
        report.breached.append(row["reference"])
        if len(outcomes) > 1:
            report.escalated.append({"reference": row["reference"], "trigger": trigger or "",
                                     "state": outcomes[-1].state.state})  # fmt: skip
