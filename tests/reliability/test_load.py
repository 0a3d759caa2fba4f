"""The HTTP load tool (bench/load.py) against ``sopflow serve`` on 127.0.0.1: mixed reads and
actions from many users, bounded in time and count; no answer may be a 5xx. A short run on
SQLite in ``make test``; longer ones on SQLite and PostgreSQL (a database of its own on the
local server, never the suite's) in ``make soak``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.scale import SCALE, record

LOAD = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def load(*args: str, timeout: float = 900) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(LOAD), "--json", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == 0 and report["server_errors"] == 0, report["failures"]
    return report


def postgres_reachable() -> bool:
    if not shutil.which("pg_isready"):
        return False
    return (
        subprocess.run(
            ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"], check=False
        ).returncode
        == 0
    )


def test_a_short_load_run_on_sqlite_answers_everything_without_a_5xx() -> None:
    report = load("--database", "sqlite", "--users", "6", "--duration", "4", "--extra", "1")
    assert report["requests"] > 50 and report["action"]["count"] > 5
    assert set(report["status"]) <= {"200", "201", "409", "412"}, report["status"]
    record("load-short", **{k: v for k, v in report.items() if k != "failures"})


@pytest.mark.soak
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_soak_load_on_each_database(database: str) -> None:
    if database == "postgresql" and not postgres_reachable():
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    seconds = str(max(int(45 * SCALE), 5))
    report = load("--database", database, "--users", "24", "--duration", seconds)
    assert set(report["status"]) <= {"200", "201", "409", "412"}, report["status"]
    record(f"load-{database}", **{k: v for k, v in report.items() if k != "failures"})
