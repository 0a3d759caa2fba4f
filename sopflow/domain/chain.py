"""Tamper evidence: the canonical encoding and hashes of events, and chain verification.

Each event's ``hash`` is SHA-256 over a canonical JSON encoding (sorted keys, no spaces,
UTF-8) of its content and ``prev_hash``, the hash of the request's previous event (64 zeros
for the first). A second, global chain links every event in commit order:
``chain_hash = SHA-256(chain_prev + hash)``, and the store keeps the head. Editing a field
breaks the event's hash; deleting, inserting or reordering events breaks a link; deleting
a whole request or the newest events breaks the global chain or its head. Pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# The fields covered by an event's hash, in the order auditors read them.
HASHED_FIELDS = (
    "reference", "seq", "trigger", "from_state", "to_state", "actor_id", "role", "acting_for",
    "payload", "comment", "reason", "legal_clause", "sop_id", "sop_version", "sop_hash", "at",
    "flow_run_id", "prev_hash",
)  # fmt: skip


def canonical(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode("utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return canonical_time(value)
    raise TypeError(f"cannot hash a {type(value).__name__}")


def canonical_time(moment: datetime) -> str:
    """UTC with microseconds: the same text whatever time zone the database returned."""
    if moment.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(fields: Mapping[str, Any]) -> str:
    body = {name: fields.get(name) for name in HASHED_FIELDS}
    return hashlib.sha256(canonical(body)).hexdigest()


def link(chain_prev: str, own_hash: str) -> str:
    return hashlib.sha256((chain_prev + own_hash).encode("ascii")).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link found, named precisely for the auditor."""

    code: str
    message: str
    reference: str | None = None
    seq: int | None = None
    event_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "reference": self.reference,
                "seq": self.seq, "event_id": self.event_id}  # fmt: skip


def verify_request(reference: str, events: Iterable[Mapping[str, Any]],
                   head_seq: int, head_hash: str) -> list[Break]:  # fmt: skip
    """Check one request's chain against the request row's recorded head (seq, last hash)."""
    breaks: list[Break] = []
    prev, expected_seq = GENESIS, 1
    for ev in events:
        seq = int(ev["seq"])
        where = f"{reference} event seq {seq} (id {ev.get('id')})"
        if seq != expected_seq:
            kind = "event-missing" if seq > expected_seq else "event-out-of-order"
            breaks.append(Break(kind, f"{where}: expected seq {expected_seq}", reference, seq,
                                ev.get("id")))
        if ev["prev_hash"] != prev:
            breaks.append(Break("broken-link", f"{where}: prev_hash does not match the hash of "
                                "the event before it", reference, seq, ev.get("id")))
        computed = event_hash({**ev, "reference": reference})
        if computed != ev["hash"]:
            breaks.append(Break("event-altered", f"{where}: content does not match its hash "
                                "(edited after it was written)", reference, seq, ev.get("id")))
        prev, expected_seq = ev["hash"], seq + 1
    if expected_seq - 1 != head_seq or prev != head_hash:
        breaks.append(Break("tail-missing", f"{reference}: the request records {head_seq} "
                            f"events but its chain ends at seq {expected_seq - 1}", reference,
                            expected_seq - 1))
    return breaks
