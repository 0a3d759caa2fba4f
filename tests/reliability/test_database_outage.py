"""PostgreSQL stopped and restarted in the middle of a run (a private cluster: the shared
server is never touched). While it is down every command fails whole with a clean,
retryable ``database-error`` (the API: a 503 problem, ``/ready`` says not ready); once it is
back the same services go on without a restart, and nothing acknowledged is lost: sending
every command again with its idempotency key applies each exactly once."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sopflow import bootstrap
from sopflow.errors import AdapterError, CommandRejected
from sopflow.services import Command, Services
from sopflow.settings import Settings
from sopflow.store.db import make_engine, upgrade
from sopflow.web.app import create_app
from tests.integration import world as w
from tests.integration.world import email
from tests.reliability.private_postgres import Cluster, available, private_cluster
from tests.reliability.scale import record, scaled

pytestmark = pytest.mark.skipif(not available(), reason="needs initdb, pg_ctl and root")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with private_cluster() as running:
        engine = make_engine(running.url)
        upgrade(engine)
        engine.dispose()
        yield running


@pytest.fixture
def pg_services(cluster: Cluster, tmp_path: Path) -> Iterator[Services]:
    services = bootstrap.build(
        Settings(
            database_url=cluster.url, data_dir=tmp_path / "data", outbox_dir=tmp_path / "outbox"
        )
    )
    w.seed(services)
    yield services
    services.ctx.store.engine.dispose()


class Traffic:
    """Commands in a loop, each with its own idempotency key: what was acknowledged, what
    failed and how."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.sent: list[tuple[str, dict[str, Any]]] = []  # (key, command), in order
        self.acked: dict[str, Any] = {}
        self.failures: Counter[str] = Counter()
        self.unexpected: list[BaseException] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def apply(self, key: str, command: dict[str, Any]) -> Any:
        if command["kind"] == "submit":
            return self.services.commands.submit(
                w.EG,
                email("agent"),
                Command(
                    data=w.eg_data(workers_requested=command["n"]),
                    documents=[w.doc(k, b"%PDF-1.4 " + k.encode()) for k in w.EG_SUBMIT_DOCS],
                    idempotency_key=key,
                ),
            )
        return self.services.commands.act(
            command["reference"],
            "attest_demand",
            email("labour_attache"),
            Command(documents=[w.doc("attestation", b"%PDF-1.4 a")], idempotency_key=key),
        )

    def _run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            done = [r for r in self.acked.values() if r.trigger == "submit"]
            attested = {r.reference for r in self.acked.values() if r.trigger == "attest_demand"}
            todo = [r.reference for r in done if r.reference not in attested]
            command = (
                {"kind": "attest", "reference": todo[0]}
                if todo and n % 2
                else {"kind": "submit", "n": n}
            )
            key = f"outage-{n}"
            self.sent.append((key, command))
            try:
                self.acked[key] = self.apply(key, command)
            except AdapterError as exc:
                self.failures[f"{exc.code}:{exc.retryable}"] += 1
                time.sleep(0.05)
            except BaseException as exc:  # anything else is a failure of the test
                self.unexpected.append(exc)
            time.sleep(0.005)

    def __enter__(self) -> Traffic:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=60)

    def wait_for(self, acks: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < acks:
            assert time.monotonic() < deadline, f"only {len(self.acked)} acknowledged"
            time.sleep(0.02)


def outage(cluster: Cluster, traffic: Traffic, services: Services, down_for: float) -> int:
    """Stop the server mid-run, check the answers while it is down, start it again."""
    before = len(traffic.acked)
    cluster.stop("fast")
    failed_before = sum(traffic.failures.values())
    time.sleep(down_for)
    assert sum(traffic.failures.values()) > failed_before, "no command was tried while down"
    with pytest.raises(AdapterError) as caught:
        services.queries.show("EG-2026-000001", email("agent"))
    assert caught.value.code == "database-error" and caught.value.retryable
    cluster.start()
    traffic.wait_for(len(traffic.acked) + 5)
    return len(traffic.acked) - before


def check_nothing_lost(services: Services, traffic: Traffic) -> dict[str, int]:
    assert not traffic.unexpected, traffic.unexpected[:3]
    assert set(traffic.failures) <= {"database-error:True"}, traffic.failures
    for key, result in traffic.acked.items():  # every acknowledged command is there
        again = traffic.apply(key, dict(traffic.sent)[key])
        assert again.replayed and (again.reference, again.seq) == (result.reference, result.seq)
    for key, command in traffic.sent:  # the failed ones, sent again as a client would:
        if key not in traffic.acked:  # applied now, found applied, or moot (state moved on)
            with contextlib.suppress(CommandRejected):
                traffic.apply(key, command)
    with services.ctx.store.engine.connect() as conn:
        keys = Counter(
            conn.execute(
                sa.text("SELECT key FROM idempotency_keys WHERE key LIKE 'outage-%'")
            ).scalars()
        )
        events = Counter(conn.execute(sa.text("SELECT trigger FROM events")).scalars())
    assert set(traffic.acked) <= set(keys) and set(keys.values()) == {1}  # each exactly once
    submits = sum(1 for key, c in traffic.sent if key in keys and c["kind"] == "submit")
    attests = sum(1 for key, c in traffic.sent if key in keys and c["kind"] == "attest")
    assert (events["create"], events["attest_demand"]) == (submits, attests)
    report = services.audit.verify()
    assert report.intact, report.breaks
    return {
        "commands": len(traffic.sent),
        "acknowledged": len(traffic.acked),
        "refused_while_down": sum(traffic.failures.values()),
        "events": report.events,
    }


def test_postgresql_stopped_and_restarted_mid_run_loses_nothing(
    cluster: Cluster, pg_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Traffic(pg_services) as traffic:
        traffic.wait_for(6)
        cluster.stop("fast")
        time.sleep(1.0)
        off = Settings(database_url=cluster.url, prefect_mode="off")
        monkeypatch.setattr(bootstrap, "settings", lambda: off)
        monkeypatch.setattr(bootstrap, "_services", pg_services)
        token_while_down = None
        with TestClient(create_app(pg_services), raise_server_exceptions=False) as api:
            ready = api.get("/ready")
            listed = api.get("/api/v1/requests", headers={"Authorization": "Bearer sfp_x"})
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert listed.status_code == 503 and listed.json()["code"] == "database-error"
        assert "Traceback" not in listed.text and token_while_down is None
        cluster.start()
        traffic.wait_for(len(traffic.acked) + 6)
    figures = check_nothing_lost(pg_services, traffic)
    record("postgresql-outage", outages=1, **figures)


@pytest.mark.soak
def test_soak_postgresql_stopped_and_restarted_many_times(
    cluster: Cluster, pg_services: Services
) -> None:
    outages = scaled(8, 2)
    with Traffic(pg_services) as traffic:
        traffic.wait_for(5)
        for n in range(outages):
            outage(cluster, traffic, pg_services, down_for=0.5 + (n % 3))
    figures = check_nothing_lost(pg_services, traffic)
    record("postgresql-outage-soak", outages=outages, **figures)
