"""Tamper evidence: the canonical encoding and hashes of events, and chain verification.

Each event's ``hash`` is SHA-256 over a canonical encoding of its content and
``prev_hash``, the hash of the request's previous event (64 zeros for the first): a compact
JSON array of the header fields in a fixed order, a newline, then the payload as canonical
JSON (sorted keys, no spaces, UTF-8), which is also exactly the text the store keeps, so
verification hashes the stored text without decoding it. A second, global chain links
every event in commit order: ``chain_hash = SHA-256(chain_prev + hash)``, and the store
keeps the head. Editing a field breaks the event's hash; deleting, inserting or reordering
events breaks a link; deleting a whole request or the newest events breaks the global chain
or its head. Pure.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# A random value in every event's payload (since December 2026), under its hash. An event's
# hash covers its actor's e-mail; a reader shown the official as their office (a requester:
# sopflow.domain.disclosure) reads every other field of the event, and with them and the
# hash could test a guess of the official's address offline. Such a reader is not shown the
# salt, so the hash cannot be recomputed by them: they keep it as their receipt of what was
# recorded, and an auditor, who has the salt, checks it.
SALT = "salt"


def without_salt(payload: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The payload as a reader who may not test guesses against its hash is shown it."""
    if payload is None:
        return None
    return {k: v for k, v in payload.items() if k != SALT}


HASH_FORMAT = "sopflow-event-v1"
# The header fields covered by an event's hash, in this order (the payload follows them).
HEADER_FIELDS = (
    "reference", "seq", "trigger", "from_state", "to_state", "actor_id", "role", "acting_for",
    "comment", "reason", "legal_clause", "sop_id", "sop_version", "sop_hash", "at",
    "flow_run_id", "prev_hash",
)  # fmt: skip


def _compact_encoder(sort_keys: bool) -> Callable[[Any], str]:
    """``JSONEncoder(sort_keys=..., separators=(",", ":"), ensure_ascii=False).encode``,
    built once. That encoder's ``encode`` builds a new C encoder on every call (keyword
    parsing and two Python frames: ~3,000 instructions, three calls a command); this one
    keeps it. No check for cycles: what is hashed is decoded JSON or built from it (a cycle
    raises RecursionError rather than ValueError)."""
    fallback = json.JSONEncoder(sort_keys=sort_keys, separators=(",", ":"), ensure_ascii=False)
    make = getattr(json.encoder, "c_make_encoder", None)  # CPython's, not in the stubs
    if make is None:  # an interpreter without the C accelerator
        return fallback.encode
    encoder = make(None, fallback.default, json.encoder.encode_basestring, None, ":", ",",
                   sort_keys, False, True)  # fmt: skip

    def encode(value: Any) -> str:
        return "".join(encoder(value, 0))

    return encode


_encode_canonical = _compact_encoder(sort_keys=True)


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, UTF-8 characters kept."""
    return _encode_canonical(value)


def canonical_time(moment: datetime) -> str:
    """UTC with microseconds: the same text whatever time zone the database returned."""
    if moment.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    text = utc_text(moment)
    return f"{text[:10]}T{text[11:]}Z"


# the last two moments written as text, and their texts: a command writes its one ``now``
# three times (the event's time, its hash, the row's update time) beside, at times, a
# deadline; each conversion (zone, keywords, formatting) cost ~10,000 instructions
# (callgrind: bench/step_instructions.py)
_recent: tuple[tuple[datetime | None, str], tuple[datetime | None, str]] = ((None, ""), (None, ""))


def utc_text(moment: datetime) -> str:
    """``moment`` in UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLite's text of a time); a naive
    one is taken as the machine's local time, as ``datetime.astimezone`` takes it."""
    global _recent
    recent = _recent  # one read: another thread may replace the pairs, never half of one
    for known, text in recent:
        if known is moment:  # datetimes never change: the same object, the same text
            return text
    utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
    text = utc.isoformat(" ", "microseconds")[:26]  # without its "+00:00"
    _recent = ((moment, text), recent[0])
    return text


