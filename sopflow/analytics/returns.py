"""Returns for correction: how often each stage sends a request back, and why.

A return is a transition that needs a reason code and leads to a non-final state waiting
on the requester (in the shipped SOPs: every ``return_for_correction``). Its rate is
counted over the stays that left a stage able to return requests.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sopflow.analytics.aggregate import share
from sopflow.analytics.grouping import Tally, merge_counts, tally_all, within
from sopflow.analytics.model import Column, Query, Row, Table, rounded
from sopflow.analytics.notes import note
from sopflow.analytics.stays import EventFact, Track
from states.machine import CompiledSop

RETURN_DIMENSIONS = ("sop", "stage", "reason", "role", "office", "period")
MEASURES = (
    Column("exits", "count", "stays that left a stage able to return requests, in the "
           "window (whatever the step); for a row by reason, those of its other dimensions"),
    Column("returns", "count", "of which returned for correction"),
    Column("return_rate_pct", "percent", "returns as a share of exits"),
)  # fmt: skip


class ReturnRule:
    """Which steps are returns, and which stages can return, per SOP version (memoised)."""

    def __init__(self) -> None:
        self._returns: dict[tuple[str, str, str], bool] = {}
        self._stages: dict[str, frozenset[str]] = {}

    def is_return(self, sop: CompiledSop, ev: EventFact) -> bool:
        if ev.from_state is None:
            return False
        key = (sop.content_hash, ev.from_state, ev.trigger)
        found = self._returns.get(key)
        if found is None:
            tr = sop.by_state.get(ev.from_state, {}).get(ev.trigger)
            found = tr is not None and _returns_to_requester(sop, tr.to, tr.requires.reason)
            self._returns[key] = found
        return found

    def stages(self, sop: CompiledSop) -> frozenset[str]:
        found = self._stages.get(sop.content_hash)
        if found is None:
            found = self._stages[sop.content_hash] = frozenset(
                src for tr in sop.spec.transitions
                if _returns_to_requester(sop, tr.to, tr.requires.reason) for src in tr.source
            )  # fmt: skip
        return found


def _returns_to_requester(sop: CompiledSop, target: str, needs_reason: bool) -> bool:
    state = sop.states.get(target)
    return bool(needs_reason and state and state.final is None and state.waiting_on == "requester")


class Returns(Tally):
    allowed, name = RETURN_DIMENSIONS, "returns"

    def __init__(self, query: Query, now: datetime | None = None) -> None:
        super().__init__(query, now or datetime.min.replace(tzinfo=UTC))  # "now" is not used
        self.reason_at = self.by.index("reason") if "reason" in self.by else -1
        self.rule = ReturnRule()
        self.exits: dict[tuple[str, ...], int] = {}  # by the dimensions other than reason
        self.counted: dict[tuple[str, ...], int] = {}
        self.decided = self.returned_ever = 0

    def _base(self, key: tuple[str, ...]) -> tuple[str, ...]:
        at = self.reason_at
        return key[:at] + key[at + 1 :] if at >= 0 else key

    def add(self, track: Track) -> None:
        sop, query, rule = track.sop, self.query, self.rule
        self.learn(sop)
        returnable = rule.stages(sop)
        was_returned = False
        for stay in track.stays:
            ev = stay.exit
            if ev is None or stay.state not in returnable:
                continue
            back = rule.is_return(sop, ev)
            was_returned = was_returned or back
            if not within(query, sop, ev.at):
                continue
            reason = (ev.reason or "") if back else ""
            key = self.keys(track, {"stage": stay.state, "role": ev.role, "reason": reason}, ev.at)
            base = self._base(key)
            self.exits[base] = self.exits.get(base, 0) + 1
            if back:
                self.counted[key] = self.counted.get(key, 0) + 1
            elif self.reason_at < 0:
                self.counted.setdefault(key, 0)
        if track.outcome is not None and track.events and within(query, sop, track.events[-1].at):
            self.decided += 1
            self.returned_ever += was_returned

    def merge(self, other: Returns) -> None:
        super().merge(other)
        merge_counts(self.exits, other.exits)
        merge_counts(self.counted, other.counted)
        self.decided += other.decided
        self.returned_ever += other.returned_ever

    def table(self) -> Table:
        rows = [Row(key, _values(self.exits[self._base(key)], self.counted[key]))
                for key in self.order.sorted(self.counted)]  # fmt: skip
        total_exits, total_returns = sum(self.exits.values()), sum(self.counted.values())
        return Table(
            name="returns", title="Returns for correction",
            definition="Steps that sent a request back to its requester with a reason, as a "
            "share of the stays that left a stage able to do so, by the local date of the step.",
            dimensions=self.by, measures=MEASURES, rows=rows,
            total=Row(("total",), _values(total_exits, total_returns)), query=self.query,
            summary={"decided": self.decided, "returned_at_least_once": self.returned_ever,
                     "first_time_right_pct": _first_time_right(self.decided,
                                                               self.returned_ever)},
            notes=[note("first-time-right")],
        )  # fmt: skip


def returns(tracks: Iterable[Track], query: Query) -> Table:
    return tally_all(Returns(query), tracks).table()


def _first_time_right(decided: int, returned: int) -> float | None:
    rate = share(decided - returned, decided)
    return None if rate is None else round(rate, 2)


def _values(exits: int, returned: int) -> dict[str, int | float | None]:
    return rounded({"exits": exits, "returns": returned,
                    "return_rate_pct": share(returned, exits)})  # fmt: skip
