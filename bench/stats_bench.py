"""``python bench/stats_bench.py``: every statistics table over a realistic synthetic log of
N events (default 1,000,000; see ``stats_synth.py``), timed through the service, and one
command timed end to end as a user runs it (``sopflow stats ... --format json``).

    .venv/bin/python bench/stats_bench.py                       # SQLite, 1,000,000 events
    .venv/bin/python bench/stats_bench.py --db postgresql+psycopg://postgres@127.0.0.1/stats_dev
    .venv/bin/python bench/stats_bench.py --db sqlite:////tmp/stats.db --reuse   # keep a log

Results: bench/results/stats.json and stats.md (docs/performance.md quotes them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "bench"))

from stats_synth import NOW, fill  # noqa: E402

from sopflow import bootstrap  # noqa: E402
from sopflow.analytics.model import Query, Window  # noqa: E402
from sopflow.settings import Settings  # noqa: E402
from sopflow.store.db import make_engine  # noqa: E402

QUARTER = Window(date(2026, 7, 1), date(2026, 9, 30))  # a dashboard's usual question
CASES = (
    ("placements", Query()),
    ("placements", Query(by=("period", "sop", "outcome"), period="quarter")),
    ("placements", Query(by=("sop", "sex", "age_band", "occupation_major"))),
    ("placements", Query(by=("destination_country", "industry_section"), basis="filing")),
    ("stages", Query()),
    ("stages", Query(by=("sop", "stage", "role"))),
    ("deadlines", Query()),
    ("returns", Query(by=("sop", "stage", "reason"))),
    ("ageing", Query()),
    ("workload", Query()),
    ("workload", Query(by=("role", "period"), period="quarter")),
    ("placements", Query(window=QUARTER)),
    ("stages", Query(window=QUARTER)),
    ("deadlines", Query(by=("sop", "stage", "role"), window=QUARTER)),
    ("returns", Query(window=QUARTER)),
    ("workload", Query(window=QUARTER)),
)  # fmt: skip


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar() or 0)
    except sa.exc.SQLAlchemyError:
        return 0
    finally:
        engine.dispose()


def run(url: str, events: int, reuse: bool, data_dir: Path) -> dict[str, Any]:
    have = _count(url) if reuse else 0
    fill_s = None
    if have == 0:
        if url.startswith("postgresql"):
            engine = make_engine(url)
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
            engine.dispose()
        t0 = time.perf_counter()
        made = fill(url, events)
        fill_s = time.perf_counter() - t0
        print(f"filled {made['events']} events, {made['requests']} requests in {fill_s:.0f} s",
              file=sys.stderr)  # fmt: skip
    if url.startswith("postgresql"):  # what autovacuum does after a bulk load, at once
        engine = make_engine(url)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
        engine.dispose()
    services = bootstrap.build(Settings(database_url=url, data_dir=data_dir))
    services.ctx.clock = lambda: NOW
    timings = []
    for name, query in CASES:
        t0, c0 = time.perf_counter(), time.process_time()
        table = services.statistics.table(name, query)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        timings.append({"table": name, "by": list(table.dimensions), "period": query.period,
                        "basis": query.basis, "window": query.window.to_json(),
                        "rows": len(table.rows), "seconds": round(seconds, 2),
                        "main_process_cpu_s": round(cpu, 2)})  # fmt: skip
        print(f"{name:11} by {','.join(table.dimensions):40} {len(table.rows):5} rows "
              f"{seconds:6.2f} s", file=sys.stderr)  # fmt: skip
    events_n = _count(url)
    services.ctx.store.engine.dispose()
    env = {**os.environ, "SOPFLOW_DATABASE_URL": url, "SOPFLOW_PREFECT_MODE": "off",
           "SOPFLOW_DATA_DIR": str(data_dir)}  # fmt: skip
    sopflow = Path(sys.executable).with_name("sopflow")
    t0 = time.perf_counter()
    done = subprocess.run([str(sopflow), "stats", "stages", "--format", "json"], env=env,
                          capture_output=True, text=True, check=True)  # fmt: skip
    cli_s = time.perf_counter() - t0
    json.loads(done.stdout)
    return {"database": url.split("://")[0], "events": events_n, "fill_s": fill_s,
            "cores": os.cpu_count(), "load_average": os.getloadavg(),
            "tables": timings, "cli_stages_json_s": round(cli_s, 2)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="keep an existing log in --db")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="sopflow-stats-") as tmp:
        url = args.db or f"sqlite:///{tmp}/stats.db"
        result = run(url, args.events, args.reuse, Path(tmp))
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"stats-{result['database']}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    lines = [f"# Statistics over {result['events']:,} events ({result['database']}, "
             f"{result['cores']} cores, load {result['load_average'][0]:.1f})", "",
             "| table | by | window | rows | seconds | CPU s |",
             "|---|---|---|---|---:|---:|"]  # fmt: skip
    for t in result["tables"]:
        window = t["window"]["from"] and f"{t['window']['from']} to {t['window']['to']}"
        lines.append(f"| {t['table']} | {', '.join(t['by'])} | {window or 'all'} | "
                     f"{t['rows']} | {t['seconds']} | {t['main_process_cpu_s']} |")  # fmt: skip
    lines.append(f"\n`sopflow stats stages --format json` end to end: "
                 f"{result['cli_stages_json_s']} s")  # fmt: skip
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