_AT = 1 + HEADER_FIELDS.index("at")
_encode_header = _compact_encoder(sort_keys=False)


def event_hash(fields: Mapping[str, Any]) -> str:
    """``at`` may be a datetime or its canonical text; ``payload`` a mapping or its canonical
    JSON text (as stored)."""
    get = fields.get
    header = [HASH_FORMAT, *map(get, HEADER_FIELDS)]
    at = header[_AT]
    if isinstance(at, datetime):
        header[_AT] = canonical_time(at)
    payload = get("payload")
    text = payload if isinstance(payload, str) else canonical_json(payload or {})
    return hashlib.sha256(f"{_encode_header(header)}\n{text}".encode()).hexdigest()


# The order of a stored row for fast verification (``row_hash``): id, request_id, then the
# header fields after the reference, then payload text, hash and the global links.
ROW_COLUMNS = ("id", "request_id", *HEADER_FIELDS[1:], "payload", "hash", "chain_seq",
               "chain_prev", "chain_hash")  # fmt: skip


def row_hash(reference: str, row: tuple[Any, ...]) -> str:
    """``event_hash`` of a stored row in ``ROW_COLUMNS`` order, ``at`` as stored text (SQLite's
    'YYYY-MM-DD HH:MM:SS.ffffff' or already canonical), payload as its stored JSON text."""
    header = [HASH_FORMAT, reference, *row[2:18]]
    at = header[_AT]
    if at[10] == " ":
        header[_AT] = f"{at[:10]}T{at[11:]}Z"
    return hashlib.sha256(f"{_encode_header(header)}\n{row[18]}".encode()).hexdigest()


def covered_digest(reference: str, covered: bytes) -> str:
    """``event_hash`` from the text an event's hash covers after its reference: the header's
    JSON array from ``seq`` on (its opening bracket included), a newline and the payload, as
    UTF-8 (``Reader.hashed_rows``)."""
    digest = hashlib.sha256(_covered_start(reference))
    digest.update(memoryview(covered)[1:])
    return digest.hexdigest()


@functools.lru_cache(maxsize=4096)
def _covered_start(reference: str) -> bytes:
    """The start of an event's hashed text, up to its ``seq``: '["sopflow-event-v1","REF",'."""
    return _encode_header([HASH_FORMAT, reference])[:-1].encode() + b","


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
    # a directory break about a user: (their e-mail, their organisation as the log or the
    # directory says), so that it can be withheld from an auditor of another authority
    user: tuple[str, str | None] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "reference": self.reference,
                "seq": self.seq, "event_id": self.event_id}  # fmt: skip


_START = (0, GENESIS)  # a request's chain before its first event


