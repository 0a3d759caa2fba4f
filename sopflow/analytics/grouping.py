"""Shared by the operations tables: their dimensions, row keys and row order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping
from datetime import datetime
from typing import Any, TypeVar

from sopflow.analytics.dimensions import check_by, period_key
from sopflow.analytics.model import Period, Query, Table
from sopflow.analytics.stays import Track, local_date
from states.machine import CompiledSop

OPEN_ROLE = "not yet acted"  # the role column of a stay nobody has ended yet

OPERATIONS_DIMENSIONS = {
    "sop": "the SOP (all its versions)",
    "stage": "the state (stage) of the SOP",
    "waiting_on": "who the stage waits on: authority, requester or third_party",
    "office": "the office handling the request (the SOP's statistics field 'office')",
    "organisation": "the organisation that filed the request",
    "role": "the role of whoever ended the stay or acted",
    "actor": "the official who acted (e-mail)",
    "trigger": "the step taken",
    "reason": "the reason code given",
    "period": "month, quarter or year (--period) of the date the table is about",
}
NEEDS_SOP = frozenset({"stage", "reason", "trigger"})  # their ids are only unique per SOP


def dimensions(by: Iterable[str], allowed: Iterable[str], default: tuple[str, ...],
               table: str) -> tuple[str, ...]:  # fmt: skip
    """The checked dimensions of an operations table; ``sop`` is added in front of a
    stage, reason or trigger asked for without it (the same id may mean another thing in
    another SOP)."""
    chosen = check_by(tuple(by) or default,
                      {d: OPERATIONS_DIMENSIONS[d] for d in allowed}, table)  # fmt: skip
    if NEEDS_SOP & set(chosen) and "sop" not in chosen:
        chosen = ("sop", *chosen)
    return chosen


def within(query: Query, sop: CompiledSop, moment: datetime) -> bool:
    """Whether ``moment`` falls on a day of the query's window (the SOP's local dates)."""
    return query.window.unbounded or query.window.contains(local_date(sop, moment))


class Keys:
    """Builds a row key from the values an item offers, for the chosen dimensions."""

    def __init__(self, by: tuple[str, ...], query: Query) -> None:
        self.by = by
        self.period: Period = query.period

    def __call__(self, track: Track, values: Mapping[str, str | None],
                 moment: datetime | None = None) -> tuple[str, ...]:  # fmt: skip
        key = []
        for dim in self.by:
            if dim == "sop":
                key.append(track.sop.spec.id)
            elif dim == "office":
                key.append(track.office)
            elif dim == "organisation":
                key.append(track.organisation)
            elif dim == "period":
                assert moment is not None
                key.append(period_key(local_date(track.sop, moment), self.period))
            elif dim == "waiting_on":
                state = track.sop.states.get(values.get("stage") or "")
                key.append(state.waiting_on if state else "authority")
            else:
                key.append(values.get(dim) or "")
        return tuple(key)


class Order:
    """Row order: stages in the order the SOP declares them, everything else by key."""

    def __init__(self, by: tuple[str, ...]) -> None:
        self.by = by
        self.stage_rank: dict[str, int] = {}

    def learn(self, sop: CompiledSop) -> None:
        if "stage" in self.by:
            for i, state in enumerate(sop.spec.states):
                self.stage_rank.setdefault(state.id, i)

    def sorted(self, keys: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
        stage = self.by.index("stage") if "stage" in self.by else -1

        def rank(key: tuple[str, ...]) -> tuple[tuple[int, str], ...]:
            return tuple((self.stage_rank.get(k, 999) if i == stage else 0, k)
                         for i, k in enumerate(key))  # fmt: skip

        return sorted(keys, key=rank)

    def merge(self, other: Order) -> None:
        for state, rank in other.stage_rank.items():
            self.stage_rank.setdefault(state, rank)


class Tally:
    """The base of the operations tables' accumulators: fed one request's track at a time
    (``add``), merged with the tallies of other slices of the log read in parallel
    (``merge``), turned into the table at the end (``table``). Plain data, so that a tally
    made in another process comes back pickled."""

    allowed: tuple[str, ...] = ()
    default: tuple[str, ...] = ("sop", "stage")
    name = ""

    def __init__(self, query: Query, now: datetime) -> None:
        self.query, self.now = query, now
        self.by = dimensions(query.by, self.allowed, self.default, self.name)
        self.keys, self.order = Keys(self.by, query), Order(self.by)
        self._learned: set[str] = set()

    def learn(self, sop: CompiledSop) -> None:
        if sop.content_hash not in self._learned:
            self._learned.add(sop.content_hash)
            self.order.learn(sop)

    def add(self, track: Track) -> None:
        raise NotImplementedError

    def merge(self, other: Any) -> None:
        self.order.merge(other.order)

    def table(self) -> Table:
        raise NotImplementedError


T = TypeVar("T", bound=Tally)


def tally_all(tally: T, tracks: Iterable[Track]) -> T:
    for track in tracks:
        tally.add(track)
    return tally


def merge_lists(into: MutableMapping[Any, list[Any]], other: Mapping[Any, list[Any]]) -> None:
    for key, items in other.items():
        into.setdefault(key, []).extend(items)


def merge_counts(into: MutableMapping[Any, Any], other: Mapping[Any, Any]) -> None:
    """Add ``other``'s numbers (or dicts of numbers) into ``into``."""
    for key, value in other.items():
        if isinstance(value, dict):
            merge_counts(into.setdefault(key, dict.fromkeys(value, 0)), value)
        else:
            into[key] = into.get(key, 0) + value
