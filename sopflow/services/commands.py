"""Commands that change requests: submit, act, attach. One transaction each.

Read what the command needs, let the pure core decide (``states.fire``), then write the
request row (optimistic version check), the hash-chained event, documents and outbox rows
in one transaction. A key given with a command makes it idempotent: the same key again
returns the first outcome and changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sopflow.domain.access import Member, actor_for, can_view, system_actor
from sopflow.errors import CommandRejected, NotFound
from sopflow.services.context import Context
from sopflow.store.blobs import Upload
from sopflow.store.repository import DuplicateKey, Reader, StoredEvent, Writer
from states import engine
from states.machine import CompiledSop
from states.model import Actor, DocumentRef, NoticeIntent, OrganisationFacts, Outcome, Payload
from states.model import RequestState as CoreState


@dataclass(frozen=True)
class CommandResult:
    reference: str
    trigger: str
    state: str
    seq: int
    version: int
    event_hash: str
    notices: int = 0
    flags: tuple[str, ...] = ()
    replayed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flags": list(self.flags)}


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


def _member_of(user: Mapping[str, Any] | None, email: str) -> Member:
    if user is None or not user["active"]:
        raise NotFound(f"no user '{email.strip().lower()}'")
    return Member(
        user["email"], user["organisation_id"], user["org_kind"], frozenset(user["roles"] or ())
    )


def organisation_facts(org: Mapping[str, Any] | None) -> OrganisationFacts | None:
    if org is None:
        return None
    return OrganisationFacts(
        org["id"], org["kind"], org["licence_number"], org["licence_status"], org["licence_expires"]
    )


class Commands:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- idempotency -------------------------------------------------------------------
    def _replay_key(self, key: str | None, actor: str, command: str,
                    reference: str | None) -> CommandResult | None:  # fmt: skip
        if not key:
            return None
        with self.ctx.store.read() as r:
            row = r.idempotent_result(key)
        if row is None:
            return None
        if (
            row["actor_id"] != actor.strip().lower()
            or row["command"] != command
            or (reference is not None and row["reference"] != reference)
        ):
            raise CommandRejected(
                f"idempotency key '{key}' was already used for another command",
                code="idempotency-key-reused",
            )
        return CommandResult(
            **{**row["result"], "flags": tuple(row["result"]["flags"]), "replayed": True}
        )

    def _store_documents(self, uploads: Sequence[Upload]) -> tuple[DocumentRef, ...]:
        refs = []
        for upload in uploads:
            if len(upload.content) > self.ctx.max_document_bytes:
                from sopflow.errors import FieldError, InvalidData

                raise InvalidData(
                    [
                        FieldError(
                            f"document:{upload.kind}",
                            "document-too-large",
                            f"{upload.file_name} exceeds {self.ctx.max_document_bytes} bytes",
                        )
                    ]
                )
            stored = self.ctx.blobs.put(upload)
            refs.append(
                DocumentRef(
                    stored.kind, stored.sha256, stored.file_name, stored.media_type, stored.size
                )
            )
        return tuple(refs)

    # -- commands ----------------------------------------------------------------------
    def submit(self, sop_id: str, email: str, cmd: Command) -> CommandResult:
        """File a new request under the SOP version in effect; fire its submission trigger."""
        with self.ctx.store.bound():
            return self._submit(sop_id, email, cmd)

    def _submit(self, sop_id: str, email: str, cmd: Command) -> CommandResult:
        replayed = self._replay_key(cmd.idempotency_key, email, "submit", None)
        if replayed:
            return replayed
        now = self.ctx.clock()
        member = self._member(email)
        sop = self.ctx.sops.current(sop_id, now)
        actor = actor_for(member, sop.spec, member.organisation_id)
        with self.ctx.store.read() as r:
            org = organisation_facts(r.organisation(member.organisation_id))
        payload = Payload(cmd.data, self._store_documents(cmd.documents), cmd.comment)
        created = engine.create(sop, actor, payload, now)
        outcomes = [created]
        trigger = sop.spec.submission.trigger
        if trigger:
            outcomes.append(
                engine.fire(sop, created.state, trigger, actor, Payload(), now, organisation=org)
            )
        return self._guard_key(cmd, lambda: self._insert(sop, member, outcomes, cmd, now))

    def act(self, reference: str, trigger: str, email: str, cmd: Command,
            marks: list[int] | None = None) -> CommandResult:  # fmt: skip
        """Fire ``trigger`` as ``email``. ``marks`` (benchmarks) receives perf_counter_ns
        stamps when loading is done and when the core has decided."""
        with self.ctx.store.bound():
            return self._act(reference, trigger, email, cmd, marks)

    def _act(self, reference: str, trigger: str, email: str, cmd: Command,
             marks: list[int] | None) -> CommandResult:  # fmt: skip
        replayed = self._replay_key(cmd.idempotency_key, email, trigger, reference)
        if replayed:
            return replayed
        now = self.ctx.clock()
        with self.ctx.store.read() as r:
            user, row, org = r.acting_on(email, reference)
        member = _member_of(user, email)
        if row is None:
            raise NotFound(f"no request '{reference}'")
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        if not can_view(member, sop.spec, row["organisation_id"]):
            raise NotFound(f"no request '{reference}'")
        actor = actor_for(member, sop.spec, row["organisation_id"])
        return self._apply(row, sop, org, actor, trigger, cmd, now, marks)

    def fire_as_system(self, reference: str, trigger: str, cmd: Command) -> CommandResult:
        """A timer transition (expiry, escalation) fired by the SLA sweep."""
        now = self.ctx.clock()
        with self.ctx.store.read() as r:
            row = r.request(reference)
            if row is None:
                raise NotFound(f"no request '{reference}'")
            org = r.organisation(row["organisation_id"])
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        return self._apply(row, sop, org, system_actor(sop.spec), trigger, cmd, now)

    def attach(self, reference: str, email: str, cmd: Command) -> CommandResult:
        replayed = self._replay_key(cmd.idempotency_key, email, "attach", reference)
        if replayed:
            return replayed
        now = self.ctx.clock()
        member = self._member(email)
        row, sop, _ = self._load(reference, member)
        actor = actor_for(member, sop.spec, row["organisation_id"])
        state = CoreState.from_json(row["snapshot"])
        payload = Payload(documents=self._store_documents(cmd.documents), comment=cmd.comment)
        outcome = engine.attach(sop, state, actor, payload, now)
        return self._guard_key(cmd, lambda: self.append_outcomes(row, sop, outcome, cmd, now))

    def _apply(self, row: dict[str, Any], sop: CompiledSop, org: Mapping[str, Any] | None,
               actor: Actor, trigger: str, cmd: Command, now: datetime,
               marks: list[int] | None = None) -> CommandResult:  # fmt: skip
        if marks is not None:
            marks.append(time.perf_counter_ns())
        if cmd.expected_version is not None and cmd.expected_version != row["version"]:
            raise _stale(row, cmd.expected_version)
        state = CoreState.from_json(row["snapshot"])
        payload = Payload(cmd.data, self._store_documents(cmd.documents), cmd.comment, cmd.reason)
        outcome = engine.fire(
            sop,
            state,
            trigger,
            actor,
            payload,
            now,
            organisation=organisation_facts(org),
            facts=self._rule_facts(sop, row, state, trigger),
        )
        if marks is not None:
            marks.append(time.perf_counter_ns())
        return self._guard_key(cmd, lambda: self.append_outcomes(row, sop, outcome, cmd, now))

    # -- reading -----------------------------------------------------------------------
    def _member(self, email: str) -> Member:
        with self.ctx.store.read() as r:
            return _member_of(r.member(email), email)

    def _load(self, reference: str, member: Member
              ) -> tuple[dict[str, Any], CompiledSop, dict[str, Any] | None]:  # fmt: skip
        with self.ctx.store.read() as r:
            row = r.request(reference)
            org = r.organisation(row["organisation_id"]) if row else None
        if row is None:
            raise NotFound(f"no request '{reference}'")
        sop = self.ctx.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
        if not can_view(member, sop.spec, row["organisation_id"]):
            raise NotFound(f"no request '{reference}'")
        return row, sop, org

    def _rule_facts(self, sop: CompiledSop, row: Mapping[str, Any], state: CoreState,
                    trigger: str) -> dict[str, Any]:  # fmt: skip
        """Facts a rule of this step needs from other requests (earlier renewals of the same
        worker); nothing to read for the many steps that need none."""
        tr = sop.by_state.get(state.state, {}).get(trigger)
        refs = [
            r
            for r in (tr.requires.rules if tr else ())
            if r.rule == "renewal_allowed_once" and "worker_field" in r.params
        ]
        if not refs:
            return {}
        worker_field, type_field = (
            str(refs[0].params["worker_field"]),
            str(refs[0].params["type_field"]),
        )
        worker = state.data.get(worker_field)
        with self.ctx.store.read() as r:
            rows = r.all(
                "SELECT snapshot, reference FROM requests WHERE sop_id = :sop AND "
                "outcome = 'approved' AND organisation_id = :org",
                {"sop": sop.spec.id, "org": row["organisation_id"]},
            )
        prior = sum(
            1
            for other in rows
            if other["reference"] != row["reference"]
            and other["snapshot"]["data"].get(worker_field) == worker
            and other["snapshot"]["data"].get(type_field) == "renewal"
        )
        return {"prior_renewals": prior}

    # -- writing -----------------------------------------------------------------------
    def _guard_key(self, cmd: Command, run: Any) -> CommandResult:
        try:
            result: CommandResult = run()
        except DuplicateKey as exc:
            if cmd.idempotency_key:
                with self.ctx.store.read() as r:
                    row = r.idempotent_result(cmd.idempotency_key)
                if row is not None:  # a concurrent twin won the race with the same key
                    return CommandResult(
                        **{
                            **row["result"],
                            "flags": tuple(row["result"]["flags"]),
                            "replayed": True,
                        }
                    )
            raise CommandRejected(f"conflicting write: {exc}", code="conflict") from exc
        return result

    def _insert(self, sop: CompiledSop, member: Member, outcomes: list[Outcome],
                cmd: Command, now: datetime) -> CommandResult:  # fmt: skip
        final = outcomes[-1]
        with self.ctx.store.write() as w:
            self.ctx.sops.ensure_saved(w, sop, now)
            reference = w.next_reference(sop.spec.reference_prefix, now.year)
            request_id = w.insert("requests", {
                "reference": reference, "sop_id": sop.spec.id, "sop_version": sop.spec.version,
                "sop_hash": sop.content_hash, "organisation_id": member.organisation_id,
                "created_by": member.email, **_row_values(sop, final.state), "last_hash": "",
                "created_at": now, "updated_at": now, "version": 1}, returning=True)  # fmt: skip
            assert request_id is not None
            prev = "0" * 64
            notices = 0
            for outcome in outcomes:
                stored = w.append_event(
                    request_id, reference, prev, _event_fields(sop, outcome, cmd.flow_run_id)
                )
                notices += self._record(
                    w,
                    request_id,
                    reference,
                    sop,
                    outcome,
                    stored,
                    member.email,
                    member.organisation_id,
                    now,
                )
                prev = stored.hash
            w.execute(
                "UPDATE requests SET last_hash = :h WHERE id = :id", {"h": prev, "id": request_id}
            )
            result = CommandResult(
                reference,
                final.event.trigger,
                final.state.state,
                final.state.seq,
                1,
                prev,
                notices,
                final.flags,
            )
            if cmd.idempotency_key:
                w.remember(
                    cmd.idempotency_key, member.email, "submit", reference, result.to_dict(), now
                )
        return result

    def append_outcomes(self, row: dict[str, Any], sop: CompiledSop,
                        outcome: Outcome | list[Outcome], cmd: Command,
                        now: datetime) -> CommandResult:  # fmt: skip
        """Append the outcomes' events to an existing request in one transaction."""
        outcomes = outcome if isinstance(outcome, list) else [outcome]
        final = outcomes[-1]
        with self.ctx.store.write() as w:
            prev, notices = row["last_hash"], 0
            for each in outcomes:
                stored = w.append_event(
                    row["id"], row["reference"], prev, _event_fields(sop, each, cmd.flow_run_id)
                )
                notices += self._record(
                    w,
                    row["id"],
                    row["reference"],
                    sop,
                    each,
                    stored,
                    row["created_by"],
                    row["organisation_id"],
                    now,
                )
                prev = stored.hash
            w.update_request(row["id"], row["version"],
                             {**_row_values(sop, final.state), "last_hash": prev,
                              "updated_at": now})  # fmt: skip
            result = CommandResult(row["reference"], final.event.trigger, final.state.state,
                                   final.state.seq, row["version"] + 1, prev, notices,
                                   tuple(f for o in outcomes for f in o.flags))  # fmt: skip
            if cmd.idempotency_key:
                w.remember(cmd.idempotency_key, final.event.actor_id, final.event.trigger,
                           row["reference"], result.to_dict(), now)  # fmt: skip
        return result

    def _record(self, w: Writer, request_id: int, reference: str, sop: CompiledSop,
                outcome: Outcome, stored: StoredEvent, requester: str, request_org: str,
                now: datetime) -> int:  # fmt: skip
        for doc in outcome.event.payload.get("documents") or ():
            w.insert(
                "documents",
                {
                    **doc,
                    "request_id": request_id,
                    "event_seq": stored.seq,
                    "uploaded_by": outcome.event.actor_id,
                    "uploaded_at": now,
                },
            )
        rows: list[dict[str, Any]] = []
        for notice in outcome.notices:
            for address, kind, locale in _recipients(w, sop, notice, requester, request_org):
                rows.append({
                    "message_id": f"{stored.hash[:32]}.{len(rows)}@sopflow",
                    "request_id": request_id, "event_id": stored.id, "event_seq": stored.seq,
                    "trigger": notice.trigger, "template": notice.template, "recipient": address,
                    "recipient_kind": kind, "locale": locale,
                    "status": "pending" if address else "unroutable",
                    "last_error": None if address else f"no recipient for {kind}",
                    "attempts": 0, "attempt_log": [], "next_attempt_at": now,
                    "created_at": now})  # fmt: skip
        w.insert_many("outbox", rows)
        return len(rows)