class ChainVerifier:
    """Checks events fed in global chain order; keeps each request's last link.

    Feed every event (a mapping with the stored columns plus ``reference``) with ``feed``,
    then call ``finish`` with the recorded heads. ``breaks`` lists every problem found,
    first one first.
    """

    def __init__(self, start_seq: int | None = 1, start_prev: str = GENESIS, *,
                 check_global: bool = True, partial: bool = False) -> None:  # fmt: skip
        """``start_seq=None``: a slice of the log whose first link is trusted and recorded
        (``first_link``) to be stitched to the slice before it; ``partial``: requests may
        start mid-chain (their first link is recorded in ``entries``)."""
        self.check_global = check_global
        self.partial = partial or start_seq is None
        self.breaks: list[Break] = []
        self.open_start = start_seq is None
        self.expected_chain_seq = start_seq or 0
        self.chain_prev = start_prev
        self.first_link: tuple[int, str] | None = None
        self.requests: dict[str, tuple[int, str]] = {}  # reference -> (last seq, last hash)
        self.entries: dict[str, tuple[int, str]] = {}  # reference -> (first seq, its prev_hash)
        self.count = 0

    def feed(self, ev: Mapping[str, Any]) -> None:
        """Check one event given as a mapping of its columns plus ``reference``."""
        self.check(ev["reference"], ev["seq"], ev.get("id"), ev["chain_seq"], ev["chain_prev"],
                   ev["hash"], ev["chain_hash"], ev["prev_hash"], event_hash(ev))  # fmt: skip

    def check(self, reference: str, seq: int, event_id: Any, chain_seq: int, chain_prev: str,
              own: str, chain_hash: str, prev_hash: str, computed: str) -> None:  # fmt: skip
        """Check one event (``computed``: its hash recomputed from its content). The hot loop
        of verification: messages are built only for a break, which a healthy log never has."""
        self.count += 1
        if self.first_link is None:
            self.first_link = (int(chain_seq), str(chain_prev))
            if self.open_start:
                self.expected_chain_seq, self.chain_prev = self.first_link
        requests = self.requests
        if self.partial and reference not in requests:
            self.entries[reference] = (seq, prev_hash)
            requests[reference] = (seq - 1, prev_hash)
        last_seq, last_hash = requests.get(reference, _START)
        # one test for the healthy case; the breaks are named only when something is wrong
        if (computed != own or prev_hash != last_hash or seq != last_seq + 1
                or link(chain_prev, own) != chain_hash
                or (self.check_global and (chain_seq != self.expected_chain_seq
                                           or chain_prev != self.chain_prev))):  # fmt: skip
            self._report(reference, seq, event_id, chain_seq, chain_prev, own, chain_hash,
                         prev_hash, computed, last_seq, last_hash)  # fmt: skip
        requests[reference] = (seq, own)
        self.expected_chain_seq = chain_seq + 1
        self.chain_prev = chain_hash

    def malformed(self, reference: str, row: tuple[Any, ...], why: BaseException) -> None:
        """An event (a stored row in ``ROW_COLUMNS`` order) whose columns cannot even be
        compared (a text where a number belongs, a time that is no time): reported as
        altered, and the chains go on from it as far as it says."""
        event_id, seq, own, chain_seq, chain_hash = row[0], row[2], row[19], row[20], row[22]
        self.count += 1
        where = f"{reference} seq {seq!r} (event id {event_id}, chain #{chain_seq!r})"
        self.breaks.append(Break("event-altered", f"{where}: a column holds a malformed value "
                                 f"({type(why).__name__}: {why}): it was changed outside "
                                 "sopflow", reference, seq if type(seq) is int else None,
                                 event_id))  # fmt: skip
        if type(seq) is int and isinstance(own, str):
            self.requests[reference] = (seq, own)
        self.expected_chain_seq = (chain_seq if type(chain_seq) is int
                                   else self.expected_chain_seq) + 1  # fmt: skip
        if isinstance(chain_hash, str):
            self.chain_prev = chain_hash

    def check_row(self, reference: str, row: tuple[Any, ...]) -> None:
        """``check`` of a stored row in ``ROW_COLUMNS`` order; a row whose values cannot be
        read is ``malformed``, not a crash of the whole verification."""
        counted = self.count
        try:
            self.check(reference, row[2], row[0], row[20], row[21], row[19], row[22], row[17],
                       row_hash(reference, row))  # fmt: skip
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            self.count = counted
            self.malformed(reference, row, exc)

    def _report(self, reference: str, seq: int, event_id: Any, chain_seq: int, chain_prev: str,
                own: str, chain_hash: str, prev_hash: str, computed: str, last_seq: int,
                last_hash: str) -> None:  # fmt: skip
        problems: list[tuple[str, str]] = []
        if self.check_global and chain_seq != self.expected_chain_seq:
            expected = self.expected_chain_seq
            if isinstance(chain_seq, int) and chain_seq > expected:
                gap = f"#{expected}" + (f" to #{chain_seq - 1}" if chain_seq > expected + 1 else "")
                problems.append(("event-missing", f"the global chain lacks {gap} before it: "
                                 "deleted (whose they were, the requests' own chains and the "
                                 "issued references tell)"))  # fmt: skip
            else:
                problems.append(("event-reordered", f"global chain expected #{expected}"))
        if self.check_global and chain_prev != self.chain_prev:
            problems.append(("broken-link", "global link does not follow the previous event "
                             "(an event before it was removed, inserted or moved)"))  # fmt: skip
        if computed != own:
            problems.append(
                ("event-altered", "content does not match its hash (edited after it was written)")
            )
        if link(chain_prev, own) != chain_hash:
            problems.append(("broken-link", "global chain hash is wrong"))
        if seq != last_seq + 1:
            kind = "event-missing" if seq > last_seq + 1 else "event-reordered"
            problems.append((kind, f"expected seq {last_seq + 1} of {reference}"))
        if prev_hash != last_hash:
            problems.append(
                ("broken-link", f"prev_hash does not match the event before it in {reference}")
            )
        for code, message in problems:
            where = f"{reference} seq {seq} (event id {event_id}, chain #{chain_seq})"
            self.breaks.append(Break(code, f"{where}: {message}", reference, seq, event_id))

    def finish_head(self, head_seq: int, head_hash: str) -> None:
        """Compare the end of the global chain with the recorded head."""
        end = self.expected_chain_seq - 1
        if end == head_seq and self.chain_prev == head_hash:
            return
        if end > head_seq:
            self.breaks.append(Break("unrecorded-events", f"the global chain ends at #{end} but "
                                     f"the head records #{head_seq}: {end - head_seq} event(s) "
                                     "were added without going through sopflow"))  # fmt: skip
        elif end < head_seq:
            self.breaks.append(Break("tail-missing", f"the global chain ends at #{end} but the "
                                     f"head records #{head_seq}: the newest events were "
                                     "removed"))  # fmt: skip
        else:
            self.breaks.append(Break("tail-missing", f"the global chain ends at #{end} as the "
                                     "head records, but with another hash: the newest events "
                                     "were rewritten"))  # fmt: skip

    def finish_request(self, reference: str, head_seq: int, head_hash: str) -> None:
        """Compare a request's chain with what its row records (its own tail)."""
        last_seq, last_hash = self.requests.get(reference, (0, GENESIS))
        if last_seq == head_seq and last_hash == head_hash:
            return
        if last_seq > head_seq:
            code, why = "unrecorded-events", (f"{last_seq - head_seq} event(s) were added "
                                              "without going through sopflow")  # fmt: skip
        elif last_seq < head_seq:
            code, why = "tail-missing", "its newest events were removed"
        else:
            code, why = "tail-missing", "its last event is not the one its row records"
        self.breaks.append(Break(code, f"{reference}: the request records {head_seq} events but "
                                 f"its chain ends at seq {last_seq}: {why}", reference,
                                 last_seq))  # fmt: skip


