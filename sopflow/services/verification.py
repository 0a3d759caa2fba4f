"""``sopflow audit verify``: every hash chain (each request's and the global one), the
directory log, and what lies beside them (request rows, pinned SOP texts, outcomes, issued
references, the steps' licence grounds), with the first break first.

A large log is read by several processes (``sopflow.store.chainscan``), each hashing a slice
of it and holding its steps' grounds against the directory log; the slices are stitched.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

from sopflow.domain.chain import Break, ChainVerifier, stitch
from sopflow.domain.grounds_check import Timeline
from sopflow.errors import NotFound
from sopflow.services.anchors import Anchor, anchor_breaks
from sopflow.services.audit_rows import issued_reference_breaks, outcome_breaks
from sopflow.services.context import Context
from sopflow.services.directory_log import directory_breaks, grounds_timeline
from sopflow.services.sops import altered
from sopflow.spec.loader import content_hash as content_hash_of
from sopflow.store.chainscan import (
    ORPHAN,
    GroundsScan,
    ready,
    verify_slice,
    verify_slice_in_process,
)
from sopflow.store.queries import Reader
from states.replay import CLOCK_TOLERANCE

PARALLEL_FROM = 200_000  # below this, starting processes costs more than it saves
MAX_WORKERS = 8
SLICES_PER_WORKER = 4


@dataclass
class VerifyReport:
    events: int = 0
    requests: int = 0
    breaks: list[Break] = field(default_factory=list)
    directory_entries: int | None = None  # None: the directory log was not verified

    @property
    def intact(self) -> bool:
        return not self.breaks

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"intact": self.intact, "events": self.events,
                                 "requests": self.requests,
                                 "first_break": self.breaks[0].to_dict() if self.breaks else None,
                                 "breaks": [b.to_dict() for b in self.breaks]}  # fmt: skip
        if self.directory_entries is not None:
            found["directory_entries"] = self.directory_entries
        return found


def _beside_the_chains(r: Reader, reference: str | None) -> list[Break]:
    """What the chains do not cover: the request rows (a projection of the log: their state
    and SOP version must be those of their last event, their filer and organisation those
    of their first) and the stored SOP texts that the requests are pinned to (each must
    still hash to its hash)."""
    rows = r.rows_unlike_their_events(reference)
    breaks = [Break("request-row-altered", f"request {row['reference']}: its row says state "
                    f"'{row['state']}' and SOP {row['sop_hash'][:19]}…, but its last event "
                    f"(seq {row['seq']}) led to '{row['to_state']}' under "
                    f"{row['event_sop_hash'][:19]}…: the row was changed outside sopflow",
                    row["reference"], row["seq"])
              for row in rows if _differs(row["to_state"], row["state"])
              or _differs(row["event_sop_hash"], row["sop_hash"])]  # fmt: skip
    breaks += [Break("request-row-altered", f"request {row['reference']}: its row says it was "
                     f"filed by {row['created_by']} for {row['organisation_id']}, but its first "
                     f"event records {row['actor_id']}"
                     + (f" for {row['filed_for']}" if row["filed_for"] else "")
                     + ": the row was changed outside sopflow", row["reference"], 1)
               for row in rows if _differs(row["actor_id"], row["created_by"])
               or _differs(row["filed_for"], row["organisation_id"])]  # fmt: skip
    for row in r.sop_versions():
        if content_hash_of(row["text"]) != row["content_hash"]:
            breaks.append(Break("sop-altered", altered(row).message))
    return breaks


def _differs(found: Any, said: Any) -> bool:
    """Two values that differ, as SQL's ``<>`` finds them: a missing one differs from none."""
    return found is not None and said is not None and found != said


def _orphans_named(breaks: list[Break]) -> list[Break]:
    """The events of a request whose row was deleted cannot have their content checked (it
    names the reference the row held): one ``request-row-missing`` for the request, rather
    than an ``event-altered`` for each of its events."""
    named: list[Break] = []
    seen: set[str] = set()
    for b in breaks:
        orphan = b.reference is not None and b.reference.startswith(ORPHAN)
        if not orphan or b.code != "event-altered":
            named.append(b)
        elif b.reference not in seen:
            seen.add(str(b.reference))
            request_id = str(b.reference)[len(ORPHAN) : -1]
            named.append(Break("request-row-missing", f"the events of request id {request_id} "
                               f"(the first: event id {b.event_id}) have no request row: it was "
                               "deleted outside sopflow, and their content cannot be checked "
                               "without the reference it held"))  # fmt: skip
    return named


