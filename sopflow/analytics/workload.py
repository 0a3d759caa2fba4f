"""Officials' workload: what each official (or role) did in the window, how fast, and what
waits for each role now."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sopflow.analytics.aggregate import percentile
from sopflow.analytics.grouping import Tally, tally_all, within
from sopflow.analytics.model import Column, Query, Row, Table, rounded
from sopflow.analytics.notes import note
from sopflow.analytics.returns import ReturnRule
from sopflow.analytics.stays import Track
from states.machine import CompiledSop

WORKLOAD_DIMENSIONS = ("actor", "role", "sop", "trigger", "office", "period")
MEASURES = (
    Column("actions", "count", "events recorded by officials in the window (steps and "
           "documents added)"),
    Column("requests", "count", "distinct requests they acted on"),
    Column("returns", "count", "returns for correction among the actions"),
    Column("final_decisions", "count", "actions that closed a request (approval, refusal)"),
    Column("median_days_to_act", "days", "median elapsed days of the stays their steps "
           "ended (from the request entering the stage)"),
    Column("late", "count", "stays their steps ended after the stage's deadline"),
)  # fmt: skip


class _Cell:
    __slots__ = ("actions", "days", "final", "late", "requests", "returns")

    def __init__(self) -> None:
        self.actions = self.returns = self.final = self.late = 0
        self.requests: set[int] = set()
        self.days: list[float] = []

    def merge(self, other: _Cell) -> None:
        self.actions += other.actions
        self.returns += other.returns
        self.final += other.final
        self.late += other.late
        self.requests |= other.requests
        self.days += other.days

    def values(self) -> dict[str, int | float | None]:
        return rounded({"actions": self.actions, "requests": len(self.requests),
                        "returns": self.returns, "final_decisions": self.final,
                        "median_days_to_act": percentile(sorted(self.days), 0.5),
                        "late": self.late})  # fmt: skip


class Workload(Tally):
    """Actions of users acting in an official role, by the local date of the action; and
    the open requests each official role may move on now (``summary["queue_now"]``)."""

    allowed, default, name = WORKLOAD_DIMENSIONS, ("actor", "role"), "workload"

    def __init__(self, query: Query, now: datetime) -> None:
        super().__init__(query, now)
        self.rule = ReturnRule()
        self.cells: dict[tuple[str, ...], _Cell] = {}
        self.queue: dict[tuple[str, str], list[int]] = {}

    def add(self, track: Track) -> None:
        sop = track.sop
        self.learn(sop)
        ended = {id(s.exit): s for s in track.stays if s.exit is not None}
        for ev in track.events:
            role = sop.roles.get(ev.role)
            if role is None or role.kind != "official" or not within(self.query, sop, ev.at):
                continue
            values = {"actor": ev.actor_id, "role": ev.role, "trigger": ev.trigger}
            key = self.keys(track, values, ev.at)
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = _Cell()
            cell.actions += 1
            cell.requests.add(track.request_id)
            cell.returns += self.rule.is_return(sop, ev)
            target = sop.states.get(ev.to_state)
            cell.final += bool(target and target.final and ev.from_state != ev.to_state)
            stay = ended.get(id(ev))
            if stay is not None and stay.left_at is not None:
                cell.days.append(stay.days(self.now))
                cell.late += bool(stay.deadline and stay.left_at > stay.deadline)
        _enqueue(track, self.now, self.queue)

    def merge(self, other: Workload) -> None:
        super().merge(other)
        for key, cell in other.cells.items():
            self.cells.setdefault(key, _Cell()).merge(cell)
        for key, (n, late) in other.queue.items():
            counts = self.queue.setdefault(key, [0, 0])
            counts[0] += n
            counts[1] += late

    def table(self) -> Table:
        rows = [Row(k, self.cells[k].values()) for k in self.order.sorted(self.cells)]
        total = _Cell()
        for cell in self.cells.values():
            total.merge(cell)
        return Table(
            name="workload", title="Officials' workload",
            definition="Events recorded by users acting in an official role (not requesters, "
            "auditors or the system), by the local date of the event.",
            dimensions=self.by, measures=MEASURES, rows=rows,
            total=Row(("total",), total.values()),
            summary={"queue_now": _queue_summary(self.queue)}, query=self.query,
            notes=[note("queue-now")],
        )  # fmt: skip


def workload(tracks: Iterable[Track], query: Query, now: datetime) -> Table:
    return tally_all(Workload(query, now), tracks).table()


def expected_roles(sop: CompiledSop, state: str) -> frozenset[str]:
    """The official roles a request in ``state`` waits for: those with a step to a next
    stage (or, where every step is a decision, those who decide); none while the state
    waits on the requester or a third party. (A director who may close a file at most
    stages is not waited for at each of them.)"""
    spec = sop.states.get(state)
    if spec is None or spec.waiting_on != "authority":
        return frozenset()
    onward: set[str] = set()
    deciding: set[str] = set()
    for tr in sop.by_state.get(state, {}).values():
        officials = {r for r in tr.roles if (role := sop.roles.get(r)) and role.kind == "official"}
        target = sop.states.get(tr.to)
        (deciding if target is not None and target.final else onward).update(officials)
    return frozenset(onward or deciding)


def _enqueue(track: Track, now: datetime, queue: dict[tuple[str, str], list[int]]) -> None:
    stay = track.open_stay
    if track.outcome is not None or stay is None:
        return
    sop = track.sop
    overdue = stay.deadline is not None and stay.deadline < now
    for role in expected_roles(sop, stay.state):
        counts = queue.setdefault((sop.spec.id, role), [0, 0])
        counts[0] += 1
        counts[1] += overdue


def _queue_summary(queue: dict[tuple[str, str], list[int]]) -> list[dict[str, Any]]:
    return [{"sop": sop, "role": role, "open": n, "overdue": late}
            for (sop, role), (n, late) in sorted(queue.items())]  # fmt: skip
