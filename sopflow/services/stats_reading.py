"""Reading the log for the statistics: requests and their events in keyset pages of raw
tuples (never an ORM object per event), over a range of request ids, so that a large log
is read in slices by several processes at once (like ``audit verify``) and their tallies
merged. Times are prefiltered in SQL on UTC with a margin; the core filters exactly on the
SOPs' local dates.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from multiprocessing import get_context
from typing import Any, Protocol

from sopflow.analytics.dimensions import derive
from sopflow.analytics.model import Query
from sopflow.analytics.placements import PlacementFact
from sopflow.analytics.stays import DeadlineClock, EventFact, Track, local_date, stays_of
from sopflow.errors import NotFound
from sopflow.sop_files import compile_text
from sopflow.store.db import make_engine
from sopflow.store.queries import Reader
from sopflow.store.repository import Store
from states.machine import CompiledSop

PAGE = 5_000  # request ids per page; their events are read in one range query
SPARSE_CHUNK = 500
# Reader processes pay ~1.5 s each to start (imports, SOPs compiled), measured on a 2-core
# machine where they were slower than one process: only for big logs on 4+ cores.
PARALLEL_FROM = 300_000  # events
PARALLEL_CORES = 4
MAX_WORKERS = 8
EVENT_COLUMNS = ("request_id", "seq", "trigger", "from_state", "to_state", "actor_id", "role",
                 "reason", "at")  # fmt: skip
OPTIONAL = frozenset({"from_state", "actor_id", "role", "reason"})
Pinned = Callable[[str, int, str], CompiledSop]


class Tallying(Protocol):
    def add(self, item: Any) -> None: ...
    def merge(self, other: Any) -> None: ...


@dataclass(frozen=True)
class Plan:
    """What to read: the table's kind of item, the SOPs, the window and its margin."""

    placements: bool
    scope: frozenset[str]
    query: Query
    needs: frozenset[str] = frozenset()  # the optional event columns the table reads
    margin_days: int = 0  # stays that ended this long before the window still count
    skip: frozenset[str] = frozenset()  # reserved triggers the table never looks at