def verify(ctx: Context, reference: str | None = None,
           anchor: Anchor | None = None) -> VerifyReport:  # fmt: skip
    """Check every hash chain (or one request's) and, for the whole log, the directory
    log and the directory against it (``directory_log``); the first break comes first.

    ``anchor``: the heads an earlier export's manifest recorded, kept outside the
    database (``anchors``): the logs must still hold exactly those links, and nothing
    after them may be dated before the manifest was taken (a forger who appends a
    rehashed event cannot write it into the anchored past)."""
    report = VerifyReport()
    if anchor is not None:
        with ctx.store.snapshot() as r:
            report.breaks += anchor_breaks(r, anchor)
    if reference is not None:
        _verify_request(ctx, reference, report)
    else:
        _verify_log(ctx, report)
    return report


def _verify_request(ctx: Context, reference: str, report: VerifyReport) -> None:
    with ctx.store.snapshot() as r:
        row = r.request(reference)
        if row is None:
            raise NotFound.request(reference)
        verifier = ChainVerifier(check_global=False)
        grounds = _grounds_scan(grounds_timeline(r))
        # the stored rows, as the whole log's verification reads them: the same verdict on
        # the same text, and a malformed value reported, not a crash
        for stored in r.chain_rows(0, 10**9, request_id=row["id"]):
            verifier.check_row(reference, stored)
            if grounds is not None:
                grounds.row(reference, stored)
        verifier.finish_request(reference, row["seq"], row["last_hash"])
        report.events, report.requests = verifier.count, 1
        report.breaks += (verifier.breaks + _beside_the_chains(r, reference)
                          + outcome_breaks(r, ctx.sops.pinned_spec, reference)
                          + (grounds.breaks if grounds is not None else []))  # fmt: skip


def _verify_log(ctx: Context, report: VerifyReport) -> None:
    """Every chain and what lies beside them, as of one snapshot; a large log hashed by
    several processes, which start (and import) while this one begins its reading, and
    scan while it checks what lies beside the chains (``_beside_the_log``)."""
    with ctx.store.read() as r:
        lo, hi = r.id_span()
    workers = min(os.cpu_count() or 1, MAX_WORKERS) if hi - lo + 1 >= PARALLEL_FROM else 1
    with ExitStack() as stack:
        pool = None
        if workers > 1:
            pool = stack.enter_context(
                ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
            )
            for _ in range(workers):
                pool.submit(ready)
        with ctx.store.snapshot() as r:
            # the log as it stood at one moment: a step committed during the scan (an id
            # above ``hi``) does not belong to it; its directory log holds what every step
            # in it relied on, its request rows and heads are those of its events
            lo, hi = r.id_span()
            timeline = grounds_timeline(r)
            scanned = _scan(pool, ctx, lo, hi, timeline, workers) if pool is not None else None
            heads, head = r.request_heads(), r.chain_head()
            entries, beside = _beside_the_log(ctx, r)
        if scanned is None:
            grounds = _grounds_scan(timeline)
            refs = {request_id: reference for request_id, reference, _, _ in heads}
            verifier = verify_slice(ctx.store, lo - 1, hi, refs, grounds, start_seq=1)
            unsupported = grounds.breaks if grounds is not None else []
        else:
            parts = list(scanned)
            verifier = stitch([chain for chain, _ in parts])
            unsupported = [b for _, breaks in parts for b in breaks]
    verifier.finish_head(head["chain_seq"], head["chain_hash"])
    for _, reference, seq, last_hash in heads:
        verifier.finish_request(reference, seq, last_hash)
    report.events, report.requests = verifier.count, len(heads)
    report.directory_entries = entries
    report.breaks += _orphans_named(verifier.breaks) + beside + unsupported


def _scan(pool: ProcessPoolExecutor, ctx: Context, lo: int, hi: int, timeline: Timeline | None,
          workers: int) -> Iterator[tuple[ChainVerifier, list[Break]]]:  # fmt: skip
    """Each process verifies a slice of ids (and the grounds of its steps); the slices are
    then stitched (global links and each request's links across them). More slices than
    processes: one slowed by this process's own checks takes fewer of them, and they all
    end together."""
    url = ctx.store.engine.url.render_as_string(hide_password=False)
    slices = workers * SLICES_PER_WORKER
    bounds = [lo - 1 + (hi - lo + 1) * k // slices for k in range(slices + 1)]
    return pool.map(verify_slice_in_process, [url] * slices, bounds[:-1], bounds[1:],
                    [timeline] * slices, [CLOCK_TOLERANCE] * slices)  # fmt: skip


def _beside_the_log(ctx: Context, r: Reader) -> tuple[int, list[Break]]:
    """(directory log entries, breaks): the request rows, the pinned SOP texts, outcomes,
    issued references, the directory log and the directory."""
    entries, directory = directory_breaks(r)
    return entries, (_beside_the_chains(r, None) + outcome_breaks(r, ctx.sops.pinned_spec, None)
                     + issued_reference_breaks(r) + directory)  # fmt: skip


def _grounds_scan(timeline: Timeline | None) -> GroundsScan | None:
    """The steps' licence grounds against the directory log, unless its chain is broken
    (``grounds_timeline`` None)."""
    return GroundsScan(timeline, CLOCK_TOLERANCE) if timeline is not None else None
