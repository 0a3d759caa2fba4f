"""Fire a trigger on a request: check everything, move the state, say what to record and send.

``fire`` is pure: the request's state, the actor, the payload, the organisation's facts
and ``now`` come in; an ``Outcome`` or a precise ``CommandRejected`` comes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from transitions import MachineError

from sopflow.errors import (
    FieldError,
    InvalidData,
    RequirementNotMet,
    RoleForbidden,
    SeparationOfDuties,
    TriggerNotAllowed,
    UnknownTrigger,
    Unmet,
)
from sopflow.spec import values
from sopflow.spec.expressions import EvaluationError
from sopflow.spec.models import Condition, Transition
from states import corrections, provenance
from states.machine import Carrier, CompiledSop
from states.model import (
    ATTACH,
    CREATE,
    Actor,
    EventRecord,
    NoticeIntent,
    OrganisationFacts,
    Outcome,
    Payload,
    RequestState,
)
from states.next_steps import allowed_triggers
from states.payloads import comment_errors, validated
from states.rules import RULES, RuleContext


@dataclass
class _Check:
    """The guard run by the machine: evaluates a transition's requirements, keeps what failed."""

    sop: CompiledSop
    before: RequestState
    after: RequestState
    actor: Actor
    payload: Payload
    organisation: OrganisationFacts | None
    facts: Mapping[str, Any]
    now: datetime
    unmet: list[Unmet] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    grounds: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, tr: Transition) -> bool:
        self.flags, self.grounds = [], []
        self.unmet = _requirements(self, tr)
        return not self.unmet


def _missing(sop: CompiledSop, source: str, tr: Transition, after: RequestState,
             brought: frozenset[str]) -> list[Unmet]:  # fmt: skip
    """The fields and documents that ``tr`` from ``source`` needs and ``after`` lacks
    (``brought``: the kinds of the documents that come with the step)."""
    data, req = after.data, tr.requires
    # handing the file (back) to the officials needs every required field; closing it
    # (withdrawal, expiry) does not
    hands_over = sop.states[source].waiting_on == "requester" and not sop.is_final(tr.to)
    missing = [e.field for e in values.missing_required(sop.fields, data)] if hands_over else []
    missing += [n for n in req.fields if data.get(n) in (None, "") and n not in missing]
    unmet = [
        Unmet("missing-field", f"field '{n}' must be filled in", n, {"field": n}) for n in missing
    ]
    latest = after.latest_documents()
    unmet += [
        Unmet("missing-document", f"document '{kind}' must be attached", kind, {"document": kind})
        for kind in req.documents
        if kind not in latest
    ]
    named = {u.subject for u in unmet}
    unmet += [
        Unmet("missing-document", f"a new document '{kind}' must be attached with this step "
              "(one already on file does not count)", kind, {"document": kind, "new": True})
        for kind in req.new_documents
        if kind not in brought and kind not in named
    ]  # fmt: skip
    return unmet


def _inputs_unmet(tr: Transition, payload: Payload) -> list[Unmet]:
    """The comment and the reason the step needs and the command does not give."""
    unmet = []
    if tr.requires.comment and not (payload.comment or "").strip():
        unmet.append(Unmet("comment-required", "a comment is required", "comment"))
    if tr.requires.reason and not payload.reason:
        unmet.append(Unmet("reason-required",
                           f"a reason code is required (one of: {', '.join(tr.reasons)})",
                           "reason", {"reasons": list(tr.reasons)}))  # fmt: skip
    return unmet


def _requirements(c: _Check, tr: Transition) -> list[Unmet]:
    brought = frozenset(d.kind for d in c.after.documents[len(c.before.documents) :])
    unmet, req = _missing(c.sop, c.before.state, tr, c.after, brought), tr.requires
    unmet += _inputs_unmet(tr, c.payload)
    if not (req.rules or req.conditions):
        return unmet
    latest = c.after.latest_documents()
    today = c.sop.calendar.local_date(c.now)
    for ref in req.rules:
        result = RULES[ref.rule].check(
            RuleContext(c.after, latest, c.organisation, c.facts, today, ref.params)
        )
        if not result.ok:
            unmet.append(
                Unmet(
                    "rule-failed",
                    result.message,
                    ref.rule,
                    {"rule": ref.rule, "why": result.why, **result.params},
                )
            )
        c.flags.extend(result.flags)
        if result.ok and result.grounds:
            c.grounds.append({"rule": ref.rule, **result.grounds})
    if req.conditions:
        env = values.typed_env(c.sop.fields, c.after.data, today)
        # a condition on a value still missing would judge a blank: the missing value is
        # what to say (a contract "over twelve months" that has no length yet is not)
        blank = {u.subject for u in unmet if u.code == "missing-field"}
        for cond, expr in zip(req.conditions, c.sop.conditions_of(tr), strict=True):
            if expr.names & blank:
                continue
            try:
                ok = expr.evaluate(env)
            except EvaluationError as exc:
                unmet.append(_condition_error(c.sop, cond, expr.names, env, exc))
                continue
            if not ok:
                unmet.append(
                    Unmet(
                        "condition-failed",
                        cond.message.en,
                        cond.expr,
                        # the fields it reads: a form marks them (the one to correct)
                        {
                            "message": cond.message.model_dump(),
                            "fields": sorted(expr.names & set(c.sop.fields)),
                        },
                    )
                )
    return unmet


