"""``make bench``: sopflow beside the peer engines on the fixed workload, and audit verify.

1. The peer benchmark (``../shared/peers``, run in its own venv with the peers' exact
   versions) with sopflow as one more column, every engine in its own subprocess, same run.
2. The SQL floor: the store's statements of the same workload replayed alone
   (``bench/sql_floor.py``), what a step would cost if sopflow's Python cost nothing.
3. Prefect's cost (``bench/flows_bench.py``).
4. ``sopflow audit verify`` over a synthetic, valid, hash-chained log of N events, three
   times (the median; a shared machine's speed varies from one minute to the next).
Results go to ``bench/results/`` (Markdown and JSON); docs/performance.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PEER_COLUMNS = ("sqlite_raw_batched,sqlite_raw_per_step,transitions_memory,transitions_sqlite,"
                "spiff_split,spiff_full,viewflow")  # fmt: skip


def peers_dir() -> Path:
    candidates = [Path(p) for p in [os.environ.get("SOPFLOW_PEERS_DIR")] if p]
    candidates.append(ROOT.parent / "shared" / "peers")
    for path in candidates:
        if (path / "run_peers.py").exists():
            return path
    sys.exit("bench: the peer benchmark (../shared/peers) is missing; set SOPFLOW_PEERS_DIR")


def peers_venv(peers: Path) -> Path:
    venv = ROOT / ".bench" / "peers-venv"
    stamp = venv / ".ready"
    if not stamp.exists():
        print(f"bench: creating the peers' venv in {venv} (once)", file=sys.stderr)
        subprocess.run(["bash", str(peers / "setup.sh"), str(venv)], check=True)
        stamp.touch()
    return venv


def run_peers(args: argparse.Namespace) -> str:
    peers = peers_dir()
    venv = peers_venv(peers)
    engines = args.engines or f"{PEER_COLUMNS},sopflow"
    cmd = [str(venv / "bin" / "python"), str(peers / "run_peers.py"), "--n", str(args.n),
           "--repeats", str(args.repeats), "--sync", args.sync, "--engines", engines,
           "--column", f"sopflow={ROOT / 'bench' / 'peer_sopflow.py'}",
           "--python", f"sopflow={sys.executable}", "--out", str(RESULTS)]  # fmt: skip
    print("bench:", " ".join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    return done.stdout


def verify_benchmark(events: int, repeats: int) -> dict[str, Any]:
    """``audit verify`` of one synthetic log ``repeats`` times (a shared machine's speed
    varies by a fifth from one minute to the next: the median, and every run)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from synth_events import fill

    from sopflow import bootstrap
    from sopflow.settings import Settings

    runs = []
    with tempfile.TemporaryDirectory(prefix="sopflow-verify-") as tmp:
        url = f"sqlite:///{tmp}/verify.db"
        t0 = time.perf_counter()
        made = fill(url, events)
        filled = time.perf_counter() - t0
        services = bootstrap.build(Settings(database_url=url, data_dir=Path(tmp)))
        for _ in range(repeats):
            t0 = time.perf_counter()
            report = services.audit.verify()
            runs.append(time.perf_counter() - t0)
            if not report.intact:
                sys.exit(f"bench: the synthetic log did not verify: {report.breaks[:3]}")
        services.ctx.store.engine.dispose()
    seconds = statistics.median(runs)
    return {"events": made, "verify_s": seconds, "events_per_s": made / seconds,
            "runs_s": [round(r, 2) for r in runs], "fill_s": filled}  # fmt: skip


def flows_benchmark(args: argparse.Namespace) -> str:
    """Prefect's cost: bench/flows_bench.py in its own process (fresh ephemeral API)."""
    script = str(ROOT / "bench" / "flows_bench.py")
    cmd = [sys.executable, script, "--runs-n", str(args.flows_runs_n), "--batch-n", str(args.n),
           "--peers", str(peers_dir())]  # fmt: skip
    print("bench:", " ".join(cmd), file=sys.stderr, flush=True)
    done = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    (RESULTS / "flows.json").write_text(json.dumps(result, indent=2) + "\n")
    a, b = result["per_run"], result["batch"]
    return (
        "| Prefect (same run) | value |\n|---|---:|\n"
        f"| empty flow run, p50 ms | {a['empty_flow_ms_p50']:.1f} |\n"
        f"| advance-request flow run, p50 ms | {a['advance_request_ms_p50']:.1f} |\n"
        f"| advance-request over an empty run | {a['overhead_vs_empty_pct']:+.1f} % |\n"
        f"| the same step through the services alone, p50 ms | {a['direct_ms_p50']:.2f} |\n"
        f"| process-commands, commands/s ({b['commands']:,} commands) | "
        f"{b['process_commands_per_s']:,.0f} |\n"
        f"| store only, commands/s (same commands) | {b['store_only_per_s']:,.0f} |\n"
        f"| process-commands / store only | {b['ratio']:.2f} |"
    )


def sql_floor(args: argparse.Namespace) -> str:
    """The store's statements of the same workload replayed alone (bench/sql_floor.py)."""
    floor = [sys.executable, str(ROOT / "bench" / "sql_floor.py"), "--n", str(args.n)]
    done = subprocess.run(floor, check=True, capture_output=True, text=True)
    return "SQL floor of a step (`bench/sql_floor.py`):\n\n" + "\n".join(
        f"- {line}" for line in done.stdout.splitlines()
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=2000, help="instances (steps = 7.2 x N)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sync", default="NORMAL", choices=["NORMAL", "FULL"])
    ap.add_argument("--engines", default=None, help="columns (default: every peer + sopflow)")
    ap.add_argument("--verify-events", type=int, default=1_000_000, help="0 to skip")
    ap.add_argument("--verify-repeats", type=int, default=3, help="verifications of that log")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--skip-flows", action="store_true")
    ap.add_argument("--skip-floor", action="store_true", help="skip the SQL floor (sql_floor.py)")
    ap.add_argument("--flows-runs-n", type=int, default=30, help="instances, one run per step")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = []
    if not args.skip_peers:
        table = run_peers(args)
        print(table, flush=True)
        summary.append(table)
    if not args.skip_floor:
        summary.append(sql_floor(args))
        print(summary[-1], flush=True)
    if not args.skip_flows:
        summary.append(flows_benchmark(args))
        print(summary[-1], flush=True)
    if args.verify_events:
        result = verify_benchmark(args.verify_events, args.verify_repeats)
        runs = ", ".join(f"{r:.2f}" for r in result["runs_s"])
        line = (f"audit verify: {result['events']:,} events in {result['verify_s']:.2f} s, "
                f"median of {len(result['runs_s'])} ({runs}) "
                f"({result['events_per_s']:,.0f} events/s; building the log took "
                f"{result['fill_s']:.0f} s)")  # fmt: skip
        print(line, flush=True)
        summary.append(line)
        (RESULTS / "verify.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "summary.md").write_text("\n\n".join(summary) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
