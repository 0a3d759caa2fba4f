"""Verification of the event log by slices of ids, in this process or in a worker process.

A separate, light module: ``audit verify`` starts worker processes (spawn) that import it,
and the less they import the sooner they start hashing (sopflow.services imports ~1 s).

The scan reads every event's payload for its hash anyway; it also holds each step's licence
grounds against the directory log's timeline (``sopflow.domain.grounds_check``), so that
a million payloads are read once, by as many processes as hash them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sopflow.domain.chain import Break, ChainVerifier, covered_digest
from sopflow.domain.grounds_check import GroundsCheck, Licence, StoredLicences, Timeline
from sopflow.store.db import make_engine
from sopflow.store.repository import Store
from sopflow.store.sql import utc_time

BATCH = 20_000
ORPHAN = "<deleted request "  # names the events of a request whose row is gone: then its id, >
# ``ROW_COLUMNS`` positions the grounds check reads
_SEQ, _AT, _PAYLOAD = 2, 15, 18


class GroundsScan:
    """The stored rows' licence grounds against ``timeline`` (``breaks``: those it does not
    bear out). A row is looked at only when its payload's text names grounds."""

    def __init__(self, timeline: Timeline, tolerance: timedelta) -> None:
        self.check = GroundsCheck(timeline, tolerance)
        self.licences = StoredLicences()

    def row(self, reference: str, row: tuple[Any, ...]) -> None:
        """A stored row in ``ROW_COLUMNS`` order."""
        text = row[_PAYLOAD]
        if type(text) is str and '"grounds"' in text:
            self.step(reference, row[_SEQ], row[_AT], text)

    def step(self, reference: str, seq: Any, stored_at: Any, payload: str) -> None:
        """One step: its seq, time and payload text as stored."""
        self._hold(reference, seq, stored_at, self.licences(payload))

    def covered(self, reference: str, seq: Any, stored_at: Any, covered: bytes) -> None:
        """One step from the text its hash covers (``Reader.hashed_rows``): the payload is
        what follows the header's line, read as UTF-8 bytes (decoded only for grounds not
        met before: ~0.5 µs a grounded step less)."""
        self._hold(reference, seq, stored_at,
                   self.licences.utf8(covered, covered.index(b"\n") + 1))  # fmt: skip

    def _hold(self, reference: str, seq: Any, stored_at: Any, licences: list[Licence]) -> None:
        if not licences:
            return
        try:  # a time or seq edited into nonsense is the chain's to report
            at = utc_time(stored_at)
        except (ValueError, TypeError):
            return
        if at is not None and type(seq) is int:
            self.check.step(reference, seq, at, licences)

    @property
    def breaks(self) -> list[Break]:
        return self.check.breaks


def verify_slice(store: Store, after: int, upto: int, refs: dict[int, str],
                 grounds: GroundsScan | None = None,
                 start_seq: int | None = None) -> ChainVerifier:  # fmt: skip
    """Verify the events with ``after < id <= upto`` of the requests ``refs`` names (id ->
    reference); ``grounds``: also hold their licence grounds against the directory log.
    The events of a request whose row is gone have no grounds checked: the chain reports
    them. On SQLite, SQLite assembles the text each hash covers (``Reader.hashed_rows``);
    a row whose hash does not match it, or whose columns are not of their types, is read
    and checked as stored, which alone gives the verdict on it."""
    verifier = ChainVerifier(start_seq)
    scan = _Scan(verifier, refs, grounds)
    last = after
    with store.read() as r:
        while True:
            hashed = r.hashed_rows(last, BATCH, upto) if r.dialect == "sqlite" else None
            if hashed is None:  # as stored, the whole batch
                rows = r.chain_rows(last, BATCH, upto)
                for row in rows:
                    scan.stored(row)
            else:
                rows = hashed
                for row in hashed:
                    if not scan.hashed(row):
                        for stored in r.chain_rows(row[0] - 1, 1, row[0]):
                            scan.stored(stored)
            if not rows:
                break
            last = rows[-1][0]
    return verifier


class _Scan:
    """One slice's rows fed to its verifier and grounds check."""

    def __init__(self, verifier: ChainVerifier, refs: dict[int, str],
                 grounds: GroundsScan | None) -> None:  # fmt: skip
        self.verifier, self.refs, self.grounds = verifier, refs, grounds

    def stored(self, row: tuple[Any, ...]) -> None:
        """A row in ``ROW_COLUMNS`` order."""
        reference = self.refs.get(row[1])
        if reference is None:
            self.verifier.check_row(f"{ORPHAN}{row[1]}>", row)
            return
        self.verifier.check_row(reference, row)
        if self.grounds is not None:
            self.grounds.row(reference, row)

    def hashed(self, row: tuple[Any, ...]) -> bool:
        """A ``hashed_rows`` row, checked when its hash is the one SQLite's text gives and
        its columns are of their types; False: it must be read as stored."""
        event_id, request_id, seq, covered, own, chain_seq, chain_prev, chain_hash, prev, at = row
        reference = self.refs.get(request_id)
        if (reference is None or type(covered) is not bytes or type(own) is not str
                or type(chain_seq) is not int or type(chain_prev) is not str
                or type(chain_hash) is not str or type(prev) is not str):  # fmt: skip
            return False
        computed = covered_digest(reference, covered)
        if computed != own or type(seq) is not int:
            return False
        self.verifier.check(reference, seq, event_id, chain_seq, chain_prev, own, chain_hash,
                            prev, computed)  # fmt: skip
        if self.grounds is not None and b'"grounds"' in covered:
            self.grounds.covered(reference, seq, at, covered)
        return True


# url -> the requests' references, read once by each worker process: its pool lives for one
# verification, which gives it several slices (read after the verification's snapshot, the
# references hold every request of the slices' events that still has its row)
_REFERENCES: dict[str, dict[int, str]] = {}


def ready() -> None:
    """Nothing: a task that has a worker start and import this module before its slice is
    known (``audit verify`` reads the log's heads meanwhile)."""


def verify_slice_in_process(url: str, after: int, upto: int, timeline: Timeline | None,
                            tolerance: timedelta) -> tuple[ChainVerifier, list[Break]]:  # fmt: skip
    """``verify_slice`` in a worker: the slice's verifier and its grounds' breaks (none
    checked when ``timeline`` is None: the directory log's chain is broken)."""
    store = Store(make_engine(url))
    grounds = GroundsScan(timeline, tolerance) if timeline is not None else None
    try:
        if url not in _REFERENCES:
            with store.read() as r:
                _REFERENCES[url] = r.request_references()
        verifier = verify_slice(store, after, upto, _REFERENCES[url], grounds)
        return verifier, grounds.breaks if grounds is not None else []
    finally:
        store.engine.dispose()
