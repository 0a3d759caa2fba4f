"""What may be done next on a request: the actions an actor may try, the triggers of each
role. Pure; used by inboxes, request pages and ``request show``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from states.machine import CompiledSop
from states.model import Actor, RequestState


@dataclass(frozen=True, slots=True)
class AllowedAction:
    trigger: str
    to: str
    roles: tuple[str, ...]
    label: Mapping[str, str]
    requires_comment: bool
    reasons: tuple[str, ...]
    sets: tuple[str, ...]
    documents: tuple[str, ...]


def allowed_triggers(sop: CompiledSop, state: RequestState, actor: Actor) -> list[AllowedAction]:
    """What ``actor`` may try now: transitions from the state that one of its roles allows.

    Requirements are not evaluated here (they may need data the actor will supply)."""
    result = []
    for trigger, tr in sorted(sop.by_state[state.state].items()):
        roles = tuple(r for r in tr.roles if r in actor.roles)
        if not roles:
            continue
        if any(actor.id in state.acted.get(e, ()) for e in tr.distinct_from):
            continue
        result.append(
            AllowedAction(
                trigger=trigger,
                to=tr.to,
                roles=roles,
                label=tr.label.model_dump(exclude_none=True),
                requires_comment=tr.requires.comment,
                reasons=tuple(tr.reasons),
                sets=tuple(tr.sets),
                documents=tuple(tr.requires.every_document),
            )
        )
    return result


def triggers_by_role(sop: CompiledSop, state: str) -> dict[str, list[str]]:
    """For each role, the triggers it may fire from ``state`` (for 'who may do what next')."""
    table: dict[str, list[str]] = {}
    for trigger, tr in sorted(sop.by_state[state].items()):
        for role in tr.roles:
            table.setdefault(role, []).append(trigger)
    return table
