"""Commands that change requests: submit, act, attach, and the system's timer steps.

Read what the command needs, let the pure core decide (``states.engine``), then record it
in one transaction (``recording``). A key given with a command makes it idempotent: the
same key and content again return the first outcome and change nothing. Documents are
stored (content-addressed) only once the core has accepted the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sopflow.domain.access import Member, actor_for, system_actor
from sopflow.errors import Conflict, FieldError, InvalidData, NotFound
from sopflow.services.context import Context
from sopflow.services.facts import FactQuery, FactsChanged, fact_query
from sopflow.services.recording import (
    CommandResult,
    IdempotencyKey,
    Recheck,
    Recorder,
    stored_replay,
)
from sopflow.store.blobs import Upload
from states import engine, payloads
from states.machine import CompiledSop
from states.model import Actor, DocumentRef, OrganisationFacts, Outcome, Payload
from states.model import RequestState as CoreState

__all__ = ["Command", "CommandResult", "Commands", "member_of", "organisation_facts"]


@dataclass(frozen=True)
class Command:
    """What a caller asks: the optional parts of submit/act/attach."""

    data: Mapping[str, Any] = field(default_factory=dict)
    documents: Sequence[Upload] = ()
    comment: str | None = None
    reason: str | None = None
    idempotency_key: str | None = None
    expected_version: int | None = None
    flow_run_id: str | None = None

    def key(self, actor: str, command: str, reference: str | None) -> IdempotencyKey | None:
        if not self.idempotency_key:
            return None
        content = {"reference": reference, "data": dict(self.data), "comment": self.comment,
                   "reason": self.reason, "documents": [
                       [d.kind, d.file_name, len(d.content)] for d in self.documents]}  # fmt: skip
        return IdempotencyKey.of(self.idempotency_key, actor, command, content)


def member_of(user: Mapping[str, Any] | None, email: str) -> Member:
    if user is None or not user["active"]:
        raise NotFound(f"no user '{email.strip().lower()}'")
    return Member(user["email"], user["organisation_id"], user["org_kind"],
                  frozenset(user["roles"] or ()))  # fmt: skip


def organisation_facts(org: Mapping[str, Any] | None) -> OrganisationFacts | None:
    if org is None:
        return None
    return OrganisationFacts(org["id"], org["kind"], org["licence_number"],
                             org["licence_status"], org["licence_expires"])  # fmt: skip


class Commands:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.recorder = Recorder(ctx)

    def _replayed(self, key: IdempotencyKey | None, reference: str | None) -> CommandResult | None:
        if key is None:
            return None
        with self.ctx.store.read() as r:
            return stored_replay(r, key, reference)

    def documents(self, uploads: Sequence[Upload],
                  sop: CompiledSop | None = None) -> tuple[DocumentRef, ...]:  # fmt: skip
        """What the core needs to know of each upload (checked, hashed; not yet written).
        With ``sop``, each is also checked against its kind as the core will check it (a
        kind the SOP declares, the kind's size and media types). Every bad file is named in
        one refusal, not the first one only."""
        refs, errors, limit = [], [], self.ctx.max_document_bytes
        known = {d.id for d in sop.spec.documents} if sop is not None else set()
        for upload in uploads:
            if sop is not None and upload.kind not in known:  # its content is checked too
                ref = DocumentRef(upload.kind, "", upload.file_name, "", len(upload.content))
                errors.extend(payloads.document_errors(sop, [ref]))
            if len(upload.content) > limit:
                errors.append(FieldError(f"document:{upload.kind}", "document-too-large",
                                         f"{upload.file_name} exceeds {limit} bytes",
                                         {"file": upload.file_name, "limit": limit}))  # fmt: skip
                continue
            try:
                d = self.ctx.blobs.describe(upload)
            except InvalidData as exc:  # empty, or not what its name says
                errors.extend(exc.errors)
                continue
            refs.append(DocumentRef(d.kind, d.sha256, d.file_name, d.media_type, d.size))
            if sop is not None and upload.kind in known:
                errors.extend(payloads.document_errors(sop, refs[-1:]))
        if errors:
            raise InvalidData(errors, context="documents")
        return tuple(refs)

    def sop_for(self, email: str, *, sop_id: str | None = None,
                reference: str | None = None) -> CompiledSop:  # fmt: skip
        """The SOP version a filing under ``sop_id`` (the version in effect) or a step on
        ``reference`` (its pinned version) is checked against; a request ``email`` may not
        see is not found, as the command would answer."""
        if reference is not None:
            return self._visible(reference, email)[1]
        return self.ctx.sops.current(str(sop_id), self.ctx.clock())

    def _keep(self, uploads: Sequence[Upload]) -> None:
        for upload in uploads:
            self.ctx.blobs.put(upload)

    # -- commands ----------------------------------------------------------------------
    def submit(self, sop_id: str, email: str, cmd: Command) -> CommandResult:
        """File a new request under the SOP version in effect; fire its submission trigger."""
        with self.ctx.store.bound():
            key = cmd.key(email, "submit", None)
            replayed = self._replayed(key, None)
            if replayed:
                return replayed
            return _decided_again(lambda: self._file(sop_id, email, cmd, key))

    def _file(self, sop_id: str, email: str, cmd: Command,
              key: IdempotencyKey | None) -> CommandResult:  # fmt: skip
        now = self.ctx.clock()
        sop, member, outcomes, recheck = self._filing(sop_id, email, cmd, now)
        self._keep(cmd.documents)
        return self.recorder.guarded(key, lambda: self.recorder.insert_request(
            sop, member, outcomes, key, cmd.flow_run_id, now, recheck))  # fmt: skip

    def check_filing(self, sop_id: str, email: str, cmd: Command) -> None:
        """Raise what filing would refuse, recording nothing: the same checks as ``submit``
        (a page whose form brought a bad file still lists every other mistake)."""
        with self.ctx.store.bound():
            self._filing(sop_id, email, cmd, self.ctx.clock())

    def _filing(self, sop_id: str, email: str, cmd: Command, now: datetime
                ) -> tuple[CompiledSop, Member, list[Outcome], Recheck]:  # fmt: skip
        with self.ctx.store.read() as r:
            member = member_of(r.member(email), email)
            org = organisation_facts(r.organisation(member.organisation_id))
        sop = self.ctx.sops.current(sop_id, now)
        actor = actor_for(member, sop.spec, member.organisation_id)
        payload = Payload(cmd.data, self.documents(cmd.documents), cmd.comment)
        outcomes = [engine.create(sop, actor, payload, now)]
        trigger, recheck = sop.spec.submission.trigger, None
        if trigger:
            query = fact_query(sop, None, outcomes[0].state, trigger)
            facts = self._facts(query)
            outcomes.append(engine.fire(sop, outcomes[0].state, trigger, actor, Payload(),
                                        now, organisation=org, facts=facts))  # fmt: skip
            recheck = query.recheck(facts) if query else None
        return sop, member, outcomes, recheck

    def act(self, reference: str, trigger: str, email: str, cmd: Command,
            marks: list[int] | None = None) -> CommandResult:  # fmt: skip
        """Fire ``trigger`` as ``email``. ``marks`` (benchmarks) receives perf_counter_ns
        stamps when loading is done and when the core has decided."""
        with self.ctx.store.bound():
            key = cmd.key(email, trigger, reference)
            replayed = self._replayed(key, reference)
            if replayed:
                return replayed

            def once() -> CommandResult:
                row, sop, org, actor = self._visible(reference, email)
                return self._apply(row, sop, org, actor, trigger, cmd, key, self.ctx.clock(),
                                   marks)  # fmt: skip

            return _decided_again(once)

    def fire_as_system(self, reference: str, trigger: str, cmd: Command) -> CommandResult:
        """A timer transition (expiry, escalation) fired by the system."""
        with self.ctx.store.bound():
            return _decided_again(lambda: self._fire_once(reference, trigger, cmd))

    def _fire_once(self, reference: str, trigger: str, cmd: Command) -> CommandResult:
        now = self.ctx.clock()
        with self.ctx.store.read() as r:
            row = r.request(reference)
            if row is None:
                raise NotFound.request(reference)
            org = r.organisation(row["organisation_id"])
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        return self._apply(row, sop, org, system_actor(sop.spec), trigger, cmd, None, now)

    def attach(self, reference: str, email: str, cmd: Command) -> CommandResult:
        """Add documents without changing the state."""
        with self.ctx.store.bound():
            key = cmd.key(email, "attach", reference)
            replayed = self._replayed(key, reference)
            if replayed:
                return replayed
            now = self.ctx.clock()
            row, sop, _, actor = self._visible(reference, email)
            _check_version(row, cmd)
            state = self._state(row)
            payload = Payload(documents=self.documents(cmd.documents), comment=cmd.comment)
            outcome = engine.attach(sop, state, actor, payload, now)
            self._keep(cmd.documents)
            return self.recorder.guarded(key, lambda: self.recorder.append(
                row, sop, [outcome], key, cmd.flow_run_id, now))  # fmt: skip

    def append_outcomes(self, row: dict[str, Any], sop: CompiledSop, outcomes: list[Outcome],
                        cmd: Command, now: datetime) -> CommandResult:  # fmt: skip
        """Record outcomes decided elsewhere (the SLA sweep) on a request as it was read."""
        return self.recorder.append(row, sop, outcomes, None, cmd.flow_run_id, now)

    def check(self, reference: str, trigger: str, email: str, cmd: Command) -> Outcome:
        """What firing ``trigger`` now would do, recording nothing (a preview): the same
        checks as ``act``, so the same refusal (raised) or the outcome it would record."""
        row, sop, org, actor = self._visible(reference, email)
        return self._decide(row, sop, org, actor, trigger, cmd, self.ctx.clock())[0]

    def _decide(self, row: dict[str, Any], sop: CompiledSop, org: Mapping[str, Any] | None,
                actor: Actor, trigger: str, cmd: Command,
                now: datetime) -> tuple[Outcome, Recheck]:  # fmt: skip
        """The outcome, and the check its write must pass first if its rules read other
        requests (``services.facts``)."""
        _check_version(row, cmd)
        state = self._state(row)
        payload = Payload(cmd.data, self.documents(cmd.documents), cmd.comment, cmd.reason)
        query = fact_query(sop, row["reference"], state, trigger, cmd.data)
        facts = self._facts(query)
        outcome = engine.fire(sop, state, trigger, actor, payload, now,
                              organisation=organisation_facts(org), facts=facts)  # fmt: skip
        return outcome, query.recheck(facts) if query else None

    def _apply(self, row: dict[str, Any], sop: CompiledSop, org: Mapping[str, Any] | None,
               actor: Actor, trigger: str, cmd: Command, key: IdempotencyKey | None,
               now: datetime, marks: list[int] | None = None) -> CommandResult:  # fmt: skip
        if marks is not None:
            marks.append(time.perf_counter_ns())
        outcome, recheck = self._decide(row, sop, org, actor, trigger, cmd, now)
        if marks is not None:
            marks.append(time.perf_counter_ns())
        self._keep(cmd.documents)
        return self.recorder.guarded(key, lambda: self.recorder.append(
            row, sop, [outcome], key, cmd.flow_run_id, now, recheck))  # fmt: skip

    # -- reading -----------------------------------------------------------------------
    def _state(self, row: Mapping[str, Any]) -> CoreState:
        """The request's state: from the snapshot text read on the hot path
        (``raw_snapshot``, decoded once) or from the decoded snapshot of a full row."""
        return self.ctx.snapshots.state(row.get("raw_snapshot") or row["snapshot"])

    def _visible(self, reference: str, email: str) -> tuple[
            dict[str, Any], CompiledSop, dict[str, Any] | None, Actor]:  # fmt: skip
        """The request as this user may see it (in one round trip) and the user acting on it
        with the roles that apply to it; others' requests are not found."""
        with self.ctx.store.read() as r:
            user, row, org = r.acting_on(email, reference)
        member = member_of(user, email)
        if row is None:
            raise NotFound.request(reference)
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        actor = actor_for(member, sop.spec, row["organisation_id"])
        if not actor.roles:  # no role of this SOP applies to them here: they may not see it
            raise NotFound.request(reference)
        return row, sop, org, actor

    def _facts(self, query: FactQuery | None) -> dict[str, Any]:
        if query is None:
            return {}
        with self.ctx.store.read() as r:
            return query.read(r)


def _decided_again(run: Callable[[], CommandResult]) -> CommandResult:
    """Run a command; decide it again when what its rules read of other requests changed
    before it could be written (``services.facts``), at most ``_ATTEMPTS`` times."""
    for _ in range(_ATTEMPTS - 1):
        try:
            return run()
        except FactsChanged:
            continue
    try:
        return run()
    except FactsChanged as exc:
        raise Conflict(
            f"other requests under '{exc}' kept changing what this step's rules check (a "
            "number used once, a worker's contracts) while it was decided: try again",
            details={"sop_id": str(exc)},
        ) from exc


_ATTEMPTS = 3


def _check_version(row: Mapping[str, Any], cmd: Command) -> None:
    if cmd.expected_version is not None and cmd.expected_version != row["version"]:
        raise Conflict(
            f"request {row['reference']} is at version {row['version']}, not "
            f"{cmd.expected_version}; it is now in state '{row['state']}'",
            # ``expected``: the version the caller stated (the API answers 412, not 409)
            details={
                "state": row["state"],
                "version": row["version"],
                "expected": cmd.expected_version,
            },
        )
