"""The state-machine core: compile SOPs into shared machines, fire triggers, replay events."""

from states.engine import attach, create, fire
from states.machine import CompiledSop, check_sop, compile_sop
from states.model import (
    Actor,
    DocumentRef,
    EventRecord,
    NoticeIntent,
    OrganisationFacts,
    Outcome,
    Payload,
    RequestState,
)
from states.next_steps import AllowedAction, allowed_triggers, triggers_by_role
from states.replay import ReplayResult, replay

__all__ = [
    "Actor", "AllowedAction", "CompiledSop", "DocumentRef", "EventRecord", "NoticeIntent",
    "OrganisationFacts", "Outcome", "Payload", "ReplayResult", "RequestState",
    "allowed_triggers", "attach", "check_sop", "compile_sop", "create", "fire", "replay",
    "triggers_by_role",
]  # fmt: skip