def _condition_error(sop: CompiledSop, cond: Condition, names: frozenset[str],
                     env: Mapping[str, Any], exc: EvaluationError) -> Unmet:  # fmt: skip
    """A condition that cannot be computed, said with its expression, the fields it reads
    that have no value (the usual cause) and the SOP's own message for it."""
    empty = [n for n in sorted(names) if n in sop.fields and env.get(n) is None]
    why = f"condition '{cond.expr}' cannot be computed: {exc}"
    if empty:
        why += f"; {', '.join(empty)} {'has' if len(empty) == 1 else 'have'} no value"
    return Unmet(
        "condition-error",
        f"{cond.message.en} ({why})",
        cond.expr,
        {"message": cond.message.model_dump(), "expression": cond.expr, "error": str(exc),
         "empty": empty},
    )  # fmt: skip


def _yours(sop: CompiledSop, state: RequestState, actor: Actor) -> list[str]:
    """The triggers leaving the state that ``actor`` could fire: not those of other roles
    (the system's timers among them), nor those separation of duties bars to this person."""
    return [a.trigger for a in allowed_triggers(sop, state, actor)]


def _not_allowed(sop: CompiledSop, state: RequestState, trigger: str,
                 actor: Actor) -> TriggerNotAllowed:  # fmt: skip
    allowed = _yours(sop, state, actor)
    if sop.is_final(state.state):
        message = f"the request is closed (state '{state.state}'); '{trigger}' is not possible"
    else:
        message = (
            f"'{trigger}' is not allowed from state '{state.state}'; allowed to you: "
            f"{', '.join(allowed) or 'none'}"
        )
    return TriggerNotAllowed(
        message, details={"state": state.state, "allowed": allowed, "trigger": trigger}
    )


def _role_for(sop: CompiledSop, tr: Transition, actor: Actor) -> str:
    for role in tr.roles:
        if role in actor.roles:
            return role
    raise RoleForbidden(
        f"'{tr.trigger}' needs one of the roles {', '.join(tr.roles)}; "
        f"{actor.id} holds {', '.join(sorted(actor.roles)) or 'none'}",
        details={"trigger": tr.trigger, "roles": list(tr.roles)},
    )


def _merge_payload(sop: CompiledSop, state: RequestState, payload: Payload,
                   writable: frozenset[str] | None, trigger: str, roles: frozenset[str],
                   role: str | None = None) -> tuple[RequestState, dict[str, Any]]:  # fmt: skip
    """``payload`` merged into ``state``, written with ``roles`` (``role`` firing a step)."""
    errors = comment_errors(payload)
    if not payload.data and not payload.documents:
        if errors:
            raise InvalidData(errors, context=f"data for '{trigger}'")
        return state, {}
    clean, data_errors = validated(sop, payload, writable)
    if role is not None:
        data_errors = corrections.explained(sop, state.state, role, data_errors)
    errors = data_errors + provenance.errors(sop, payload.documents, roles) + errors
    if errors:
        raise InvalidData(errors, context=f"data for '{trigger}'")
    data = {k: v for k, v in {**state.data, **clean}.items() if v is not None}
    merged = replace(state, data=data, documents=state.documents + payload.documents)
    change: dict[str, Any] = {}
    if clean:
        change["data"] = clean
    if payload.documents:
        change["documents"] = [d.to_json() for d in payload.documents]
    return merged, change


def _step_gaps(sop: CompiledSop, state: RequestState, tr: Transition, payload: Payload,
               errors: list[FieldError]) -> list[Unmet]:  # fmt: skip
    """What a step refused for its data or files also lacks (fields, documents, its comment
    and reason), on the request with the command's good values and files: one refusal
    then lists every mistake of the form. Rules and conditions wait for valid data."""
    named = {e.field for e in errors}
    clean, _ = validated(sop, payload, None)
    good = tuple(d for d in payload.documents if f"document:{d.kind}" not in named)
    data = {k: v for k, v in {**state.data, **clean}.items()
            if v is not None and k not in named}  # fmt: skip
    after = replace(state, data=data, documents=state.documents + good)
    gaps = _missing(sop, state.state, tr, after, frozenset(d.kind for d in good))
    gaps = [u for u in gaps if u.subject not in named and f"document:{u.subject}" not in named]
    return gaps + _inputs_unmet(tr, payload)


