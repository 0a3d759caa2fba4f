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
    expected: list[str]  # what the reader may do now (step labels)
    due_label: str  # "respond by" or "decision on this stage expected by"
    due: str  # the stage's deadline, local time of the authority
    decision_by: str  # the latest date of the final decision ("" if none can be given)
    plus_your_time: bool  # the final date excludes steps waiting on the requester
    overdue: bool


def status(sop: CompiledSop, row: dict[str, object], your_triggers: list[str], now: datetime,
           lang: str) -> Status:  # fmt: skip
    """``row`` has ``state``, ``outcome`` and ``deadline`` (ISO text or None)."""
    state = sop.states[str(row["state"])]
    label = state.label.get(lang)
    tz = sop.spec.calendar.timezone
    deadline = datetime.fromisoformat(str(row["deadline"])) if row.get("deadline") else None
    expected = [sop.by_state[state.id][tr].label.get(lang) for tr in your_triggers
                if tr in sop.by_state[state.id]]  # fmt: skip
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
