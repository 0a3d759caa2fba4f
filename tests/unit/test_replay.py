"""replay(events, sop): the stored state again, as of any moment, and every impossible event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from states import EventRecord, Payload, RequestState, attach, create, fire, replay
from tests.factories import actor, agency, document_ref, lab_data, lab_sop

LAB = lab_sop()
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def run_history() -> tuple[list[EventRecord], list[RequestState]]:
    """A request taken through every kind of step, an hour apart: its events, and the
    state the engine returned after each one."""
    applicant, clerk, chief = actor("applicant"), actor("clerk"), actor("chief")
    contract = document_ref("contract")
    steps = [
        lambda s, t: attach(LAB, s, applicant, Payload(documents=(contract,)), t),
        lambda s, t: fire(
            LAB, s, "submit", applicant, Payload(comment="filed"), t, organisation=agency()
        ),
        lambda s, t: fire(LAB, s, "return", clerk, Payload(comment="fix", reason="incomplete"), t),
        lambda s, t: fire(
            LAB,
            s,
            "resubmit",
            applicant,
            Payload(data={"count": 2, "application": None}, documents=(contract,)),
            t,
        ),
        lambda s, t: fire(
            LAB, s, "register", clerk, Payload(data={"ref_no": "R-9", "note": "n"}), t
        ),
        lambda s, t: fire(LAB, s, "approve", chief, Payload(), t),
    ]
    outcome = create(LAB, applicant, Payload(data=lab_data()), START)
    events, states = [outcome.event], [outcome.state]
    for hours, step in enumerate(steps, start=1):
        outcome = step(states[-1], START + timedelta(hours=hours))
        events.append(outcome.event)
        states.append(outcome.state)
    return events, states


EVENTS, STATES = run_history()


def test_replay_equals_the_live_result():
    result = replay(EVENTS, LAB)

    assert result.consistent
    assert result.applied == len(EVENTS) == 7
    assert result.state == STATES[-1]
    assert result.state.state == "approved"
    assert "application" not in result.state.data  # cleared by the resubmission


def test_replay_of_events_stored_as_json_equals_the_live_result():
    stored = [EventRecord.from_json(e.to_json()) for e in EVENTS]

    result = replay(stored, LAB)

    assert result.state == STATES[-1]
    assert RequestState.from_json(result.state.to_json()) == STATES[-1]


@pytest.mark.parametrize("seq", range(1, 8))
def test_replay_until_seq_gives_the_state_after_that_event(seq):
    result = replay(EVENTS, LAB, until_seq=seq)

    assert result.applied == seq
    assert result.state == STATES[seq - 1]


def test_replay_until_time():
    result = replay(EVENTS, LAB, until_time=START + timedelta(hours=3, minutes=30))

    assert result.applied == 4
    assert result.state == STATES[3]
    assert result.state.state == "returned"


def test_replay_before_the_first_event_has_no_state():
    result = replay(EVENTS, LAB, until_time=START - timedelta(seconds=1))

    assert result.state is None
    assert result.applied == 0


def test_a_recorded_breach_marks_the_request_breached():
    breach = EventRecord(
        seq=4,
        trigger="breach",
        from_state="review",
        to_state="review",
        actor_id="system",
        role="system",
        at=START + timedelta(days=5),
    )

    result = replay([*EVENTS[:3], breach], LAB)

    assert result.consistent
    assert result.state.breached is True
    assert result.state.state == "review"


def tampered(index: int, **changes) -> list[EventRecord]:
    events = list(EVENTS)
    events[index] = replace(events[index], **changes)
    return events


@pytest.mark.parametrize(
    ("events", "anomaly"),
    [
        (tampered(3, seq=5), "event seq 5: expected seq 4"),
        (
            tampered(2, from_state="review"),
            "event seq 3: recorded from 'review' but the request was in 'draft'",
        ),
        (
            tampered(2, trigger="approve"),
            "event seq 3: 'approve' cannot leave 'draft' in engine-lab v1",
        ),
        (
            tampered(2, trigger="nonsense"),
            "event seq 3: 'nonsense' cannot leave 'draft' in engine-lab v1",
        ),
        (
            tampered(2, to_state="decision"),
            "event seq 3: 'submit' leads to 'review', recorded 'decision'",
        ),
        (tampered(5, role="applicant"), "event seq 6: role 'applicant' may not 'register'"),
        (
            tampered(0, trigger="submit"),
            "event seq 1: a request must start with 'create' into 'draft'",
        ),
        (tampered(1, to_state="review"), "event seq 2: 'attach' must not change the state"),
        (EVENTS[1:], "event seq 2: expected seq 1"),
    ],
)
def test_tampered_events_are_anomalies(events, anomaly):
    result = replay(events, LAB)

    assert not result.consistent
    assert anomaly in result.anomalies


def test_a_gap_is_reported_once_and_replay_goes_on():
    events = [e if e.seq < 4 else replace(e, seq=e.seq + 1) for e in EVENTS]

    result = replay(events, LAB)

    assert result.anomalies == ("event seq 5: expected seq 4",)
    assert result.state.state == "approved"


def test_an_unknown_target_keeps_the_request_where_it_was():
    result = replay(tampered(2, to_state="nowhere"), LAB, until_seq=3)

    assert result.state.state == "draft"
    assert not result.consistent
