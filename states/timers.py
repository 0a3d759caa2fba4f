"""Deadlines that pass: the breach of a state's SLA as an event, once per stay. Pure.

A request whose deadline has passed gets one ``breach`` event (the SOP's ``on_breach``
notices go with it); if the SOP names an escalation trigger (``escalation``), the system
fires it right after, recorded in the same unit of work. The ``breached`` flag, reset on
entering the next state, makes the sweep idempotent: a second sweep finds nothing.

``sweep_step`` is what a sweep at a given moment does to one request: the SLA sweep
records it now, its preview (``sopflow sla sweep --dry-run --at ...``) only reports it, so
the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from sopflow.errors import CommandRejected
from states.engine import fire, notice_for
from states.machine import CompiledSop
from states.model import (
    BREACH,
    WARNING,
    Actor,
    EventRecord,
    OrganisationFacts,
    Outcome,
    Payload,
    RequestState,
)


def is_overdue(state: RequestState, now: datetime) -> bool:
    return state.deadline is not None and state.deadline < now and not state.breached


def is_due_soon(sop: CompiledSop, state: RequestState, now: datetime) -> bool:
    """Within the state's ``warn_before_hours`` of its deadline, and not yet passed."""
    sla = sop.states[state.state].sla
    if state.deadline is None or sla is None or sla.warn_before_hours is None:
        return False
    return now <= state.deadline <= now + timedelta(hours=sla.warn_before_hours)


def warning(sop: CompiledSop, state: RequestState, system: Actor,
            now: datetime) -> Outcome | None:  # fmt: skip
    """A ``deadline_warning`` event within the state's ``warn_before_hours`` of its deadline,
    once per stay, with a ``deadline_approaching`` notice to whoever must act now: the
    requester in a state waiting on them, else every role that may move the request on."""
    if state.warned or not is_due_soon(sop, state, now):
        return None
    spec = sop.states[state.state]
    if spec.waiting_on == "requester":
        recipients = ["requester"]
    else:
        roles = {r for tr in sop.by_state[state.state].values() for r in tr.roles}
        recipients = [f"role:{r}" for r in sorted(roles)
                      if sop.roles[r].kind == "official"]  # fmt: skip
    marked = replace(state, seq=state.seq + 1, warned=True)
    assert state.deadline is not None
    event = EventRecord(
        seq=marked.seq, trigger=WARNING, from_state=state.state, to_state=state.state,
        actor_id=system.id, role=next(iter(sorted(system.roles)), "system"), at=now,
        payload={"deadline": state.deadline.isoformat(), "state": state.state},
        legal_clause=spec.legal_clause,
    )  # fmt: skip
    notices = tuple(notice_for("deadline_approaching", to, WARNING, marked) for to in recipients)
    return Outcome(marked, event, notices)


def escalation(sop: CompiledSop, state: RequestState) -> str | None:
    """The trigger the system fires when the deadline of the request's state passes."""
    action = sop.states[state.state].on_breach
    return action.trigger if action else None


def breach(sop: CompiledSop, state: RequestState, system: Actor, now: datetime) -> Outcome | None:
    """The breach event of a passed deadline, with the SOP's breach notices; None when the
    deadline has not passed or its breach was already recorded."""
    if not is_overdue(state, now):
        return None
    spec = sop.states[state.state]
    action = spec.on_breach
    role = next(iter(sorted(system.roles)), "system")
    marked = replace(state, seq=state.seq + 1, breached=True)
    assert state.deadline is not None
    event = EventRecord(
        seq=marked.seq,
        trigger=BREACH,
        from_state=state.state,
        to_state=state.state,
        actor_id=system.id,
        role=role,
        at=now,
        payload={"deadline": state.deadline.isoformat(), "state": state.state},
        legal_clause=spec.legal_clause,
    )
    notices = tuple(
        notice_for(n.template, n.to.describe(), BREACH, marked)
        for n in (action.notify if action else ())
    )
    return Outcome(marked, event, notices)


@dataclass(frozen=True, slots=True)
class SweepStep:
    """What a sweep does to one request: warn of its near deadline, or breach its passed one
    (and fire the SOP's escalation, unless that is refused: the breach stands alone)."""

    kind: Literal["warning", "breach"]
    outcomes: tuple[Outcome, ...]  # to record, in this order
    escalation: str | None = None  # the trigger fired after the breach, or tried
    refused: str | None = None  # why the escalation was refused

    @property
    def escalated_to(self) -> str | None:
        return self.outcomes[-1].state.state if len(self.outcomes) > 1 else None


def sweep_step(sop: CompiledSop, state: RequestState, system: Actor, now: datetime,
               organisation: OrganisationFacts | None = None) -> SweepStep | None:  # fmt: skip
    """What a sweep at ``now`` does to a request in ``state``, or None (nothing is due)."""
    warned = warning(sop, state, system, now)
    if warned is not None:
        return SweepStep("warning", (warned,))
    marked = breach(sop, state, system, now)
    if marked is None:
        return None
    trigger = escalation(sop, state)
    if not trigger:
        return SweepStep("breach", (marked,))
    try:
        fired = fire(sop, marked.state, trigger, system, Payload(), now, organisation=organisation)
    except CommandRejected as exc:
        return SweepStep("breach", (marked,), trigger, refused=exc.message)
    return SweepStep("breach", (marked, fired), trigger)


def sweep_moment(sop: CompiledSop, at: datetime) -> datetime:
    """The instant of ``at`` for requests of ``sop``: ``at`` itself, or, given without a time
    zone, that time of day on the SOP's calendar (its authority's time zone)."""
    return at if at.tzinfo is not None else at.replace(tzinfo=sop.calendar.zone)
