"""Writing what the core decided: one transaction per command.

The request row is updated first, with its optimistic version check, so that of two
commands racing on one request the loser stops at once with a ``Conflict`` naming the
current state; then the hash-chained events, their documents and their outbox rows; then
the idempotency key. All of it commits together or not at all.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sopflow.domain.access import Member
from sopflow.domain.chain import GENESIS, SALT, canonical_json, event_hash
from sopflow.errors import CommandRejected, Conflict
from sopflow.services.context import Context
from sopflow.store.queries import DuplicateKey, Reader, StoredEvent, Writer
from sopflow.store.sql import JsonText
from states.machine import CompiledSop
from states.model import NoticeIntent, Outcome
from states.model import RequestState as CoreState

# what a write transaction checks first, or raises (services.facts)
Recheck = Callable[[Writer], None] | None


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

    @classmethod
    def replay_of(cls, stored: dict[str, Any]) -> CommandResult:
        return cls(**{**stored, "flags": tuple(stored["flags"]), "replayed": True})


@dataclass(frozen=True)
class IdempotencyKey:
    """A caller's key and the fingerprint of what it asked (same key, other content: refused)."""

    key: str
    actor: str
    command: str
    fingerprint: str

    @classmethod
    def of(cls, key: str, actor: str, command: str, content: dict[str, Any]) -> IdempotencyKey:
        digest = hashlib.sha256(canonical_json(content).encode()).hexdigest()
        return cls(key, actor.strip().lower(), command, digest)


def stored_replay(r: Reader, key: IdempotencyKey | None,
                  reference: str | None) -> CommandResult | None:  # fmt: skip
    """The first outcome of a command the same caller already applied under ``key``; refuse
    a key they reused for another command. Keys are per caller: another user's use of the
    same key is neither replayed nor refused (nor revealed)."""
    if key is None:
        return None
    row = r.idempotent_result(key.actor, key.key)
    if row is None:
        return None
    same = (row["actor_id"] == key.actor and row["command"] == key.command
            and row["fingerprint"] == key.fingerprint
            and (reference is None or row["reference"] == reference))  # fmt: skip
    if not same:
        raise CommandRejected(f"idempotency key '{key.key}' was already used for a different "
                              "command or content", code="idempotency-key-reused")  # fmt: skip
    return CommandResult.replay_of(row["result"])


def event_fields(sop: CompiledSop, outcome: Outcome, flow_run_id: str | None) -> dict[str, Any]:
    ev = outcome.event
    return {"seq": ev.seq, "trigger": ev.trigger, "from_state": ev.from_state,
            "to_state": ev.to_state, "actor_id": ev.actor_id, "role": ev.role,
            "acting_for": ev.acting_for, "payload": dict(ev.payload), "comment": ev.comment,
            "reason": ev.reason, "legal_clause": ev.legal_clause, "sop_id": sop.spec.id,
            "sop_version": sop.spec.version, "sop_hash": sop.content_hash, "at": ev.at,
            "flow_run_id": flow_run_id}  # fmt: skip


def row_values(sop: CompiledSop, state: CoreState, snapshot: str) -> dict[str, Any]:
    return {"state": state.state, "outcome": sop.states[state.state].final,
            "snapshot": snapshot, "seq": state.seq, "deadline": state.deadline,
            "breached": state.breached}  # fmt: skip


# Indexed columns: setting one, even to its old value, makes SQLite rewrite its index
# entry (a page more per step), so an unchanged one is left out of the UPDATE. The state
# changes with nearly every step; a deadline often does not (bench/wal_frames.py).
_INDEXED = ("deadline",)


def _changed(row: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items()
            if k not in _INDEXED or k not in row or row[k] != v}  # fmt: skip


def _chained(reference: str, prev: str, sop: CompiledSop, outcomes: list[Outcome],
             flow_run_id: str | None) -> list[tuple[dict[str, Any], str, str]]:  # fmt: skip
    """(fields, prev_hash, hash) of each event, computed before anything is written."""
    result = []
    for outcome in outcomes:
        fields = event_fields(sop, outcome, flow_run_id)
        fields["payload"][SALT] = secrets.token_hex(16)  # sopflow.domain.chain.SALT: why
        # encoded once: the text its hash covers is the text stored
        fields["payload"] = JsonText(canonical_json(fields["payload"]))
        own = event_hash({**fields, "reference": reference, "prev_hash": prev})
        result.append((fields, prev, own))
        prev = own
    return result