def _recipients(r: Reader, sop: CompiledSop, notice: NoticeIntent, requester: str,
                request_org: str) -> list[tuple[str, str, str]]:  # fmt: skip
    default = sop.spec.default_locale
    if notice.recipient == "requester":
        user = r.user(requester)
        return [(requester, "requester", user["locale"] if user else default)]
    if notice.recipient.startswith("field:"):
        return [(notice.address or "", notice.recipient, default)]
    role_id = notice.recipient.removeprefix("role:")
    role = sop.roles[role_id]
    org = request_org if role.scope == "own_organisation" else sop.spec.authority.id
    found = [(u["email"], notice.recipient, u["locale"]) for u in r.users_with_role(role_id, [org])]
    return found or [("", notice.recipient, default)]


def _row_values(sop: CompiledSop, state: CoreState) -> dict[str, Any]:
    return {"state": state.state, "outcome": sop.states[state.state].final,
            "snapshot": state.to_json(), "seq": state.seq, "deadline": state.deadline,
            "breached": state.breached}  # fmt: skip


def _event_fields(sop: CompiledSop, outcome: Outcome, flow_run_id: str | None) -> dict[str, Any]:
    ev = outcome.event
    return {"seq": ev.seq, "trigger": ev.trigger, "from_state": ev.from_state,
            "to_state": ev.to_state, "actor_id": ev.actor_id, "role": ev.role,
            "acting_for": ev.acting_for, "payload": dict(ev.payload), "comment": ev.comment,
            "reason": ev.reason, "legal_clause": ev.legal_clause, "sop_id": sop.spec.id,
            "sop_version": sop.spec.version, "sop_hash": sop.content_hash, "at": ev.at,
            "flow_run_id": flow_run_id}  # fmt: skip


def _stale(row: Mapping[str, Any], expected: int) -> CommandRejected:
    from sopflow.errors import Conflict

    return Conflict(
        f"request {row['reference']} is at version {row['version']}, not {expected}; "
        f"it is now in state '{row['state']}'",
        details={"state": row["state"], "version": row["version"]},
    )
