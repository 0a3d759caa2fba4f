"""``sopflow request import`` killed with SIGKILL in the middle of a batch, then run again:
nothing committed is lost, nothing is applied twice, the audit chain still verifies.

The import runs as a real subprocess (in its own process group, with the temporary Prefect
API it starts), against a migrated test database: SQLite, or PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.settings import Settings
from sopflow.store.db import make_engine
from tests.e2e.processes import SOPFLOW, clean_env, run, start, stop
from tests.integration import world as w

# each: submit, attest_demand, register_demand (3 lines, 4 events); 60 left too short a
# window to kill the import in when CI loaded both cores (all 180 lines applied once)
REQUESTS = 150
STEPS = ("create", "submit", "attest_demand", "register_demand")
START_TIMEOUT = 180.0  # Prefect's temporary API starts in 6-13 s; a bound, not an expectation


@dataclass
class Batch:
    path: Path
    keys: list[str]
    references: list[str]


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A database with the world's organisations and users; the subprocesses' environment."""
    data = tmp_path / "data"
    services = bootstrap.build(Settings(database_url=database_url, data_dir=data))
    try:
        w.seed(services)
    finally:
        services.ctx.store.engine.dispose()
    return clean_env(
        SOPFLOW_DATABASE_URL=database_url,
        SOPFLOW_DATA_DIR=str(data),
        SOPFLOW_OUTBOX_DIR=str(tmp_path / "outbox"),
        SOPFLOW_PREFECT_MODE="embedded",
        PREFECT_HOME=str(tmp_path / "prefect"),
    )


@pytest.fixture
def batch(tmp_path: Path) -> Batch:
    """REQUESTS Egyptian demands, each filed, attested and registered; every line has an
    explicit idempotency key. References are given in filing order on a fresh database."""
    folder = tmp_path / "batch"
    folder.mkdir()
    path, keys, references = w.demand_batch(folder, REQUESTS, datetime.now(UTC).year,
                                            "crash-test")  # fmt: skip
    return Batch(path, keys, references)


@pytest.fixture
def db(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def applied_keys(db: sa.Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(
                sa.text("SELECT count(*) FROM idempotency_keys WHERE key LIKE 'crash-test:%'")
            ).scalar_one()
        )


@pytest.mark.slow
def test_an_import_killed_midway_loses_nothing_and_applies_nothing_twice_when_rerun(
    env: dict[str, str], batch: Batch, db: sa.Engine, tmp_path: Path
) -> None:
    total = len(batch.keys)
    log = tmp_path / "first-run.log"
    first = start([str(SOPFLOW), "request", "import", str(batch.path)], env, tmp_path, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while first.poll() is None and time.monotonic() < deadline:
            if applied_keys(db) >= 10:  # well into the batch: kill it now
                break
            time.sleep(0.02)
        finished_early = first.poll() is not None
    finally:
        stop(first)  # SIGKILL to the import and the Prefect API it started
    committed = applied_keys(db)
    assert not finished_early, (
        f"the first run ended (exit {first.returncode}) before it could be killed; "
        f"make the batch larger\n{log.read_text()}"
    )
    assert 0 < committed < total, f"{committed} of {total} applied when killed\n{log.read_text()}"

    second = run([str(SOPFLOW), "request", "import", str(batch.path), "--json"], env, tmp_path)

    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout)
    assert summary["failed"] == []
    assert (summary["commands"], summary["applied"], summary["already_applied"]) == (
        total,
        total - committed,
        committed,
    )
    with db.connect() as conn:
        keys = Counter(
            conn.execute(
                sa.text("SELECT key FROM idempotency_keys WHERE key LIKE 'crash-test:%'")
            ).scalars()
        )
        requests = conn.execute(
            sa.text("SELECT id, reference, state FROM requests ORDER BY id")
        ).all()
        triggers = {
            reference: [
                row.trigger
                for row in conn.execute(
                    sa.text("SELECT seq, trigger FROM events WHERE request_id = :id ORDER BY seq"),
                    {"id": request_id},
                )
            ]
            for request_id, reference, _ in requests
        }
    assert keys == Counter(batch.keys)  # every command applied exactly once
    assert [r.reference for r in requests] == batch.references  # no duplicate filing
    assert {r.state for r in requests} == {"demand_under_review"}
    assert {ref: tuple(t) for ref, t in triggers.items()} == dict.fromkeys(batch.references, STEPS)
    audit = run([str(SOPFLOW), "audit", "verify"], env, tmp_path)
    assert audit.returncode == 0, audit.stdout + audit.stderr