class Recorder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def guarded(self, key: IdempotencyKey | None, run: Any) -> CommandResult:
        """Run a write; a twin that won the race with the same key gives its outcome."""
        try:
            result: CommandResult = run()
        except (DuplicateKey, Conflict) as exc:
            if key is not None:
                with self.ctx.store.read() as r:
                    replayed = stored_replay(r, key, None)
                if replayed is not None:
                    return replayed
            if isinstance(exc, Conflict):
                raise
            raise CommandRejected(f"conflicting write: {exc}", code="conflict") from exc
        return result

    def insert_request(self, sop: CompiledSop, member: Member, outcomes: list[Outcome],
                       key: IdempotencyKey | None, flow_run_id: str | None,
                       now: datetime, recheck: Recheck = None) -> CommandResult:  # fmt: skip
        final = outcomes[-1]
        snapshot = self.ctx.snapshots.text(final.state)
        with self.ctx.store.write() as w:
            if recheck is not None:
                recheck(w)
            self.ctx.sops.ensure_saved(w, sop, now)
            reference = w.next_reference(sop.spec.reference_prefix, now.year)
            events = _chained(reference, GENESIS, sop, outcomes, flow_run_id)
            request_id = w.insert("requests", {
                "reference": reference, "sop_id": sop.spec.id, "sop_version": sop.spec.version,
                "sop_hash": sop.content_hash, "organisation_id": member.organisation_id,
                "created_by": member.email, **row_values(sop, final.state, snapshot),
                "last_hash": events[-1][2], "created_at": now, "updated_at": now,
                "version": 1}, returning=True)  # fmt: skip
            notices = self._events(w, request_id, member.email, member.organisation_id, sop,
                                   outcomes, events, now)  # fmt: skip
            result = CommandResult(reference, final.event.trigger, final.state.state,
                                   final.state.seq, 1, events[-1][2], notices,
                                   tuple(f for o in outcomes for f in o.flags))  # fmt: skip
            self._remember(w, key, reference, result, now)
        return result

    def append(self, row: dict[str, Any], sop: CompiledSop, outcomes: list[Outcome],
               key: IdempotencyKey | None, flow_run_id: str | None,
               now: datetime, recheck: Recheck = None) -> CommandResult:  # fmt: skip
        """Append the outcomes' events to an existing request (``row`` as it was read).
        ``recheck`` runs first in the transaction (``services.facts``)."""
        final = outcomes[-1]
        events = _chained(row["reference"], row["last_hash"], sop, outcomes, flow_run_id)
        snapshot = self.ctx.snapshots.text(final.state)
        values = {**row_values(sop, final.state, snapshot), "last_hash": events[-1][2],
                  "updated_at": now}  # fmt: skip
        with self.ctx.store.write() as w:
            if recheck is not None:
                recheck(w)
            w.update_request(row["id"], row["version"], _changed(row, values))
            notices = self._events(w, row["id"], row["created_by"], row["organisation_id"], sop,
                                   outcomes, events, now)  # fmt: skip
            result = CommandResult(row["reference"], final.event.trigger, final.state.state,
                                   final.state.seq, row["version"] + 1, events[-1][2], notices,
                                   tuple(f for o in outcomes for f in o.flags))  # fmt: skip
            self._remember(w, key, row["reference"], result, now)
        return result

    @staticmethod
    def _remember(w: Writer, key: IdempotencyKey | None, reference: str,
                  result: CommandResult, now: datetime) -> None:  # fmt: skip
        if key is not None:
            w.insert("idempotency_keys", {
                "key": key.key, "actor_id": key.actor, "command": key.command,
                "fingerprint": key.fingerprint, "reference": reference,
                "result": result.to_dict(), "created_at": now})  # fmt: skip

    def _events(self, w: Writer, request_id: int, requester: str, request_org: str,
                sop: CompiledSop, outcomes: list[Outcome],
                events: list[tuple[dict[str, Any], str, str]], now: datetime) -> int:  # fmt: skip
        notices = 0
        for outcome, (fields, prev, own) in zip(outcomes, events, strict=True):
            stored = w.append_event(request_id, prev, fields, own)
            notices += self._record(w, request_id, sop, outcome, stored, requester,
                                    request_org, now)  # fmt: skip
        return notices

    def _record(self, w: Writer, request_id: int, sop: CompiledSop, outcome: Outcome,
                stored: StoredEvent, requester: str, request_org: str,
                now: datetime) -> int:  # fmt: skip
        for doc in outcome.event.payload.get("documents") or ():
            w.insert("documents", {**doc, "request_id": request_id, "event_seq": stored.seq,
                                   "uploaded_by": outcome.event.actor_id,
                                   "uploaded_at": now})  # fmt: skip
        rows: list[dict[str, Any]] = []
        sent: set[tuple[str, str]] = set()
        for notice in outcome.notices:
            for address, kind, locale in _recipients(w, sop, notice, requester, request_org):
                # one notice per person per event: a user holding two of the roles told,
                # or a contact address that is the requester's, gets it once (an unroutable
                # row is kept for each recipient nobody could stand for)
                key = (notice.template, address.strip().lower())
                if address and key in sent:
                    continue
                sent.add(key)
                rows.append({
                    "message_id": f"{stored.hash[:32]}.{len(rows)}@sopflow",
                    "request_id": request_id, "event_id": stored.id, "event_seq": stored.seq,
                    "trigger": notice.trigger, "template": notice.template, "recipient": address,
                    "recipient_kind": kind, "locale": locale,
                    # what the notice says of the request is what was true at its event
                    "deadline": outcome.state.deadline,
                    "status": "pending" if address else "unroutable",
                    "last_error": None if address else f"no recipient for {kind}",
                    "attempts": 0, "attempt_log": [], "next_attempt_at": now,
                    "created_at": now})  # fmt: skip
        w.insert_many("outbox", rows)
        return len(rows)


def _recipients(r: Reader, sop: CompiledSop, notice: NoticeIntent, requester: str,
                request_org: str) -> list[tuple[str, str, str]]:  # fmt: skip
    """(address, recipient kind, locale) for each person a notice goes to."""
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
