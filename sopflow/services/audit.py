"""For auditors: history with proof of notice, replay as of any moment, chain verification,
and exports whose manifest carries the chain head so the export itself can be checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sopflow.domain.access import effective_roles
from sopflow.domain.chain import Break, without_salt
from sopflow.domain.disclosure import sees_who_acted, shown_actor
from sopflow.errors import FieldError, InvalidData
from sopflow.services.anchors import Anchor
from sopflow.services.context import Context
from sopflow.services.directory import Directory
from sopflow.services.export_write import write_export
from sopflow.services.queries import Queries
from sopflow.services.verification import VerifyReport, verify
from states.model import EventRecord, RequestState
from states.replay import replay


def _record(row: dict[str, Any]) -> EventRecord:
    return EventRecord.from_json(row)


class Audit:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _visible(self, reference: str, email: str | None) -> tuple[dict[str, Any], Any]:
        """The request as ``email`` may see it; None: the operator (every request)."""
        queries = Queries(self.ctx)
        return queries.visible_row(reference, queries.reader(email))

    def history(self, reference: str, email: str | None,
                lang: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Every event of the request, with the notices it caused (their proof: recipient,
        template, delivery, provider's message id). The notices are for the officials and
        auditors who may see the request, and the operator (``email`` None): a requester's
        history carries none, neither of others (officials' addresses, the provider's ids
        and errors) nor their own, as their request page shows none.

        Who did each step is shown as ``sopflow.domain.disclosure`` decides for the reader:
        to a requester, an official is their office (``actor_masked``), in ``lang`` (None:
        the reader's own language, as their notices are written in); such a reader is not
        shown the payloads' salt (``sopflow.domain.chain.SALT``), which keeps them from
        testing a guess of the official's address against the hash."""
        queries = Queries(self.ctx)
        member = queries.reader(email)
        row, sop = queries.visible_row(reference, member)
        requester = member is not None and bool(
            sop.requester_roles & effective_roles(member, sop.spec, row["organisation_id"])
        )
        sees = sees_who_acted(member, sop.spec, row["organisation_id"])
        with self.ctx.store.snapshot() as r:  # the events and their notices as of one moment
            evs = r.events_of(row["id"])
            notices = [] if requester else r.outbox_of(row["id"])
            user = r.user(email) if email is not None and lang is None and not sees else None
        lang = lang or (user["locale"] if user else sop.spec.default_locale)
        by_event: dict[int, list[dict[str, Any]]] = {}
        for n in notices:
            by_event.setdefault(n["event_seq"], []).append({
                "recipient": n["recipient"], "recipient_kind": n["recipient_kind"],
                "template": n["template"], "template_version": n["template_version"],
                "locale": n["locale"], "status": n["status"], "attempts": n["attempts"],
                "sent_at": n["sent_at"].isoformat() if n["sent_at"] else None,
                "provider_message_id": n["provider_message_id"], "message_id": n["message_id"],
                "subject_hash": n["subject_hash"], "body_hash": n["body_hash"],
                "last_error": n["last_error"]})  # fmt: skip
        clauses = {b.id: b.cited(lang) for b in sop.spec.legal_basis}

        def who(e: dict[str, Any]) -> dict[str, Any]:
            """The step's actor (and whom they acted for) as this reader is shown them."""
            actor = shown_actor(e["actor_id"], e["role"], sop.spec, lang, sees=sees)
            acting_for = e["acting_for"] and shown_actor(e["acting_for"], e["role"], sop.spec,
                                                         lang, sees=sees).text  # fmt: skip
            return {"actor": actor.text, "actor_masked": actor.office, "acting_for": acting_for}

        return {
            "reference": row["reference"], "sop_id": row["sop_id"],
            "sop_version": row["sop_version"], "sop_hash": row["sop_hash"], "state": row["state"],
            "events": [{
                "seq": e["seq"], "at": e["at"].isoformat(), "trigger": e["trigger"],
                "from_state": e["from_state"], "to_state": e["to_state"],
                **who(e),
                "role": e["role"], "comment": e["comment"],
                "reason": e["reason"], "legal_clause": e["legal_clause"],
                "legal_citation": clauses.get(e["legal_clause"] or ""),
                "payload": e["payload"] if sees else without_salt(e["payload"]),
                "sop_version": e["sop_version"], "flow_run_id": e["flow_run_id"],
                "hash": e["hash"], "notices": by_event.get(e["seq"], [])} for e in evs],
        }  # fmt: skip

    def replay(self, reference: str, email: str | None, *, at_seq: int | None = None,
               as_of: datetime | None = None) -> dict[str, Any]:  # fmt: skip
        if at_seq is not None and as_of is not None:
            raise InvalidData([FieldError("as_of", "conflicting", "give as_of or at_seq, not "
                                          "both")], context="replay")  # fmt: skip
        queries = Queries(self.ctx)
        member = queries.reader(email)
        # the row and its events as of one moment: a step committed in between is not a
        # difference between the stored state and the log
        with self.ctx.store.snapshot() as r:
            found = r.request(reference)
            evs = r.events_of(found["id"]) if found is not None else []
        row, sop = queries.visible(reference, found, member)
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)  # a moment given without its zone is UTC
        last = evs[-1]["seq"] if evs else 0
        if at_seq is not None and not 1 <= at_seq <= last:
            raise InvalidData([FieldError(
                "at_seq", "out-of-range", f"request {reference} has events 1 to {last}; "
                f"there is no event {at_seq}", {"first": 1, "last": last})],
                context="replay")  # fmt: skip
        result = replay([_record(e) for e in evs], sop, until_seq=at_seq, until_time=as_of)
        state = result.state
        full = at_seq is None and as_of is None
        differences: list[str] = list(result.anomalies)
        if full and state is not None:
            outcome = sop.states[state.state].final if state.state in sop.states else None
            differences += _differences(row["snapshot"], state, row, outcome)
        if state is not None:  # the documents on file then must still be those bytes
            differences += self._stored_documents(state)
        return {
            "reference": reference,
            "sop_id": sop.spec.id,
            "sop_version": sop.spec.version,
            "as_of": as_of.isoformat() if as_of else None,
            "at_seq": at_seq,
            "last_seq": last,
            "first_event_at": evs[0]["at"].isoformat() if evs else None,
            "events_applied": result.applied,
            "state": state.state if state else None,
            "data": dict(state.data) if state else {},
            "documents": [d.to_json() for d in state.documents] if state else [],
            "deadline": state.deadline.isoformat() if state and state.deadline else None,
            "consistent": not differences,
            "differences": differences,
        }

    def _stored_documents(self, state: RequestState) -> list[str]:
        """Each document the events name must still be in storage with its very bytes (one
        finding per stored file, naming every document it is)."""
        named: dict[str, list[str]] = {}
        for doc in state.documents:
            named.setdefault(doc.sha256, []).append(f"'{doc.kind}' {doc.file_name}")
        found = []
        for sha256, documents in named.items():
            problem = self.ctx.blobs.problem(sha256)
            if problem:
                which = ", ".join(dict.fromkeys(documents))
                found.append(f"document {which} ({sha256[:12]}…) is {problem}")
        return found

    def verify(self, reference: str | None = None,
               anchor: Anchor | None = None) -> VerifyReport:  # fmt: skip
        """``verification.verify``: every hash chain (or one request's), the directory log,
        and what lies beside them."""
        return verify(self.ctx, reference, anchor)

    def verify_as(self, email: str, reference: str | None = None) -> VerifyReport:
        """``verify`` for an auditor of some SOPs: a break in a request of another SOP is
        reported without naming that request (the log is one chain, so the auditor must
        learn that it is broken, but not what another authority's requests are), and only
        the requests of their SOPs are counted. A break in the directory log about a user
        is named only to the auditors of that user's organisation or of the SOPs under
        which it filed requests; one about an organisation (a public register: licences),
        to every auditor."""
        report = self.verify(reference)
        scope = self.auditor_scope(email)
        with self.ctx.store.read() as r:
            rows = r.all("SELECT reference, sop_id, organisation_id FROM requests")
        sop_of = {row["reference"]: row["sop_id"] for row in rows}
        # the organisations whose users this auditor reads of in their requests' histories,
        # and their own: a directory break about anyone else's account is not theirs to read
        known = {row["organisation_id"] for row in rows if row["sop_id"] in scope}
        known.add(Directory(self.ctx).member(email).organisation_id)

        def shown(b: Break) -> Break:
            if b.reference is not None and sop_of.get(b.reference) not in scope:
                return Break(b.code, f"a break in a request of an SOP outside your audit "
                             f"({b.code}); its auditors can see which")  # fmt: skip
            if b.user is not None and b.user[1] not in known:
                return Break(b.code, f"a break in the directory log about a user of an "
                             f"organisation outside your audit ({b.code}); the operator can "
                             "see which (sopflow audit verify)")  # fmt: skip
            return b

        report.breaks = [shown(b) for b in report.breaks]
        if reference is None:
            report.requests = sum(1 for sop_id in sop_of.values() if sop_id in scope)
        return report

    def auditor_scope(self, email: str) -> frozenset[str]:
        """The SOPs whose whole log this user may read: those where an auditor role of the
        SOP applies to them (an auditor of the authority that issued it)."""
        member = Directory(self.ctx).member(email)
        return frozenset(
            sop.spec.id for sop in self.ctx.sops.catalogue.versions.values()
            if any(sop.roles[r].kind == "auditor" for r in effective_roles(member, sop.spec, None))
        )  # fmt: skip

    def export(self, target: Path, fmt: str, start: datetime | None = None,
               end: datetime | None = None,
               scope: frozenset[str] | None = None) -> dict[str, Any]:  # fmt: skip
        """Write the events and ``<target>.manifest.json`` (``export_write``)."""
        return write_export(self.ctx, target, fmt, start, end, scope)


