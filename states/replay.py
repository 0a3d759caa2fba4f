"""Rebuild a request from its events through its pinned SOP version. Pure.

Replay does not re-run guards that depended on facts outside the request at the moment of
the step (an organisation's licence, a rule's figures), which the events record (their
``grounds`` and ``flags``); it
re-applies each recorded step and reports every event that the SOP version could not have
produced: a wrong sequence number, a trigger that does not leave the state the request was
in, a different target state, a role that may not fire it, the same person on both sides of
a separation of duties, and a step dated well before the step it follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from states.engine import advance, enter
from states.machine import CompiledSop
from states.model import ATTACH, BREACH, CREATE, WARNING, DocumentRef, EventRecord, RequestState

# Two commands on one request may take their moments a little before they write (a command
# reads its clock, then loads the request): a step can then be dated a moment before the step
# recorded just ahead of it. Beyond this, the date was not the system's own.
CLOCK_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class ReplayResult:
    state: RequestState | None
    applied: int
    anomalies: tuple[str, ...] = field(default_factory=tuple)

    @property
    def consistent(self) -> bool:
        return not self.anomalies


def _apply_change(state: RequestState, event: EventRecord) -> RequestState:
    data = dict(state.data)
    for key, value in (event.payload.get("data") or {}).items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    docs = tuple(DocumentRef.from_json(d) for d in event.payload.get("documents") or ())
    return replace(state, data=data, documents=state.documents + docs, seq=event.seq)


def replay(
    events: Iterable[EventRecord],
    sop: CompiledSop,
    *,
    until_seq: int | None = None,
    until_time: datetime | None = None,
) -> ReplayResult:
    """The request as of ``until_seq`` / ``until_time`` (default: after the last event)."""
    state: RequestState | None = None
    anomalies: list[str] = []
    applied = 0
    previous_at: datetime | None = None
    for event in events:
        if until_seq is not None and event.seq > until_seq:
            break
        if until_time is not None and event.at > until_time:
            break
        expected_seq = 1 if state is None else state.seq + 1
        if event.seq != expected_seq:
            anomalies.append(f"event seq {event.seq}: expected seq {expected_seq}")
        if previous_at is not None and event.at < previous_at - CLOCK_TOLERANCE:
            anomalies.append(
                f"event seq {event.seq}: dated {event.at.isoformat()}, before the step it "
                f"follows ({previous_at.isoformat()}): its date was changed or it was inserted"
            )
        previous_at = event.at if previous_at is None else max(previous_at, event.at)
        if state is None:
            if event.trigger != CREATE or event.to_state != sop.initial:
                anomalies.append(
                    f"event seq {event.seq}: a request must start with "
                    f"'{CREATE}' into '{sop.initial}'"
                )
            state = RequestState(state=sop.initial, data={})
            state = enter(sop, _apply_change(state, event), sop.initial, event.at)
        elif event.trigger == BREACH:
            state = replace(_apply_change(state, event), breached=True)
        elif event.trigger == WARNING:
            state = replace(_apply_change(state, event), warned=True)
        elif event.trigger == ATTACH:
            if event.to_state != state.state or event.from_state != state.state:
                anomalies.append(f"event seq {event.seq}: '{ATTACH}' must not change the state")
            state = _apply_change(state, event)
        else:
            state = _replay_step(sop, state, event, anomalies)
        applied += 1
    return ReplayResult(state, applied, tuple(anomalies))


def _replay_step(
    sop: CompiledSop, state: RequestState, event: EventRecord, anomalies: list[str]
) -> RequestState:
    if event.from_state != state.state:
        anomalies.append(
            f"event seq {event.seq}: recorded from '{event.from_state}' but the "
            f"request was in '{state.state}'"
        )
    tr = sop.by_state.get(state.state, {}).get(event.trigger)
    if tr is None:
        anomalies.append(
            f"event seq {event.seq}: '{event.trigger}' cannot leave "
            f"'{state.state}' in {sop.spec.id} v{sop.spec.version}"
        )
    elif tr.to != event.to_state:
        anomalies.append(
            f"event seq {event.seq}: '{event.trigger}' leads to '{tr.to}', "
            f"recorded '{event.to_state}'"
        )
    elif event.role not in tr.roles:
        anomalies.append(f"event seq {event.seq}: role '{event.role}' may not '{event.trigger}'")
    if tr is not None:
        for earlier in tr.distinct_from:
            if event.actor_id in state.acted.get(earlier, ()):
                anomalies.append(
                    f"event seq {event.seq}: {event.actor_id} did '{earlier}' on this request "
                    f"and may not also do '{event.trigger}' (separation of duties)"
                )
    target = event.to_state if event.to_state in sop.states else state.state
    return advance(
        sop, _apply_change(state, event), event.trigger, event.actor_id, target, event.at, event.seq
    )
