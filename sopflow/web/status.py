"""A request's status in plain words for the person reading it: who has it now, what is
expected from the reader, by when, and when the decision can be expected at the latest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sopflow.web.i18n import moment, t
from states.forecast import expected_decision
from states.machine import CompiledSop


@dataclass(frozen=True)
class Status:
    text: str  # who has the request, at which stage
    expected: list[str]  # what the request waits on the reader for (step labels; ``duties``)
    due_label: str  # "respond by" or "decision on this stage expected by"
    due: str  # the stage's deadline, local time of the authority
    decision_by: str  # the latest date of the final decision ("" if none can be given)
    plus_your_time: bool  # the final date excludes steps waiting on the requester
    overdue: bool


def duties(sop: CompiledSop, state_id: str, your_triggers: list[str]) -> list[str]:
    """Of the steps the reader may take now, those the request waits on them for: the
    requester's when the stage waits on the requester, the officials' when it waits on the
    authority (or on a third party, whose answer officials record). A step that ends the
    request by its requester's choice (to a ``withdrawn`` outcome) is an option, never a
    duty; so is a requester's step at a stage the authority holds."""
    state, steps = sop.states[state_id], sop.by_state.get(state_id, {})
    mine = []
    for trigger in your_triggers:
        step = steps.get(trigger)
        if step is None or getattr(sop.states.get(step.to), "final", None) == "withdrawn":
            continue
        requesters_step = bool(set(step.roles) & sop.requester_roles)
        if requesters_step == (state.waiting_on == "requester"):
            mine.append(trigger)
    return mine


def status(sop: CompiledSop, row: dict[str, object], your_triggers: list[str], now: datetime,
           lang: str) -> Status:  # fmt: skip
    """``row`` has ``state``, ``outcome`` and ``deadline`` (ISO text or None)."""
    state = sop.states[str(row["state"])]
    label = state.label.get(lang)
    tz = sop.spec.calendar.timezone
    deadline = datetime.fromisoformat(str(row["deadline"])) if row.get("deadline") else None
    expected = [sop.by_state[state.id][tr].label.get(lang)
                for tr in duties(sop, state.id, your_triggers)]  # fmt: skip
    if state.final:
        closed = t("status_closed", lang).format(outcome=t(f"outcome_{state.final}", lang))
        return Status(f"{closed} ({label})", [], "", "", "", False, False)
    if state.waiting_on == "requester":
        key = "status_yours" if expected else "status_requester"
    else:
        key = "status_third_party" if state.waiting_on == "third_party" else "status_authority"
    text = t(key, lang).format(state=label, authority=sop.spec.authority.name.get(lang))
    due_label = t("respond_by" if state.waiting_on == "requester" else "stage_decision_by", lang)
    forecast = expected_decision(sop, state.id, deadline, now)
    return Status(
        text=text,
        expected=expected,
        due_label=due_label,
        due=moment(deadline, lang, tz) if deadline else "",
        decision_by=moment(forecast.at, lang, tz) if forecast else "",
        plus_your_time=bool(forecast and forecast.plus_requester_time),
        overdue=bool(deadline and deadline < now),
    )
