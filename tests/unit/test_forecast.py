"""The expected decision date: the latest date the SOP's own deadlines promise, on the
shortest way to approval; nothing promised where a stage on the way has no deadline."""

from __future__ import annotations

from datetime import UTC, datetime

from states.forecast import expected_decision, way_to_approval
from tests.factories import EG, TN, compiled

TUNISIA, EGYPT = compiled(TN), compiled(EG)
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_the_way_to_approval_is_the_shortest_run_of_stages_to_an_approved_end() -> None:
    assert way_to_approval(TUNISIA, "service_review") == ["awaiting_signature", "visa_granted"]
    assert way_to_approval(TUNISIA, "refused") is None  # a final state goes nowhere
    assert way_to_approval(TUNISIA, "visa_granted") == []


def test_the_forecast_adds_each_remaining_stage_deadline_in_working_days() -> None:
    deadline = datetime(2026, 3, 6, 22, 59, tzinfo=UTC)  # the current stage's end (a Friday)
    forecast = expected_decision(TUNISIA, "service_review", deadline, MONDAY)

    calendar = TUNISIA.calendar
    awaiting = TUNISIA.states["awaiting_signature"].sla
    assert awaiting is not None
    assert forecast is not None and not forecast.plus_requester_time
    assert forecast.at == calendar.deadline(deadline, awaiting)
    assert calendar.local_date(forecast.at).weekday() < 5  # ends on a Tunisian working day


def test_the_forecast_of_a_draft_notes_that_the_requesters_time_comes_on_top() -> None:
    forecast = expected_decision(TUNISIA, "draft", None, MONDAY)

    assert forecast is not None and forecast.plus_requester_time


def test_no_date_is_promised_past_a_third_party_stage_without_a_deadline() -> None:
    # Egypt: medical checks and visas (a third party, no deadline) lie on the way
    assert EGYPT.states["medical_and_visa"].sla is None
    assert expected_decision(EGYPT, "advertisement_review", None, MONDAY) is None
    assert expected_decision(EGYPT, "work_permit_review", None, MONDAY) is not None


def test_a_closed_request_has_no_forecast() -> None:
    assert expected_decision(TUNISIA, "visa_granted", None, MONDAY) is None
    assert expected_decision(EGYPT, "rejected", None, MONDAY) is None
