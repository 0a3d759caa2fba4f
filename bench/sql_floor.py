"""The SQL floor of a step: how fast the workload would run if sopflow's Python cost nothing.

Runs the peer workload through the services once and records every statement the store
sends SQLite (text and bound values, BEGIN and COMMIT included), then replays exactly those
statements, in order, with plain ``sqlite3`` on a fresh database set up the same way. The
replay's rate is the ceiling of this schema and this write set, whatever the Python around
it: if it is below a throughput target, no tuning of the Python path can meet that target.

    .venv/bin/python bench/sql_floor.py [--n 2000] [--repeat 3] [--drop-index NAME]...

``--drop-index`` replays on a database without that index (what it costs each step).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "shared" / "peers")]

import bench_common as bc  # noqa: E402
from peer_sopflow import Sopflow  # noqa: E402

from sopflow.store import repository  # noqa: E402
from sopflow.store.db import make_engine  # noqa: E402

Statement = tuple[str, Any]


class _Recording:
    """A DBAPI connection (or cursor) that notes every statement it is given."""

    def __init__(self, inner: Any, log: list[Statement]) -> None:
        self._inner, self._log = inner, log

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._log.append((sql, params))
        return self._inner.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        self._log.append((sql, ("many", rows)))
        return self._inner.executemany(sql, rows)

    def cursor(self) -> _Recording:
        return _Recording(self._inner.cursor(), self._log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def record(n: int, db: str) -> tuple[list[Statement], int, float]:
    """The statements of the workload's creates and steps, the step count, the run's rate."""
    log: list[Statement] = []
    engine = Sopflow(argparse.Namespace(sync="NORMAL"))
    engine.setup(db)
    plain = repository._Scope._conn

    def recording_conn(scope: Any) -> Any:
        scope.conn = _Recording(plain(scope), log)
        return scope.conn

    work = bc.build_workload(n, 42)
    repository._Scope._conn = recording_conn  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        for inst in work.instances:
            engine.create(inst)
        for st in work.schedule:
            engine.step(st)
        rate = len(work.schedule) / (time.perf_counter() - started)
    finally:
        repository._Scope._conn = plain  # type: ignore[method-assign]
    engine.close()
    return log, len(work.schedule), rate


def replay(log: list[Statement], db: str, drop: list[str]) -> float:
    """Seconds to run the recorded statements on a fresh database set up like the first."""
    Sopflow(argparse.Namespace(sync="NORMAL")).setup(db)
    # a plain sqlite3 connection, opened with the store's own pragmas (sopflow.store.db)
    lease = make_engine(f"sqlite:///{db}").raw_connection()
    conn = lease.driver_connection
    for index in drop:
        conn.execute(f"DROP INDEX {index}")
    cur = conn.cursor()
    started = time.perf_counter()
    for sql, params in log:
        if isinstance(params, tuple) and params[:1] == ("many",):
            cur.executemany(sql, params[1])
        elif sql in ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
            conn.execute(sql)
        else:
            cur.execute(sql, params).fetchall()
    seconds = time.perf_counter() - started
    lease.close()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--drop-index", action="append", default=[])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sopflow-floor-") as tmp:
        log, steps, rate = record(args.n, f"{tmp}/recorded.db")
        runs = [replay(log, f"{tmp}/replay{i}.db", args.drop_index) for i in range(args.repeat)]
    seconds = statistics.median(runs)
    kinds = Counter(sql.split()[0] for sql, _ in log)
    dropped = f" without {', '.join(args.drop_index)}" if args.drop_index else ""
    print(f"recorded run: {rate:,.0f} steps/s through the services ({steps:,} steps)")
    print(f"statements: {len(log):,} ({len(log) / steps:.1f} per step: "
          + ", ".join(f"{k} {v / steps:.1f}" for k, v in kinds.most_common()) + ")")  # fmt: skip
    print(
        f"SQL floor{dropped}: {steps / seconds:,.0f} steps/s "
        f"({seconds / steps * 1e6:.0f} µs of SQLite per step, median of {args.repeat})"
    )


if __name__ == "__main__":
    main()