def _differences(snapshot: Any, rebuilt: RequestState, row: dict[str, Any],
                 outcome: str | None) -> list[str]:  # fmt: skip
    """Where the stored request (its row and snapshot) is not what its events rebuild: every
    part of the snapshot, since the engine decides from it (who did what for separation of
    duties, which documents were on file, the deadline)."""
    try:
        stored = RequestState.from_json(snapshot)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return [f"the stored snapshot is malformed ({type(exc).__name__}: {exc}): it was "
                "changed outside sopflow"]  # fmt: skip
    diffs = []
    for where, value in (("snapshot", stored.state), ("row", row["state"])):
        if value != rebuilt.state:
            diffs.append(f"state: the {where} says '{value}', replay gives '{rebuilt.state}'")
    if dict(stored.data) != dict(rebuilt.data):
        keys = sorted(
            k
            for k in set(stored.data) | set(rebuilt.data)
            if stored.data.get(k) != rebuilt.data.get(k)
        )
        diffs.append(f"data differs in: {', '.join(keys)}")
    for where, number in (("snapshot", stored.seq), ("row", row["seq"])):
        if number != rebuilt.seq:
            diffs.append(f"seq: the {where} says {number}, replay gives {rebuilt.seq}")
    if stored.documents != rebuilt.documents:
        diffs.append("documents differ")
    if dict(stored.acted) != dict(rebuilt.acted):
        steps = sorted(k for k in set(stored.acted) | set(rebuilt.acted)
                       if stored.acted.get(k) != rebuilt.acted.get(k))  # fmt: skip
        diffs.append(f"who did which step differs for: {', '.join(steps)} (separation of "
                     "duties is decided from it)")  # fmt: skip
    if dict(stored.documents_at) != dict(rebuilt.documents_at):
        diffs.append("the documents on file at each step differ")
    for name in ("entered_at", "deadline", "breached", "warned"):
        if getattr(stored, name) != getattr(rebuilt, name):
            diffs.append(f"{name.replace('_', ' ')}: stored {_shown(getattr(stored, name))}, "
                         f"replay gives {_shown(getattr(rebuilt, name))}")  # fmt: skip
    if _moment(row.get("deadline")) != rebuilt.deadline:
        diffs.append(f"the row's deadline: stored {_shown(_moment(row.get('deadline')))}, "
                     f"replay gives {_shown(rebuilt.deadline)}")  # fmt: skip
    # the row's own columns that lists, the inbox, the SLA sweep and statistics read
    if bool(row.get("breached")) != rebuilt.breached:
        diffs.append(f"the row's breach: stored {_shown(bool(row.get('breached')))}, replay "
                     f"gives {_shown(rebuilt.breached)}")  # fmt: skip
    if row.get("outcome") != outcome:
        diffs.append(f"the row's outcome: stored {_shown(row.get('outcome'))}, its state "
                     f"'{rebuilt.state}' gives {_shown(outcome)}")  # fmt: skip
    return diffs


def _moment(value: Any) -> datetime | None:
    """A stored moment as an aware datetime (SQLite gives it back without its zone, UTC)."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if isinstance(value, datetime) else None


def _shown(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else json.dumps(value)
