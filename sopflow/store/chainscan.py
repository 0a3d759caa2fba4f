"""Verification of the event log by slices of ids, in this process or in a worker process.

A separate, light module: ``audit verify`` starts worker processes (spawn) that import it,
and the less they import the sooner they start hashing (sopflow.services imports ~1 s).
"""

from __future__ import annotations

from typing import Any

from sopflow.domain.chain import ChainVerifier
from sopflow.store.db import make_engine
from sopflow.store.repository import Store

BATCH = 20_000
ORPHAN = "<deleted request "  # names the events of a request whose row is gone: then its id, >


def verify_slice(store: Store, after: int, upto: int, heads: list[dict[str, Any]],
                  start_seq: int | None = None) -> ChainVerifier:  # fmt: skip
    """Verify the events with ``after < id <= upto`` (rows in ``ROW_COLUMNS`` order)."""
    refs = {h["id"]: h["reference"] for h in heads}
    verifier = ChainVerifier(start_seq)
    check = verifier.check_row
    last = after
    with store.read() as r:
        while True:
            rows = r.chain_rows(last, BATCH, upto)
            if not rows:
                break
            for row in rows:
                check(refs.get(row[1]) or f"{ORPHAN}{row[1]}>", row)
            last = rows[-1][0]
    return verifier


def verify_slice_in_process(url: str, after: int, upto: int) -> ChainVerifier:
    store = Store(make_engine(url))
    try:
        with store.read() as r:
            heads = r.request_heads()
        return verify_slice(store, after, upto, heads)
    finally:
        store.engine.dispose()
