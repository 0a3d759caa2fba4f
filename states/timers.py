"""Deadlines that pass: the breach of a state's SLA as an event, once per stay. Pure.

A request whose deadline has passed gets one ``breach`` event (the SOP's ``on_breach``
notices go with it); if the SOP names an escalation trigger (``escalation``), the services
fire it as the system right after, in the same unit of work. The ``breached`` flag, reset
on entering the next state, makes the sweep idempotent: a second sweep finds nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from states.engine import notice_for
from states.machine import CompiledSop
from states.model import BREACH, WARNING, Actor, EventRecord, Outcome, RequestState


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
