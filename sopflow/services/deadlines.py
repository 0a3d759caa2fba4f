"""The SLA sweep: requests whose working-day deadline passed get their breach recorded and
the SOP's breach action applied (notices, escalation trigger), once per breach; near ones
their warning, once per stay.

What the sweep does to each request is decided by one pure function
(``states.timers.sweep_step``) given the moment: ``sweep`` records it now, ``preview``
reports what a sweep at another moment would do and records nothing, sends nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sopflow.domain.access import system_actor
from sopflow.errors import CommandRejected
from sopflow.services.commands import Command, Commands, organisation_facts
from sopflow.services.context import Context
from sopflow.store.tables import Organisation, RequestRow
from states import timers
from states.machine import CompiledSop
from states.model import OrganisationFacts
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
    # a preview: its moment as asked, and each request listed with its stage, its deadline
    # and the moment on its SOP's calendar (ISO 8601, in the SOP's time zone)
    at: datetime | None = None
    requests: dict[str, dict[str, str]] | None = None

    def add(self, reference: str, step: timers.SweepStep) -> None:
        (self.warned if step.kind == "warning" else self.breached).append(reference)
        if step.escalated_to is not None:
            self.escalated.append({"reference": reference, "trigger": step.escalation or "",
                                   "state": step.escalated_to})  # fmt: skip
        elif step.refused is not None:
            error = f"escalation '{step.escalation}': {step.refused}"
            self.failed.append({"reference": reference, "error": error})

    def to_dict(self) -> dict[str, Any]:
        found = {"checked": self.checked, "breached": self.breached, "warned": self.warned,
                 "escalated": self.escalated, "failed": self.failed}  # fmt: skip
        if self.requests is None:
            return found
        at = self.at.isoformat() if self.at is not None else None
        return {"dry_run": True, "at": at, **found, "requests": self.requests}


class Deadlines:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.commands = Commands(ctx)

    def _candidates(self, limit: int, *, overdue: bool, at: datetime) -> list[dict[str, Any]]:
        """Open requests whose deadline passed at ``at`` (``overdue``), or will pass within
        the longest warning window of the loaded SOPs, and whose breach is not recorded yet.
        ``at`` without a time zone is read on each SOP version's calendar."""
        versions = self.ctx.sops.catalogue.versions.values()
        window = timedelta(hours=max((s.sla.warn_before_hours or 0 for sop in versions
                                      for s in sop.spec.states if s.sla), default=0))  # fmt: skip

        def due(when: datetime) -> Any:
            if overdue:
                return requests.c.deadline < when
            return sa.and_(requests.c.deadline >= when, requests.c.deadline <= when + window)

        where = due(at) if at.tzinfo is not None else sa.or_(sa.false(), *(
            sa.and_(requests.c.sop_id == sop.spec.id, requests.c.sop_version == sop.spec.version,
                    due(timers.sweep_moment(sop, at))) for sop in versions))  # fmt: skip
        stmt = (sa.select(requests, organisations.c.kind.label("o_kind"),
                          organisations.c.licence_number.label("o_licence_number"),
                          organisations.c.licence_status.label("o_licence_status"),
                          organisations.c.licence_expires.label("o_licence_expires"))
                .join(organisations, organisations.c.id == requests.c.organisation_id)
                .where(where, requests.c.breached.is_(False), requests.c.outcome.is_(None))
                .order_by(requests.c.deadline, requests.c.id).limit(limit))  # fmt: skip
        return self.ctx.store.select(stmt)

    def sweep(self, *, flow_run_id: str | None = None, limit: int = BATCH) -> SweepReport:
        """Warn of near deadlines (once per stay) and breach passed ones (once per breach),
        each request's events dated when they are recorded."""
        return self._sweep(self.ctx.clock(), limit, Command(flow_run_id=flow_run_id))

    def preview(self, at: datetime | None = None, limit: int = BATCH) -> SweepReport:
        """What a sweep at ``at`` (default now; without a time zone, that time on each SOP's
        calendar) would warn, breach and escalate, on the requests as they are now:
        nothing is recorded and nothing sent."""
        moment = at or self.ctx.clock()
        return self._sweep(moment, limit, None, SweepReport(at=moment, requests={}))

    def _sweep(self, at: datetime, limit: int, record: Command | None,
               report: SweepReport | None = None) -> SweepReport:  # fmt: skip
        report = report or SweepReport()
        for overdue in (False, True):  # the near deadlines, then the passed ones
            for row in self._candidates(limit, overdue=overdue, at=at):
                report.checked += overdue
                try:
                    self._one(row, at, record, report)
                except CommandRejected as exc:  # e.g. a conflict: an official acted meanwhile
                    report.failed.append({"reference": row["reference"], "error": exc.message})
        return report

    def _one(self, row: dict[str, Any], at: datetime, record: Command | None,
             report: SweepReport) -> None:  # fmt: skip
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        # recorded: dated when it is recorded; previewed: at the moment asked
        now = self.ctx.clock() if record is not None else timers.sweep_moment(sop, at)
        step = timers.sweep_step(sop, CoreState.from_json(row["snapshot"]),
                                 system_actor(sop.spec), now, _organisation(row))  # fmt: skip
        if step is None:
            return
        if record is not None:
            self.commands.append_outcomes(row, sop, list(step.outcomes), record, now)
        report.add(row["reference"], step)
        if report.requests is not None:
            report.requests[row["reference"]] = _listed(row, sop, now)


def _organisation(row: dict[str, Any]) -> OrganisationFacts | None:
    return organisation_facts({"id": row["organisation_id"], "kind": row["o_kind"],
                               "licence_number": row["o_licence_number"],
                               "licence_status": row["o_licence_status"],
                               "licence_expires": row["o_licence_expires"]})  # fmt: skip


def _listed(row: dict[str, Any], sop: CompiledSop, at: datetime) -> dict[str, str]:
    zone = sop.calendar.zone
    deadline = row["deadline"]
    return {"sop": row["sop_id"], "state": row["state"],
            "deadline": deadline.astimezone(zone).isoformat() if deadline else "",
            "at": at.astimezone(zone).isoformat()}  # fmt: skip
