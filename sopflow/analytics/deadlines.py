"""Deadline compliance: every stay in a stage with an ``sla``, judged against the deadline
the engine gave it, per stage and per role."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sopflow.analytics.aggregate import percentile, share
from sopflow.analytics.grouping import (
    OPEN_ROLE,
    Tally,
    merge_counts,
    merge_lists,
    tally_all,
    within,
)
from sopflow.analytics.model import Column, Query, Row, Table, rounded
from sopflow.analytics.stays import Stay, Track

DEADLINE_DIMENSIONS = ("sop", "stage", "waiting_on", "role", "office", "period")
MEASURES = (
    Column("due", "count", "stays whose deadline fell in the window and has been reached: "
           "met + missed + open_overdue"),
    Column("met", "count", "left the stage by its deadline"),
    Column("missed", "count", "left the stage after its deadline"),
    Column("open_overdue", "count", "still in the stage, deadline passed"),
    Column("compliance_pct", "percent", "met as a share of due"),
    Column("median_days_late", "days", "median days past the deadline of the missed stays"),
    Column("breaches_recorded", "count", "breach events the SLA sweep recorded on these "
           "stays (it runs periodically, so it may trail the computed figures)"),
    Column("escalated", "count", "stays ended by the SOP's on_breach trigger, fired by the "
           "system"),
    Column("pending", "count", "still in the stage, deadline not reached yet (not in due)"),
)  # fmt: skip
COUNTS = ("due", "met", "missed", "open_overdue", "breaches_recorded", "escalated", "pending")


def status(stay: Stay, now: datetime) -> str:
    """met | missed | open_overdue | pending, for a stay with a deadline."""
    assert stay.deadline is not None
    if stay.left_at is not None:
        return "met" if stay.left_at <= stay.deadline else "missed"
    return "open_overdue" if stay.deadline < now else "pending"


def _escalated(track: Track, stay: Stay) -> bool:
    spec = track.sop.states.get(stay.state)
    action = spec.on_breach if spec else None
    if stay.exit is None or action is None or action.trigger is None:
        return False
    role = track.sop.roles.get(stay.exit.role)
    return stay.exit.trigger == action.trigger and role is not None and role.kind == "system"


class Compliance(Tally):
    """Compliance of the stays whose deadline falls in the window (local deadline date)."""

    allowed, name = DEADLINE_DIMENSIONS, "deadlines"

    def __init__(self, query: Query, now: datetime) -> None:
        super().__init__(query, now)
        self.cells: dict[tuple[str, ...], dict[str, int]] = {}
        self.late: dict[tuple[str, ...], list[float]] = {}

    def add(self, track: Track) -> None:
        self.learn(track.sop)
        for stay in track.stays:
            if stay.deadline is None or not within(self.query, track.sop, stay.deadline):
                continue
            role = stay.exit.role if stay.exit is not None else OPEN_ROLE
            key = self.keys(track, {"stage": stay.state, "role": role}, stay.deadline)
            cell = self.cells.get(key)
            if cell is None:
                cell = self.cells[key] = dict.fromkeys(COUNTS, 0)
            kind = status(stay, self.now)
            cell[kind] += 1
            if kind != "pending":
                cell["due"] += 1
            if kind == "missed" and stay.left_at is not None:
                days = (stay.left_at - stay.deadline).total_seconds() / 86400.0
                self.late.setdefault(key, []).append(days)
            cell["breaches_recorded"] += stay.breaches
            cell["escalated"] += _escalated(track, stay)

    def merge(self, other: Compliance) -> None:
        super().merge(other)
        merge_counts(self.cells, other.cells)
        merge_lists(self.late, other.late)

    def table(self) -> Table:
        cells, late = self.cells, self.late
        rows = [Row(k, _values(cells[k], late.get(k, []))) for k in self.order.sorted(cells)]
        total = dict.fromkeys(COUNTS, 0)
        for cell in cells.values():
            for name in COUNTS:
                total[name] += cell[name]
        every_late = [d for days in late.values() for d in days]
        return Table(
            name="deadlines", title="Deadline compliance",
            definition="Stays in stages with a deadline (the SOP's sla on its working "
            "calendar, counted from entry as the engine does), whose deadline falls in the "
            "window (local date). role: who ended the stay, or 'not yet acted' while it lasts.",
            dimensions=self.by, measures=MEASURES, rows=rows,
            total=Row(("total",), _values(total, every_late)), query=self.query,
            summary={"due": total["due"],
                     "compliance_pct": _values(total, [])["compliance_pct"]},
        )  # fmt: skip


def deadlines(tracks: Iterable[Track], query: Query, now: datetime) -> Table:
    return tally_all(Compliance(query, now), tracks).table()


def _values(cell: dict[str, int], late: list[float]) -> dict[str, int | float | None]:
    return rounded({
        "due": cell["due"], "met": cell["met"], "missed": cell["missed"],
        "open_overdue": cell["open_overdue"], "compliance_pct": share(cell["met"], cell["due"]),
        "median_days_late": percentile(sorted(late), 0.5),
        "breaches_recorded": cell["breaches_recorded"], "escalated": cell["escalated"],
        "pending": cell["pending"]})  # fmt: skip
