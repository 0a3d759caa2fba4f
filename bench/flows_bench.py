"""Prefect's cost on the peer workload (../shared/peers/workload.md), in one process:

(a) every step as one ``advance-request`` flow run, beside an empty flow run of the same
    Prefect (the bare per-run overhead), and the same steps through the services alone;
(b) the whole workload as one ``process-commands`` run (chunked tasks, one transaction per
    command), beside the same commands through the services alone (store-only).

Each part uses a fresh SQLite database and Prefect's ephemeral API with heartbeats off.
Prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOP_ID = "peer-recruitment-approval"


def _env(tmp: Path, name: str) -> None:
    os.environ["SOPFLOW_DATABASE_URL"] = f"sqlite:///{tmp}/{name}.db"
    os.environ["SOPFLOW_SOP_DIR"] = str(HERE)
    os.environ["SOPFLOW_DATA_DIR"] = str(tmp / f"{name}-data")
    from sopflow import bootstrap

    bootstrap.settings.cache_clear()
    bootstrap._services = None


def _seed(services: Any, bc: Any) -> None:
    from sopflow.services import OrgInput

    d = services.directory
    d.add_org(OrgInput("Bench employer", "employer", "EG", id="bench-employer"))
    d.add_org(OrgInput("Bench ministry", "authority", "EG", id="bench-ministry"))
    for role in bc.ROLE_OF_STATE.values():
        org = "bench-employer" if role == "employer_agent" else "bench-ministry"
        for k in range(bc.ACTORS_PER_ROLE):
            d.add_user(f"{role}-{k}@bench.example", f"{role} {k}", org, [role])


def workload_commands(bc: Any, n: int) -> list[tuple[int, dict[str, Any]]]:
    """The workload as command JSON: N submits (references in order), then every step."""
    wl = bc.build_workload(n)
    lines: list[tuple[int, dict[str, Any]]] = []
    for inst in wl.instances:
        data = dict(inst.payload)
        data["documents"] = ", ".join(data["documents"])
        lines.append((len(lines) + 1, {"command": "submit", "sop": SOP_ID,
                                       "as": "employer_agent-0@bench.example", "data": data,
                                       "idempotency_key": f"bench-submit-{inst.id}"}))  # fmt: skip
    year = time.gmtime().tm_year
    for st in wl.schedule:
        lines.append((len(lines) + 1, {
            "command": "act", "reference": f"BN-{year}-{st.instance_id:06d}",
            "trigger": st.action, "as": f"{st.actor}@bench.example",
            "comment": st.data["comment"],
            "idempotency_key": f"bench-{st.instance_id}-{st.seq}"}))  # fmt: skip
    return lines


def per_run(bc: Any, n: int, tmp: Path) -> dict[str, float]:
    from prefect import flow

    from sopflow import bootstrap
    from workflows import commands
    from workflows.flows import advance_request, outcome_of
    from workflows.runtime import quiet_runs

    @flow(name="empty", persist_result=False)
    def empty() -> None:
        return None

    lines = workload_commands(bc, n)
    with quiet_runs():
        empty()  # the ephemeral API starts here, outside the timings
        _env(tmp, "runs")
        services = bootstrap.services()
        _seed(services, bc)
        run_times, empty_times = [], []
        for _, command in lines:
            t0 = time.perf_counter()
            outcome = outcome_of(advance_request(command, return_state=True))
            run_times.append(time.perf_counter() - t0)
            if "error" in outcome:
                raise SystemExit(f"flow rejected {command}: {outcome['error']}")
            t0 = time.perf_counter()
            empty()
            empty_times.append(time.perf_counter() - t0)
    _env(tmp, "direct")
    services = bootstrap.services()
    _seed(services, bc)
    direct = []
    for _, command in lines:
        t0 = time.perf_counter()
        commands.apply(services, commands.parse(command))
        direct.append(time.perf_counter() - t0)
    run_ms, empty_ms = statistics.median(run_times) * 1e3, statistics.median(empty_times) * 1e3
    return {"steps": len(lines), "advance_request_ms_p50": run_ms,
            "empty_flow_ms_p50": empty_ms, "direct_ms_p50": statistics.median(direct) * 1e3,
            "overhead_vs_empty_pct": (run_ms / empty_ms - 1) * 100,
            "advance_request_runs_per_s": len(lines) / sum(run_times)}  # fmt: skip


def batch(bc: Any, n: int, tmp: Path) -> dict[str, float]:
    from sopflow import bootstrap
    from workflows.flows import apply_chunk, outcome_of, process_commands
    from workflows.runtime import quiet_runs

    lines = workload_commands(bc, n)
    batch_file = tmp / "workload.jsonl"
    batch_file.write_text("".join(json.dumps(c) + "\n" for _, c in lines), encoding="utf-8")
    _env(tmp, "batch")
    _seed(bootstrap.services(), bc)
    with quiet_runs():
        t0 = time.perf_counter()
        summary = outcome_of(process_commands(path=str(batch_file), return_state=True))["result"]
        flow_s = time.perf_counter() - t0
    if summary["failed"]:
        raise SystemExit(f"batch failures: {summary['failed'][:3]}")
    _env(tmp, "store")
    _seed(bootstrap.services(), bc)
    t0 = time.perf_counter()
    report = apply_chunk.fn(lines, None)
    store_s = time.perf_counter() - t0
    assert all(r["ok"] for r in report)
    return {"commands": len(lines), "process_commands_per_s": len(lines) / flow_s,
            "store_only_per_s": len(lines) / store_s,
            "ratio": (len(lines) / flow_s) / (len(lines) / store_s)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs-n", type=int, default=30, help="instances for (a): 7.2 runs each")
    ap.add_argument("--batch-n", type=int, default=2000, help="instances for (b)")
    ap.add_argument("--peers", default=str(HERE.parent.parent / "shared" / "peers"))
    args = ap.parse_args()
    sys.path.insert(0, args.peers)
    import bench_common as bc

    with tempfile.TemporaryDirectory(prefix="sopflow-flows-") as name:
        tmp = Path(name)
        os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
        from workflows.runtime import configure

        configure(tmp)
        result = {"per_run": per_run(bc, args.runs_n, tmp), "batch": batch(bc, args.batch_n, tmp)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
