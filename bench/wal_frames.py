"""Pages written per step: what one command costs the disk, independent of the machine's
load (a deterministic count where timings are noisy). Runs the peer workload through the
services with automatic checkpoints off and counts the WAL frames the steps appended.

    .venv/bin/python bench/wal_frames.py [--n 300] [--drop-index ix_requests_sop_state]...

``--drop-index`` shows what an index costs each step (the figures in docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "shared" / "peers")]

import bench_common as bc  # noqa: E402
from peer_sopflow import Sopflow  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--drop-index", action="append", default=[])
    args = ap.parse_args()
    engine = Sopflow(argparse.Namespace(sync="NORMAL"))
    with tempfile.TemporaryDirectory(prefix="sopflow-frames-") as tmp:
        db = f"{tmp}/frames.db"
        engine.setup(db)

        @sa.event.listens_for(engine.services.ctx.store.engine, "connect")
        def _no_checkpoints(dbapi_conn: object, _rec: object) -> None:
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[attr-defined]

        engine.services.ctx.store.engine.dispose()  # reconnect with the listener above
        work = bc.build_workload(args.n, 42)
        for inst in work.instances:
            engine.create(inst)
        raw = sqlite3.connect(db, isolation_level=None)
        frame = raw.execute("PRAGMA page_size").fetchone()[0] + 24  # a page and its header
        for index in args.drop_index:
            raw.execute(f"DROP INDEX {index}")
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = os.path.getsize(db + "-wal")
        for st in work.schedule:
            engine.step(st)
        frames = (os.path.getsize(db + "-wal") - before) / frame
        engine.close()
    dropped = f" without {', '.join(args.drop_index)}" if args.drop_index else ""
    print(
        f"{frames / len(work.schedule):.1f} pages written per step{dropped} "
        f"({len(work.schedule)} steps)"
    )


if __name__ == "__main__":
    main()