def _filing_gaps(sop: CompiledSop, payload: Payload, errors: list[FieldError]) -> list[FieldError]:
    """What the submission step will also find missing, for a filing refused for its data:
    one refusal then lists every field and document to correct, not two in turn (as field
    errors, the shape a filing's refusal has always had)."""
    tr = sop.by_state[sop.initial].get(sop.spec.submission.trigger or "")
    if tr is None:
        return []
    gaps = []
    for unmet in _step_gaps(sop, RequestState(sop.initial, {}), tr, payload, errors):
        if unmet.code == "missing-field":
            gaps.append(FieldError(str(unmet.subject), "missing-field", "is required"))
        elif unmet.code == "missing-document":
            gaps.append(FieldError(f"document:{unmet.subject}", "missing-document",
                                   "must be attached", {"document": unmet.subject}))  # fmt: skip
    return gaps


def enter(sop: CompiledSop, state: RequestState, target: str, now: datetime) -> RequestState:
    """``state`` moved into ``target`` at ``now``, with the target's deadline."""
    return advance(sop, state, None, "", target, now, state.seq)


def advance(
    sop: CompiledSop,
    state: RequestState,
    trigger: str | None,
    actor_id: str,
    target: str,
    at: datetime,
    seq: int,
) -> RequestState:
    """The bookkeeping of one applied step, shared by ``fire`` and ``replay``: who did the
    trigger, which documents were on file then, the new state and its deadline. (Built in
    one constructor call: ``dataclasses.replace`` costs ~7 µs each on this hot path.)"""
    acted, documents_at = state.acted, state.documents_at
    if trigger is not None:
        acted = {**acted, trigger: (*acted.get(trigger, ()), actor_id)}
        snapshot = {d.kind: d.sha256 for d in state.latest_documents().values()}
        documents_at = {**documents_at, trigger: snapshot}
    sla = sop.states[target].sla
    return RequestState(
        state=target,
        data=state.data,
        seq=seq,
        documents=state.documents,
        acted=acted,
        documents_at=documents_at,
        entered_at=at,
        deadline=sop.calendar.deadline(at, sla) if sla else None,
        breached=False,
    )


def _event(seq: int, trigger: str, source: str | None, target: str, actor: Actor, role: str,
           at: datetime, change: dict[str, Any], comment: str | None,
           reason: str | None = None, clause: str | None = None) -> EventRecord:  # fmt: skip
    return EventRecord(seq=seq, trigger=trigger, from_state=source, to_state=target,
                       actor_id=actor.id, role=role, at=at, payload=change,
                       comment=comment or None,  # an empty comment is no comment
                       reason=reason, legal_clause=clause, acting_for=actor.acting_for)  # fmt: skip


def create(sop: CompiledSop, actor: Actor, payload: Payload, now: datetime) -> Outcome:
    """A new request in the SOP's initial state (event seq 1, trigger 'create')."""
    if not set(sop.spec.submission.roles).intersection(actor.roles):
        raise RoleForbidden(
            f"filing a request under '{sop.spec.id}' needs one of the roles "
            f"{', '.join(sop.spec.submission.roles)}",
            details={"roles": list(sop.spec.submission.roles), "filing": True},
        )
    role = next(r for r in sop.spec.submission.roles if r in actor.roles)
    blank = RequestState(state=sop.initial, data={})
    try:
        merged, change = _merge_payload(sop, blank, payload, sop.requester_fields, CREATE,
                                        provenance.filing_roles(sop, actor.roles))  # fmt: skip
    except InvalidData as exc:
        errors = [*exc.errors, *_filing_gaps(sop, payload, exc.errors)]
        raise InvalidData(errors, context=f"data for '{CREATE}'") from None
    state = advance(sop, merged, None, actor.id, sop.initial, now, 1)
    if actor.organisation_id is not None:
        # whose request it is decides who sees it and who is told: the chain must cover it
        change = {**change, "organisation": actor.organisation_id}
    return Outcome(state, _event(1, CREATE, None, sop.initial, actor, role, now, change,
                                 payload.comment))  # fmt: skip


