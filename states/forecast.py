"""When a request can expect its decision: the latest date by which it reaches approval if
every remaining stage on the shortest way there takes its whole deadline. Pure.

The forecast is an upper bound that the SOP itself promises (its deadlines), not a guess
from past figures; where a stage on the way has no deadline, the SOP promises nothing and
neither do we (``None``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from states.machine import CompiledSop


def way_to_approval(sop: CompiledSop, state: str) -> list[str] | None:
    """The states after ``state`` on the shortest way to an approved final state, through
    steps people take (not the system's deadline steps); None if approval is out of reach."""
    system = {r.id for r in sop.spec.roles if r.kind == "system"}
    came_from: dict[str, str | None] = {state: None}
    queue = deque([state])
    while queue:
        current = queue.popleft()
        if sop.states[current].final == "approved":
            way = []
            while current != state:
                way.append(current)
                current = came_from[current]  # type: ignore[assignment]
            return way[::-1]
        if sop.is_final(current):
            continue
        for tr in sop.by_state[current].values():
            if tr.to not in came_from and not set(tr.roles) <= system:
                came_from[tr.to] = current
                queue.append(tr.to)
    return None


@dataclass(frozen=True, slots=True)
class Forecast:
    """The latest date of the decision; ``plus_requester_time``: stages on the way wait on
    the requester without a deadline, so the requester's own time comes on top."""

    at: datetime
    plus_requester_time: bool


def expected_decision(
    sop: CompiledSop, state: str, deadline: datetime | None, now: datetime
) -> Forecast | None:
    """The latest date of the decision if each stage from now on uses its full deadline:
    the current stage ends at ``deadline`` (or now plus its deadline when none is set),
    then each later stage adds its own, counted in the SOP's working-day calendar. A stage
    waiting on the requester without a deadline adds nothing but is flagged; any other
    stage without a deadline makes the date unknowable (None)."""
    way = way_to_approval(sop, state)
    if way is None or not way:
        return None
    moment, flagged = now, False
    for stage in [state, *way[:-1]]:  # the last one is the approved final state
        spec = sop.states[stage]
        if stage == state and deadline is not None:
            moment = deadline
        elif spec.sla is not None:
            moment = sop.calendar.deadline(moment, spec.sla)
        elif spec.waiting_on == "requester":
            flagged = True
        else:
            return None
    return Forecast(moment, flagged)
