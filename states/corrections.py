"""What a requester may correct while a request waits on them (§5.3 of sop-language.md).

In a state with ``waiting_on: requester`` the requester may rewrite their own fields
(all but the officials'), or only the state's ``editable`` ones when it lists them: after
the ministry approved a demand, its terms are frozen while the advertisement is drafted.
Pure.
"""

from __future__ import annotations

from sopflow.errors import FieldError
from sopflow.spec.models import Transition
from states.machine import CompiledSop


def correctable(sop: CompiledSop, state: str) -> frozenset[str]:
    """The requester's fields they may correct while the request waits on them in
    ``state`` (none if it does not wait on them)."""
    spec = sop.states[state]
    if spec.waiting_on != "requester":
        return frozenset()
    if spec.editable is None:
        return sop.requester_fields
    return frozenset(spec.editable) & sop.requester_fields


def writable(sop: CompiledSop, state: str, tr: Transition, role: str) -> frozenset[str]:
    """The fields ``role`` may write firing ``tr`` from ``state``: the step's ``sets``, and
    for a requester correcting the request, what the state leaves correctable."""
    if role in sop.requester_roles and sop.states[state].waiting_on == "requester":
        return correctable(sop, state) | frozenset(tr.sets)
    return frozenset(tr.sets)


def explained(sop: CompiledSop, state: str, role: str,
              errors: list[FieldError]) -> list[FieldError]:  # fmt: skip
    """``errors`` with each ``field-not-settable`` of a requester's field that the state
    freezes said as such (``field-frozen``), naming the field, the state and what it lets
    the requester correct."""
    if role not in sop.requester_roles or sop.states[state].waiting_on != "requester":
        return errors
    open_ = correctable(sop, state)
    frozen = sop.requester_fields - open_
    said = []
    for e in errors:
        if e.code == "field-not-settable" and e.field in frozen:
            allowed = sorted(open_)
            e = FieldError(
                e.field,
                "field-frozen",
                f"may not be changed while the request is in '{state}' (correctable there: "
                f"{', '.join(allowed) or 'none'})",
                {"field": e.field, "state": state, "editable": allowed},
            )
        said.append(e)
    return said
