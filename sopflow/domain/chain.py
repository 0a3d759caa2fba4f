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
from collections.abc import Mapping
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


class ChainVerifier:
    """Checks events fed in global chain order; keeps each request's last link.

    Feed every event (a mapping with the stored columns plus ``reference``) with ``feed``,
    then call ``finish`` with the recorded heads. ``breaks`` lists every problem found,
    first one first.
    """

    def __init__(self, start_seq: int = 1, start_prev: str = GENESIS, *,
                 check_global: bool = True, partial: bool = False) -> None:  # fmt: skip
        self.check_global = check_global
        self.partial = partial  # an export of a period: requests may start mid-chain
        self.breaks: list[Break] = []
        self.expected_chain_seq = start_seq
        self.chain_prev = start_prev
        self.requests: dict[str, tuple[int, str]] = {}  # reference -> (last seq, last hash)
        self.count = 0

    def _break(self, code: str, message: str, ev: Mapping[str, Any]) -> None:
        self.breaks.append(Break(code, message, ev.get("reference"), ev.get("seq"), ev.get("id")))

    def feed(self, ev: Mapping[str, Any]) -> None:
        self.count += 1
        reference, seq = str(ev["reference"]), int(ev["seq"])
        where = f"{reference} seq {seq} (event id {ev.get('id')}, chain #{ev['chain_seq']})"
        if self.check_global and ev["chain_seq"] != self.expected_chain_seq:
            kind = (
                "event-missing" if ev["chain_seq"] > self.expected_chain_seq else "event-reordered"
            )
            self._break(kind, f"{where}: global chain expected #{self.expected_chain_seq}", ev)
        if self.check_global and ev["chain_prev"] != self.chain_prev:
            self._break(
                "broken-link",
                f"{where}: global link does not follow the previous "
                "event (an event before it was removed, inserted or moved)",
                ev,
            )
        own = event_hash(ev)
        if own != ev["hash"]:
            self._break(
                "event-altered",
                f"{where}: content does not match its hash (edited after it was written)",
                ev,
            )
        if link(ev["chain_prev"], ev["hash"]) != ev["chain_hash"]:
            self._break("broken-link", f"{where}: global chain hash is wrong", ev)
        if self.partial and reference not in self.requests:
            self.requests[reference] = (seq - 1, str(ev["prev_hash"]))
        last_seq, last_hash = self.requests.get(reference, (0, GENESIS))
        if seq != last_seq + 1:
            kind = "event-missing" if seq > last_seq + 1 else "event-reordered"
            self._break(kind, f"{where}: expected seq {last_seq + 1} of {reference}", ev)
        if ev["prev_hash"] != last_hash:
            self._break(
                "broken-link",
                f"{where}: prev_hash does not match the event before it in {reference}",
                ev,
            )
        self.requests[reference] = (seq, ev["hash"])
        self.expected_chain_seq = int(ev["chain_seq"]) + 1
        self.chain_prev = str(ev["chain_hash"])

    def finish_head(self, head_seq: int, head_hash: str) -> None:
        """Compare the end of the global chain with the recorded head."""
        if self.expected_chain_seq - 1 != head_seq or self.chain_prev != head_hash:
            self.breaks.append(
                Break(
                    "tail-missing",
                    f"the global chain ends at #{self.expected_chain_seq - 1} but the "
                    f"head records #{head_seq}: the newest events were removed or rewritten",
                )
            )

    def finish_request(self, reference: str, head_seq: int, head_hash: str) -> None:
        """Compare a request's chain with what its row records (its own tail)."""
        last_seq, last_hash = self.requests.get(reference, (0, GENESIS))
        if last_seq != head_seq or last_hash != head_hash:
            self.breaks.append(
                Break(
                    "tail-missing",
                    f"{reference}: the request records {head_seq} events but its "
                    f"chain ends at seq {last_seq}",
                    reference,
                    last_seq,
                )
            )
