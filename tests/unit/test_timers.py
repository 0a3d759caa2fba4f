"""What a sweep does to one request at a given moment (``timers.sweep_step``): the one
decision behind the SLA sweep and its dry run. Pure: the moment is a parameter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sopflow.domain.access import system_actor
from states import Payload, RequestState, create, fire
from states.timers import sweep_moment, sweep_step
from tests.factories import LAB_SOP, actor, agency, compile_text, document_ref, lab_data

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday in Cairo (UTC+2)
# the lab, warning 24 hours before the review's deadline
LAB = compile_text(LAB_SOP.replace("sla: {working_days: 2}",
                                   "sla: {working_days: 2, warn_before_hours: 24}"))  # fmt: skip
SYSTEM = system_actor(LAB.spec)


def in_review() -> RequestState:
    draft = create(LAB, actor("applicant"), Payload(data=lab_data()), NOW).state
    return fire(LAB, draft, "submit", actor("applicant"),
                Payload(documents=(document_ref("contract"),)), NOW,
                organisation=agency()).state  # fmt: skip


def returned(sop=LAB) -> RequestState:
    return fire(sop, in_review(), "return", actor("clerk"),
                Payload(comment="Incomplete", reason="incomplete"), NOW).state  # fmt: skip


def deadline_of(state: RequestState) -> datetime:
    assert state.deadline is not None
    return state.deadline


def test_nothing_is_due_before_the_warning_window():
    state = in_review()

    assert sweep_step(LAB, state, SYSTEM, deadline_of(state) - timedelta(hours=25)) is None


def test_a_near_deadline_is_warned():
    state = in_review()
    at = deadline_of(state) - timedelta(hours=23)

    step = sweep_step(LAB, state, SYSTEM, at)

    assert step is not None and step.kind == "warning"
    assert [(o.event.trigger, o.event.at) for o in step.outcomes] == [("deadline_warning", at)]
    assert step.escalation is None and step.escalated_to is None
    # warned once per stay: the same sweep again finds nothing to warn of
    assert sweep_step(LAB, step.outcomes[-1].state, SYSTEM, at) is None


def test_a_passed_deadline_is_breached_and_escalated_where_the_sop_says():
    state = returned()  # on breach: the system fires 'expire'
    at = deadline_of(state) + timedelta(minutes=1)

    step = sweep_step(LAB, state, SYSTEM, at)

    assert step is not None and step.kind == "breach"
    assert [(o.event.trigger, o.event.to_state) for o in step.outcomes] == [
        ("breach", "returned"),
        ("expire", "expired"),
    ]
    assert (step.escalation, step.escalated_to, step.refused) == ("expire", "expired", None)


def test_a_passed_deadline_without_escalation_is_breached_alone():
    state = in_review()

    step = sweep_step(LAB, state, SYSTEM, deadline_of(state) + timedelta(seconds=1))

    assert step is not None and step.kind == "breach"
    assert [o.event.trigger for o in step.outcomes] == ["breach"]
    assert step.escalation is None


def test_a_refused_escalation_leaves_the_breach_standing():
    refusing = compile_text(
        LAB.text.replace("    to: expired\n    roles: [system]\n",
                         "    to: expired\n    roles: [system]\n    requires: {fields: [note]}\n"),
    )  # fmt: skip
    state = returned(refusing)

    step = sweep_step(refusing, state, system_actor(refusing.spec),
                      deadline_of(state) + timedelta(minutes=1))  # fmt: skip

    assert step is not None
    assert [o.event.trigger for o in step.outcomes] == ["breach"]
    assert step.escalation == "expire" and step.escalated_to is None
    assert step.refused is not None and "note" in step.refused


def test_the_same_request_at_the_same_moment_gives_the_same_step():
    state = returned()
    at = deadline_of(state) + timedelta(days=3)

    assert sweep_step(LAB, state, SYSTEM, at) == sweep_step(LAB, state, SYSTEM, at)


def test_a_moment_without_a_time_zone_is_read_on_the_sops_calendar():
    cairo = LAB  # Africa/Cairo: UTC+2 in January
    tunis = compile_text(LAB_SOP.replace("timezone: Africa/Cairo", "timezone: Africa/Tunis"))
    local = datetime(2026, 1, 9, 17, 0)
    given = datetime(2026, 1, 9, 17, 0, tzinfo=UTC)

    assert sweep_moment(cairo, local) == datetime(2026, 1, 9, 15, 0, tzinfo=UTC)
    assert sweep_moment(tunis, local) == datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    assert sweep_moment(cairo, given) == sweep_moment(tunis, given) == given
