"""SIGKILL at random points, many times: the server under traffic, a batch import, the
outbox deliverer. After each restart: every acknowledged command is there exactly once, no
step is half written (each request's row, events and replay agree), the chains verify, and
the outbox delivers every notice exactly once per message id.

The processes are the installed ``sopflow`` command with ``SOPFLOW_PREFECT_MODE=off`` (the
same services and transactions as under Prefect, without its seconds of start-up per
restart; tests/e2e/test_batch_crash.py kills a batch under Prefect). The database is the
test database: SQLite, or PostgreSQL with SOPFLOW_TEST_DATABASE_URL."""

from __future__ import annotations

import email
import json
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.services import Services
from sopflow.settings import Settings
from tests.e2e.processes import SOPFLOW, clean_env, free_port, run, start, stop, wait_until
from tests.integration import world as w
from tests.reliability.kill_clients import Acks, Walker
from tests.reliability.scale import record, scaled

CHAIN = ("create", "submit", "attest_demand", "register_demand")


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return clean_env(
        SOPFLOW_DATABASE_URL=database_url,
        SOPFLOW_DATA_DIR=str(tmp_path / "data"),
        SOPFLOW_OUTBOX_DIR=str(tmp_path / "outbox"),
        SOPFLOW_PREFECT_MODE="off",
        SOPFLOW_SESSION_SECRET="kill-test",
    )


@pytest.fixture
def local(database_url: str, tmp_path: Path) -> Any:
    """In-process services on the same database (seeding and checking)."""
    services = bootstrap.build(
        Settings(
            database_url=database_url, data_dir=tmp_path / "data", outbox_dir=tmp_path / "outbox"
        )
    )
    w.seed(services)
    yield services
    services.ctx.store.engine.dispose()


def check_store(services: Services) -> dict[str, int]:
    """No half-written step: each request's events run 1..seq without a gap, its row agrees,
    replay gives the stored state; the chains verify (and SQLite's own check passes)."""
    with services.ctx.store.read() as r:
        rows = r.all("SELECT id, reference, seq, version FROM requests ORDER BY id")
        for row in rows:
            seqs = [e["seq"] for e in r.events_of(row["id"])]
            assert seqs == list(range(1, row["seq"] + 1)), row
            assert row["version"] == row["seq"] - 1, row
        if services.ctx.store.dialect == "sqlite":
            assert r.one("PRAGMA integrity_check") == {"integrity_check": "ok"}
    for row in rows:
        replayed = services.audit.replay(row["reference"], w.email("eg_auditor"))
        assert replayed["consistent"], (row["reference"], replayed["differences"])
    report = services.audit.verify()
    assert report.intact, report.breaks
    return {"requests": len(rows), "events": report.events}


# -- the server -----------------------------------------------------------------------------
def kill_the_server_under_traffic(
    env: dict[str, str], local: Services, tmp_path: Path, kills: int, walkers: int
) -> dict[str, Any]:
    tokens = {
        who: local.tokens.create(w.email(who)).token
        for who in ("agent", "labour_attache", "registry_clerk")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(SOPFLOW), "serve", "--port", str(port)]
    acks, done = Acks(), threading.Event()
    clients = [Walker(n, url, tokens, acks, done) for n in range(walkers)]
    rng = random.Random(kills)
    log = tmp_path / "serve.log"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    server = start(command, env, tmp_path, log)
    try:
        wait_until(up, 120, "sopflow serve", server, log)
        for client in clients:
            client.start()
        for _ in range(kills):
            time.sleep(rng.uniform(0.2, 1.2))  # mid-traffic: commands in every phase
            stop(server)  # SIGKILL, the whole process group
            time.sleep(rng.uniform(0, 0.3))
            server = start(command, env, tmp_path, log)
            wait_until(up, 120, "sopflow serve after a kill", server, log)
        time.sleep(0.5)
        done.set()  # the clients finish the demand under way, then end
        for client in clients:
            client.join(timeout=240)
        assert not any(c.is_alive() for c in clients), "a client never finished"
    finally:
        stop(server)
    assert not acks.unexpected, acks.unexpected[:5]
    return {
        "kills": kills,
        "acknowledged": len(acks.acked),
        "resent": acks.resent,
        "acks": acks.acked,
    }