def attach(
    sop: CompiledSop, state: RequestState, actor: Actor, payload: Payload, now: datetime
) -> Outcome:
    """Documents added without a change of state, by whoever may act on the request now."""
    if sop.is_final(state.state):
        raise _not_allowed(sop, state, ATTACH, actor)
    # the people who may act now (the system's timers add no documents)
    candidates = [r for tr in sop.by_state[state.state].values() for r in tr.roles
                  if sop.roles[r].kind != "system"]  # fmt: skip
    role = next((r for r in candidates if r in actor.roles), None)
    if role is None:
        raise RoleForbidden(
            f"{actor.id} may not add documents while the request is in '{state.state}'",
            details={"roles": sorted(set(candidates)), "attach": True, "state": state.state},
        )
    if not payload.documents:  # an event that adds nothing would only bump the version
        raise InvalidData([FieldError("documents", "no-documents", "add at least one document")],
                          context="attach")  # fmt: skip
    merged, change = _merge_payload(
        sop,
        state,
        Payload(documents=payload.documents, comment=payload.comment),
        frozenset(),
        ATTACH,
        provenance.attach_roles(sop, state.state, actor.roles),
    )
    merged = replace(merged, seq=state.seq + 1)
    return Outcome(merged, _event(merged.seq, ATTACH, state.state, state.state, actor, role,
                                  now, change, payload.comment))  # fmt: skip


def fire(
    sop: CompiledSop,
    state: RequestState,
    trigger: str,
    actor: Actor,
    payload: Payload,
    now: datetime,
    *,
    organisation: OrganisationFacts | None = None,
    facts: Mapping[str, Any] | None = None,
) -> Outcome:
    """Apply ``trigger`` by ``actor``; raise a ``CommandRejected`` subclass if it may not be."""
    if trigger not in sop.triggers:
        raise UnknownTrigger(
            f"SOP '{sop.spec.id}' v{sop.spec.version} has no trigger '{trigger}'",
            details={"allowed": _yours(sop, state, actor), "trigger": trigger},
        )
    tr = sop.by_state[state.state].get(trigger)
    if tr is None:
        raise _not_allowed(sop, state, trigger, actor)
    role = _role_for(sop, tr, actor)
    for earlier in tr.distinct_from:
        if actor.id in state.acted.get(earlier, ()):
            raise SeparationOfDuties(
                f"{actor.id} did '{earlier}' on this request and may not also do '{trigger}'",
                details={"trigger": trigger, "conflicts_with": earlier},
            )
    if payload.reason is not None and payload.reason not in tr.reasons:
        raise InvalidData(
            [
                FieldError(
                    "reason",
                    "unknown-reason",
                    f"'{payload.reason}' is not a reason for '{trigger}'; "
                    + (
                        f"use one of: {', '.join(tr.reasons)}"
                        if tr.reasons
                        else "this step takes no reason code"
                    ),
                    {"reason": payload.reason, "allowed": list(tr.reasons)},
                )
            ]
        )
    try:
        after, change = _merge_payload(sop, state, payload,
                                       corrections.writable(sop, state.state, tr, role), trigger,
                                       provenance.step_roles(tr, actor.roles), role)  # fmt: skip
    except InvalidData as exc:  # one refusal: the bad values and files, and what else lacks
        raise InvalidData(
            exc.errors,
            context=f"data for '{trigger}'",
            unmet=_step_gaps(sop, state, tr, payload, exc.errors),
        ) from None
    check = _Check(sop, state, after, actor, payload, organisation, facts or {}, now)
    carrier = Carrier(state.state, check)
    try:
        moved = sop.machine.events[trigger].trigger(carrier)
    except MachineError as exc:  # pragma: no cover - by_state already refused it
        raise _not_allowed(sop, state, trigger, actor) from exc
    if not moved:
        raise RequirementNotMet(trigger, check.unmet)
    new = advance(sop, after, trigger, actor.id, carrier.state, now, state.seq + 1)
    if check.flags:
        change["flags"] = list(check.flags)
    if check.grounds:
        change["grounds"] = check.grounds
    event = _event(new.seq, trigger, state.state, new.state, actor, role, now, change,
                   payload.comment, payload.reason, tr.legal_clause)  # fmt: skip
    notices = tuple(notice_for(n.template, n.to.describe(), trigger, new) for n in tr.notify)
    return Outcome(new, event, notices, tuple(check.flags))


def notice_for(template: str, recipient: str, trigger: str, state: RequestState) -> NoticeIntent:
    """A notice to send; an address taken from a field is read now, from this state."""
    address = None
    if recipient.startswith("field:"):
        value = state.data.get(recipient.removeprefix("field:"))
        address = value if isinstance(value, str) else None
    return NoticeIntent(template, recipient, trigger, address)