def utc(value: Any) -> datetime:
    """A stored time as an aware UTC datetime. SQLite gives naive UTC text: parsing it with
    its zone appended is five times faster than parsing it and then setting the zone."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:
            value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bounds(query: Query, margin: int) -> dict[str, Any]:
    """UTC bounds one day wider than the local window (time zones), plus ``margin`` days."""
    start, end = query.window.start, query.window.end_exclusive
    low = datetime.combine(start, time(), UTC) - timedelta(days=1 + margin) if start else None
    high = datetime.combine(end, time(), UTC) + timedelta(days=1) if end else None
    return {"lo": low, "hi": high}


def _data(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


class LogReader:
    def __init__(self, store: Store, pinned: Pinned) -> None:
        self.store, self._pinned = store, pinned
        self._sops: dict[str, CompiledSop] = {}

    def sop(self, row: Any) -> CompiledSop:
        found = self._sops.get(row[3])
        if found is None:
            found = self._sops[row[3]] = self._pinned(row[1], row[2], row[3])
        return found

    def span(self) -> tuple[int, int, int]:
        """(lowest request id, highest request id, highest event id ~ the log's size)."""
        with self.store.read() as r:
            req = r.one("SELECT min(id) AS lo, max(id) AS hi FROM requests")
            ev = r.one("SELECT max(id) AS hi FROM events")
        assert req is not None and ev is not None
        return int(req["lo"] or 0), int(req["hi"] or 0), int(ev["hi"] or 0)

    def _data_sql(self) -> str:
        if self.store.dialect == "sqlite":
            return "json_extract(r.snapshot, '$.data')"
        return "r.snapshot -> 'data'"

    def _heads(self, sql: str, params: dict[str, Any], after: int, upto: int,
               ) -> Iterator[list[Any]]:  # fmt: skip
        """Pages of rows of requests with ``after < id <= upto``, in id order, a range of
        ``PAGE`` ids at a time: a page with a LIMIT lets a planner with stale statistics
        sort the whole rest of the table for every page (seen on PostgreSQL after a bulk
        load). The SOPs are filtered by the caller, not in SQL: there a list of SOP ids
        makes the planners walk the (sop_id, state) index instead of the key's range."""
        with self.store.read() as r:
            for low in range(after, upto, PAGE):
                r.execute(sql, {**params, "after": low, "upto": min(low + PAGE, upto)})
                rows = r.cur.fetchall()
                if rows:
                    yield rows

    def placement_facts(self, plan: Plan, after: int, upto: int) -> Iterator[PlacementFact]:
        query = plan.query
        where = ["r.id > :after", "r.id <= :upto"]
        if query.basis == "decision":
            where.append("r.outcome IS NOT NULL")
        bounds = {k: v for k, v in _bounds(query, 0).items() if v is not None}
        where += [f"e.at {'>=' if k == 'lo' else '<'} :{k}" for k in bounds]
        seq = "r.seq" if query.basis == "decision" else "1"  # the closing or the first event
        # names and expressions of this module only; values are bound parameters
        sql = (f"SELECT r.id, r.sop_id, r.sop_version, r.sop_hash, r.organisation_id, "  # noqa: S608
               f"r.outcome, {self._data_sql()}, e.at FROM requests r JOIN events e ON "
               f"e.request_id = r.id AND e.seq = {seq} WHERE {' AND '.join(where)} "
               "ORDER BY r.id")  # fmt: skip
        for rows in self._heads(sql, bounds, after, upto):
            for row in rows:
                if row[1] in plan.scope:
                    sop = self.sop(row)
                    day = local_date(sop, utc(row[7]))
                    yield PlacementFact(sop, row[4], row[5] or "open", _data(row[6]), day)

    def tracks(self, plan: Plan, after: int, upto: int) -> Iterator[Track]:
        """Every request of the scope that may matter to the window, with its events and
        stays. The optional event columns a table does not read come back as NULL: a
        million strings fewer to build."""
        bounds = {k: v for k, v in _bounds(plan.query, plan.margin_days).items() if v}
        where = ["r.id > :after", "r.id <= :upto"]
        if "hi" in bounds:
            where.append("r.created_at < :hi")
        if "lo" in bounds:
            where.append("(r.updated_at >= :lo OR r.outcome IS NULL)")
        office = "office" in plan.query.by
        data = self._data_sql() if office else "NULL"
        sql = (f"SELECT r.id, r.sop_id, r.sop_version, r.sop_hash, r.organisation_id, "  # noqa: S608
               f"r.outcome, {data} FROM requests r WHERE {' AND '.join(where)} "
               "ORDER BY r.id")  # fmt: skip
        columns = ", ".join(c if c in plan.needs or c not in OPTIONAL else f"NULL AS {c}"
                            for c in EVENT_COLUMNS)  # fmt: skip
        clock = DeadlineClock()
        for page in self._heads(sql, bounds, after, upto):
            heads = [h for h in page if h[1] in plan.scope]
            if not heads:
                continue
            with self.store.read() as r:
                rows = _events(r, [h[0] for h in heads], columns, plan.skip)
            yield from self._tracks(heads, rows, clock, office)

    def _tracks(self, heads: list[Any], rows: list[Any], clock: DeadlineClock,
                office: bool) -> Iterator[Track]:  # fmt: skip
        wanted = {h[0]: h for h in heads}
        new = tuple.__new__
        start = 0
        for end in range(1, len(rows) + 1):
            if end < len(rows) and rows[end][0] == rows[start][0]:
                continue
            head = wanted.get(rows[start][0])
            if head is not None:
                # tuple.__new__ straight: a named tuple's own __new__ is Python code
                events = [new(EventFact, (*e[:8], utc(e[8]))) for e in rows[start:end]]
                sop = self.sop(head)
                track = Track(head[0], sop, head[4], events[0].at, head[5], events,
                              stays_of(sop, events, clock))  # fmt: skip
                if office:
                    day = local_date(sop, events[0].at)
                    track.office = derive(sop, _data(head[6]), "office", day)
                yield track
            start = end

    def feed(self, tally: Tallying, plan: Plan, after: int, upto: int) -> Tallying:
        items = self.placement_facts if plan.placements else self.tracks
        for item in items(plan, after, upto):
            tally.add(item)
        return tally


def _events(r: Reader, ids: list[int], columns: str, skip: frozenset[str]) -> list[Any]:
    """The events of the requests ``ids`` (ascending), in (request, seq) order, but those
    whose trigger is in ``skip``: one range query when the ids are dense, else lists of ids
    (a range would read strangers)."""
    skipped = {f"k{n}": trigger for n, trigger in enumerate(sorted(skip))}
    unless = f" AND trigger NOT IN ({', '.join(':' + k for k in skipped)})" if skipped else ""
    if ids[-1] - ids[0] < 2 * len(ids):
        r.execute(f"SELECT {columns} FROM events WHERE request_id >= :lo AND "  # noqa: S608
                  f"request_id <= :hi{unless} ORDER BY request_id, seq",
                  {"lo": ids[0], "hi": ids[-1], **skipped})  # fmt: skip
        return list(r.cur.fetchall())
    rows: list[Any] = []
    for at in range(0, len(ids), SPARSE_CHUNK):
        chunk = {f"i{n}": i for n, i in enumerate(ids[at : at + SPARSE_CHUNK])}
        marks = ", ".join(":" + n for n in chunk)
        r.execute(f"SELECT {columns} FROM events WHERE request_id IN ({marks}){unless} "  # noqa: S608
                  "ORDER BY request_id, seq", {**chunk, **skipped})  # fmt: skip
        rows += r.cur.fetchall()
    return rows


def tally_log(store: Store, pinned: Pinned, texts: dict[str, tuple[str, str]],
              make: Callable[[], Tallying], plan: Plan) -> Tallying:  # fmt: skip
    """``make()``'s tally fed with the whole log: in this process, or, for a large log on a
    machine with several cores, in slices of request ids read by as many processes."""
    reader = LogReader(store, pinned)
    lo, hi, events = reader.span()
    tally = make()
    cores = os.cpu_count() or 1
    workers = min(cores, MAX_WORKERS)
    url = store.engine.url
    alone = events < PARALLEL_FROM or cores < PARALLEL_CORES or plan.placements
    if alone or url.database in (None, "", ":memory:"):
        return reader.feed(tally, plan, lo - 1, hi)
    bounds = [lo - 1 + (hi - lo + 1) * k // workers for k in range(workers + 1)]
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        parts = pool.map(_slice_in_process, [url.render_as_string(hide_password=False)] *
                         workers, [texts] * workers, [make] * workers, [plan] * workers,
                         bounds[:-1], bounds[1:])  # fmt: skip
        for part in parts:
            tally.merge(part)
    return tally


def _slice_in_process(url: str, texts: dict[str, tuple[str, str]], make: Callable[[], Tallying],
                      plan: Plan, after: int, upto: int) -> Tallying:  # fmt: skip
    store = Store(make_engine(url))
    compiled: dict[str, CompiledSop] = {}

    def pinned(sop_id: str, version: int, content_hash: str) -> CompiledSop:
        if content_hash not in compiled:
            if content_hash not in texts:
                raise NotFound(f"SOP {sop_id} v{version} ({content_hash[:19]}) is not "
                               "registered")  # fmt: skip
            compiled[content_hash] = compile_text(*texts[content_hash])
        return compiled[content_hash]

    try:
        return LogReader(store, pinned).feed(make(), plan, after, upto)
    finally:
        store.engine.dispose()
