"""Instructions per step: what one command costs the processor in user space, counted by
callgrind (deterministic, whatever else the machine runs; timings are not).

    .venv/bin/python bench/step_instructions.py [--n 200]

Runs itself under ``valgrind --tool=callgrind --instr-atstart=no``, applies the first
round of the peer workload's steps uninstrumented (warm caches, compiled SOP), then
counts the instructions of the remaining steps. The kernel's share (the WAL writes and
locks) is not in the count: ``bench/wal_frames.py`` counts those pages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "shared" / "peers")]

import bench_common as bc  # noqa: E402
from peer_sopflow import Sopflow  # noqa: E402


def _instrument(on: bool) -> None:
    switch = ["callgrind_control", "-i", "on" if on else "off", str(os.getpid())]
    subprocess.run(switch, check=True, capture_output=True)


def steps(n: int) -> int:
    """The workload's steps, only those after the first round instrumented."""
    work = bc.build_workload(n, 42)
    engine = Sopflow(argparse.Namespace(sync="NORMAL"))
    with tempfile.TemporaryDirectory(prefix="sopflow-instr-") as tmp:
        engine.setup(f"{tmp}/instr.db")
        for inst in work.instances:
            engine.create(inst)
        warm, counted = work.schedule[:n], work.schedule[n:]
        for st in warm:
            engine.step(st)
        _instrument(True)
        for st in counted:
            engine.step(st)
        _instrument(False)
        engine.close()
    return len(counted)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        print(f"steps {steps(args.n)}")
        return
    if shutil.which("valgrind") is None:
        sys.exit("step_instructions: valgrind is not installed (apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="sopflow-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
             sys.executable, __file__, "--n", str(args.n), "--inside"],
            capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"},
        )  # fmt: skip
        counted = int(run.stdout.split()[-1])
        total = next(int(line.split()[1]) for line in out.read_text().splitlines()
                     if line.startswith("totals:"))  # fmt: skip
    print(f"{total / counted:,.0f} instructions per step ({counted} steps, user space)")


if __name__ == "__main__":
    main()