def check_every_ack_once(local: Services, acked: dict[str, tuple[str, str, int]]) -> None:
    with local.ctx.store.engine.connect() as conn:
        keys = Counter(
            conn.execute(
                sa.text("SELECT key FROM idempotency_keys WHERE key LIKE 'kill-%'")
            ).scalars()
        )
        events = {
            (ref, seq): trigger
            for ref, seq, trigger in conn.execute(
                sa.text(
                    "SELECT r.reference, e.seq, e.trigger FROM events e JOIN requests r "
                    "ON r.id = e.request_id"
                )
            )
        }
        chains: dict[str, list[str]] = {}
        for (ref, _), trigger in sorted(events.items()):
            chains.setdefault(ref, []).append(trigger)
    assert keys == Counter(acked.keys()), "a command applied twice, or one applied unacknowledged"
    for ref, trigger, seq in acked.values():  # each acknowledgement is the stored event
        assert events[(ref, seq)] == trigger
    for ref, chain in chains.items():  # every demand: filed once, each step once, in order
        assert tuple(chain) == CHAIN[: len(chain)], (ref, chain)
    assert {ref for ref, _, _ in acked.values()} == set(chains)


def test_the_server_killed_at_random_points_loses_no_acknowledged_command(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_server_under_traffic(env, local, tmp_path, kills=3, walkers=3)
    check_every_ack_once(local, figures.pop("acks"))
    record("server-kills", **figures, **check_store(local))
    assert figures["acknowledged"] > 6


@pytest.mark.soak
def test_soak_the_server_killed_many_times(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_server_under_traffic(env, local, tmp_path, kills=scaled(25, 3), walkers=4)
    check_every_ack_once(local, figures.pop("acks"))
    record("server-kills-soak", **figures, **check_store(local))


# -- the outbox deliverer -------------------------------------------------------------------
def kill_the_deliverer(
    env: dict[str, str], local: Services, tmp_path: Path, kills: int
) -> dict[str, Any]:
    for n in range(scaled(50, 40)):
        w.submit_eg(local, workers_requested=n + 1)
    rng = random.Random(kills)
    killed = stranded = 0

    def sent() -> int:
        return sum(1 for r in local.notices.listing("sent", limit=100_000))

    total = len(local.notices.listing("pending", limit=100_000))
    for n in range(kills):
        before = sent()
        # a random point while it sends: after it has sent a random share of what is left
        target = before + rng.randint(1, max(1, (total - before) // (kills - n + 1)))
        deliverer = start(
            [str(SOPFLOW), "notify", "deliver", "--limit", "100000"],
            env,
            tmp_path,
            tmp_path / "deliver.log",
        )
        wait_until(lambda target=target: sent() >= target, 120, "delivery", every=0.01)  # type: ignore[misc]
        stop(deliverer)
        with local.ctx.store.read() as r:
            left = r.one("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")
            leased = r.one(
                "SELECT count(*) AS n FROM outbox WHERE status = 'pending' AND "
                "next_attempt_at > :now",
                {"now": local.ctx.clock()},
            )
        killed += bool(left and left["n"])  # killed while notices were left to send
        stranded += int(leased["n"]) if leased else 0  # claimed by the killed process
    # then one that runs to its end, and a later one once the killed runs' leases are over
    last = run([str(SOPFLOW), "notify", "deliver", "--limit", "100000"], env, tmp_path)
    assert last.returncode == 0, last.stderr
    real_clock = local.ctx.clock
    local.ctx.clock = lambda: real_clock() + timedelta(minutes=10)
    local.notices.deliver(limit=100_000)
    local.ctx.clock = real_clock
    rows = local.notices.listing(limit=100_000)
    assert {r["status"] for r in rows} <= {"sent", "unroutable"}, Counter(r["status"] for r in rows)
    sent = [r["message_id"] for r in rows if r["status"] == "sent"]
    written = list((tmp_path / "outbox").glob("*.eml"))
    files = [p for p in written if not p.name.startswith(".tmp-")]
    ids = Counter(email.message_from_bytes(p.read_bytes())["Message-ID"].strip("<>") for p in files)
    assert ids == Counter(sent)  # one whole file per message id, none twice, none missing
    return {
        "kills": kills,
        "killed_mid_run": killed,
        "notices": len(sent),
        "stranded_by_kills": stranded,
        "temp_files_left": len(written) - len(files),
    }


def test_the_outbox_deliverer_killed_at_random_points_delivers_each_notice_once(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_deliverer(env, local, tmp_path, kills=3)
    record("deliverer-kills", **figures, **check_store(local))


@pytest.mark.soak
def test_soak_the_outbox_deliverer_killed_many_times(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_deliverer(env, local, tmp_path, kills=scaled(15, 3))
    record("deliverer-kills-soak", **figures, **check_store(local))


# -- a batch import ------------------------------------------------------------------------
def local_year() -> int:
    return bootstrap.utc_now().year


def kill_the_batch(
    env: dict[str, str], local: Services, tmp_path: Path, kills: int, demands: int
) -> dict[str, Any]:
    path, keys, _ = w.demand_batch(tmp_path, demands, local_year(), "batch-kill")
    rng = random.Random(kills)

    def applied() -> int:
        with local.ctx.store.read() as r:
            row = r.one(
                "SELECT count(*) AS n FROM idempotency_keys WHERE key LIKE :keys",
                {"keys": "batch-kill:%"},
            )
        return int(row["n"]) if row else 0

    killed = 0
    for n in range(kills):
        before = applied()
        target = before + rng.randint(1, max(1, (len(keys) - before) // (kills - n + 1)))
        batch = start(
            [str(SOPFLOW), "request", "import", str(path)], env, tmp_path, tmp_path / "import.log"
        )
        wait_until(
            lambda target=target, batch=batch: applied() >= target or batch.poll() is not None,  # type: ignore[misc]
            300,
            "the batch",
            every=0.01,
        )
        killed += batch.poll() is None
        stop(batch)
    committed = applied()
    last = run([str(SOPFLOW), "request", "import", str(path), "--json"], env, tmp_path)
    assert last.returncode == 0, last.stderr
    summary = json.loads(last.stdout)
    assert summary["failed"] == []
    assert (summary["applied"], summary["already_applied"]) == (len(keys) - committed, committed)
    with local.ctx.store.engine.connect() as conn:
        stored = Counter(
            conn.execute(
                sa.text("SELECT key FROM idempotency_keys WHERE key LIKE 'batch-kill:%'")
            ).scalars()
        )
        chains = Counter(
            tuple(
                conn.execute(
                    sa.text("SELECT trigger FROM events WHERE request_id = :id ORDER BY seq"),
                    {"id": rid},
                ).scalars()
            )
            for rid in conn.execute(sa.text("SELECT id FROM requests")).scalars()
        )
    assert stored == Counter(keys)  # every command exactly once
    assert chains == Counter({CHAIN: demands})  # every demand filed once, each step once
    return {
        "kills": kills,
        "killed_mid_run": killed,
        "commands": len(keys),
        "committed_before_last_run": committed,
    }


def test_a_batch_killed_at_random_points_applies_everything_exactly_once(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_batch(env, local, tmp_path, kills=3, demands=30)
    record("batch-kills", **figures, **check_store(local))
    assert figures["killed_mid_run"] == 3


@pytest.mark.soak
def test_soak_a_batch_killed_many_times(
    env: dict[str, str], local: Services, tmp_path: Path
) -> None:
    figures = kill_the_batch(env, local, tmp_path, kills=scaled(20, 3), demands=scaled(120, 30))
    record("batch-kills-soak", **figures, **check_store(local))