def stitch(parts: list[ChainVerifier]) -> ChainVerifier:
    """Join verifiers of consecutive slices of the log (``start_seq=None``) into one, checking
    the links between slices as if the whole log had been fed to one verifier."""
    whole = ChainVerifier()
    for part in parts:
        if part.first_link is not None:
            seq, prev = part.first_link
            if seq != whole.expected_chain_seq:
                kind = "event-missing" if seq > whole.expected_chain_seq else "event-reordered"
                whole.breaks.append(
                    Break(kind, f"global chain #{seq} follows #{whole.expected_chain_seq - 1}")
                )
            if prev != whole.chain_prev:
                whole.breaks.append(
                    Break(
                        "broken-link",
                        f"global chain #{seq}: link does not follow the previous event",
                    )
                )
            whole.expected_chain_seq, whole.chain_prev = part.expected_chain_seq, part.chain_prev
        for reference, (seq, prev) in part.entries.items():
            last_seq, last_hash = whole.requests.get(reference, (0, GENESIS))
            if seq != last_seq + 1:
                kind = "event-missing" if seq > last_seq + 1 else "event-reordered"
                whole.breaks.append(
                    Break(
                        kind, f"{reference} seq {seq}: expected seq {last_seq + 1}", reference, seq
                    )
                )
            elif prev != last_hash:
                whole.breaks.append(
                    Break(
                        "broken-link",
                        f"{reference} seq {seq}: prev_hash does not match the event before it",
                        reference,
                        seq,
                    )
                )
        whole.breaks.extend(part.breaks)
        whole.requests.update(part.requests)
        whole.count += part.count
    return whole
