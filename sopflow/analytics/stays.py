"""A request's stays in its states, rebuilt from its event sequence.

A stay begins when the request enters a state (its ``create`` event, or any transition
fired, self-transitions included, as the engine restarts the deadline then) and ends at the
next such event. ``attach``, ``breach`` and ``deadline_warning`` events do not end a stay:
the last two are counted on it. A final state has no stay (it absorbs). The deadline of a
stay is the engine's: the state's ``sla`` counted from the moment of entry on the calendar
of the SOP version the request is pinned to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sopflow.spec.models import Sla
from states.machine import CompiledSop
from states.model import ATTACH, BREACH, WARNING


class EventFact(NamedTuple):
    """The columns of one event the statistics read (``at`` in UTC)."""

    request_id: int
    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    actor_id: str
    role: str
    reason: str | None
    at: datetime


@dataclass(slots=True)
class Stay:
    state: str
    entered_at: datetime
    deadline: datetime | None
    left_at: datetime | None = None  # None: the request is still in this state
    exit: EventFact | None = None  # the event that ended the stay
    breaches: int = 0  # breach events recorded during the stay
    warnings: int = 0

    def days(self, now: datetime) -> float:
        """Elapsed days in the state: until it was left, or until ``now`` if still open."""
        end = self.left_at or now
        return (end - self.entered_at).total_seconds() / 86400.0


@dataclass(slots=True)
class Track:
    """One request's history as the operations statistics see it."""

    request_id: int
    sop: CompiledSop
    organisation: str
    filed_at: datetime
    outcome: str | None  # None: open
    events: Sequence[EventFact]
    stays: list[Stay] = field(default_factory=list)
    office: str = ""  # derived only when a table is broken down by office

    @property
    def open_stay(self) -> Stay | None:
        last = self.stays[-1] if self.stays else None
        return last if last is not None and last.left_at is None else None


@lru_cache(maxsize=1 << 16)
def _day_offset(zone: str, ordinal: int) -> timedelta | None:
    """The UTC offset of ``zone`` all through the UTC day ``ordinal``; None if it changes
    that day (a daylight-saving switch)."""
    day = date.fromordinal(ordinal)
    tz = ZoneInfo(zone)
    first = datetime(day.year, day.month, day.day, tzinfo=UTC).astimezone(tz).utcoffset()
    last = datetime(day.year, day.month, day.day, 23, 59, 59, 999999, tzinfo=UTC).astimezone(tz)
    return first if first == last.utcoffset() else None


def local_date(sop: CompiledSop, moment: datetime) -> date:
    """The date of ``moment`` in the SOP's time zone. The zone's offset is looked up once
    per UTC day (exact on the days a daylight-saving switch happens too): a million events
    cost an addition each instead of a time-zone conversion."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    zone = sop.spec.calendar.timezone
    offset = _day_offset(zone, moment.toordinal())
    if offset is None:
        return moment.astimezone(ZoneInfo(zone)).date()
    return (moment + offset).date()


class DeadlineClock:
    """The engine's deadline of a stay, memoised: a working-day deadline depends only on
    the local day of entry (the end of the N-th working day after it), so a million stays
    need a few thousand calendar walks."""

    def __init__(self) -> None:
        self._slas: dict[tuple[str, str], Sla | None] = {}
        self._memo: dict[tuple[str, int, date], datetime] = {}

    def __call__(self, sop: CompiledSop, state: str, entered: datetime) -> datetime | None:
        try:
            sla = self._slas[(sop.content_hash, state)]
        except KeyError:
            spec = sop.states.get(state)
            sla = self._slas[(sop.content_hash, state)] = spec.sla if spec else None
        if sla is None:
            return None
        if sla.hours is not None:
            return entered + timedelta(hours=sla.hours)
        days = sla.working_days or 0
        key = (sop.content_hash, days, local_date(sop, entered))
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = sop.calendar.add_working_days(entered, days)
        return found


def stays_of(sop: CompiledSop, events: Sequence[EventFact], clock: DeadlineClock) -> list[Stay]:
    """The stays of one request, from its events in ``seq`` order."""
    stays: list[Stay] = []
    current: Stay | None = None
    for ev in events:
        trigger = ev.trigger
        if trigger == ATTACH:
            continue
        if trigger in (BREACH, WARNING):
            if current is not None:
                if trigger == BREACH:
                    current.breaches += 1
                else:
                    current.warnings += 1
            continue
        if current is not None:
            current.left_at, current.exit = ev.at, ev
        spec = sop.states.get(ev.to_state)
        if spec is None or spec.final is not None:
            current = None
            continue
        current = Stay(ev.to_state, ev.at, clock(sop, ev.to_state, ev.at))
        stays.append(current)
    return stays
