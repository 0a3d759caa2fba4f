"""Verification of the event log by slices of ids, in this process or in a worker process.

A separate, light module: ``audit verify`` starts worker processes (spawn) that import it,
and the less they import the sooner they start hashing (sopflow.services imports ~1 s).

The scan reads every event's payload for its hash anyway; it also holds each step's licence
grounds against the directory log's timeline (``sopflow.domain.grounds_check``), so that
a million payloads are read once, by as many processes as hash them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sopflow.domain.chain import Break, ChainVerifier
from sopflow.domain.grounds_check import GroundsCheck, StoredLicences, Timeline
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
        text = row[_PAYLOAD]
        if type(text) is not str or '"grounds"' not in text:
            return
        licences = self.licences(text)
        if not licences:
            return
        try:  # a time or seq edited into nonsense is the chain's to report
            at = _moment(row[_AT])
        except (ValueError, TypeError):
            return
        if at is not None and type(row[_SEQ]) is int:
            self.check.step(reference, row[_SEQ], at, licences)

    @property
    def breaks(self) -> list[Break]:
        return self.check.breaks


def _moment(stored: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (``utc_time``), at a quarter of its cost for
    the two texts the scan reads: SQLite's UTC text without a zone (given one, rather than
    replaced into the parsed value) and PostgreSQL's canonical text ending in Z."""
    if type(stored) is str:
        if len(stored) == 26 and stored[10] == " ":
            return datetime.fromisoformat(stored + "+00:00")
        if stored.endswith("Z"):
            return datetime.fromisoformat(stored)
    return utc_time(stored)


def verify_slice(store: Store, after: int, upto: int, refs: dict[int, str],
                 grounds: GroundsScan | None = None,
                 start_seq: int | None = None) -> ChainVerifier:  # fmt: skip
    """Verify the events with ``after < id <= upto`` (rows in ``ROW_COLUMNS`` order) of the
    requests ``refs`` names (id -> reference); ``grounds``: also hold their licence grounds
    against the directory log. The events of a request whose row is gone have no grounds
    checked: the chain reports them."""
    verifier = ChainVerifier(start_seq)
    check = verifier.check_row
    last = after
    with store.read() as r:
        while True:
            rows = r.chain_rows(last, BATCH, upto)
            if not rows:
                break
            for row in rows:
                reference = refs.get(row[1])
                if reference is None:
                    check(f"{ORPHAN}{row[1]}>", row)
                    continue
                check(reference, row)
                if grounds is not None:
                    grounds.row(reference, row)
            last = rows[-1][0]
    return verifier


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
