"""A full disk and a read-only database: every command is refused with a clear error (a
stable code, a message naming the database), nothing is half written, the chains verify,
and once the fault is gone the same command succeeds.

SQLite: a full disk is SQLite's own SQLITE_FULL, reached with ``PRAGMA max_page_count`` (we
run as root, so file modes would not stop a write); a read-only database is the same file
opened through a read-only URI. PostgreSQL: a read-only database is a session whose
transactions are read-only (as on a standby)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from sopflow import bootstrap
from sopflow.errors import AdapterError
from sopflow.services import Command, Services
from sopflow.settings import Settings
from sopflow.web.app import create_app
from tests.integration import world as w
from tests.integration.conftest import PG_URL, Clock
from tests.integration.world import email

sqlite_only = pytest.mark.skipif(bool(PG_URL), reason="SQLite's own full and read-only errors")


def attest(services: Services, reference: str) -> Any:
    return services.commands.act(
        reference,
        "attest_demand",
        email("labour_attache"),
        Command(documents=w.docs("attestation")),
    )


def limit_pages(engine: sa.Engine, extra_pages: int) -> Any:
    """Every new connection may grow the database by ``extra_pages`` pages at most."""

    @sa.event.listens_for(engine, "connect")
    def _full(dbapi_conn: Any, _record: Any) -> None:
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + extra_pages}")

    engine.dispose()  # the pooled connections had no limit
    return _full


@sqlite_only
def test_a_full_disk_refuses_commands_cleanly_and_they_succeed_once_there_is_room(
    seeded: Services, database_url: str
) -> None:
    refs = [w.submit_eg(seeded).reference for _ in range(3)]
    engine = seeded.ctx.store.engine
    limit = limit_pages(engine, 0)
    before = w.footprint(seeded)

    refused = []
    for ref in refs:
        with pytest.raises(AdapterError) as caught:
            attest(seeded, ref)
        refused.append(caught.value)
    with pytest.raises(AdapterError) as on_submit:
        w.submit_eg(seeded)
    refused.append(on_submit.value)

    database = database_url.removeprefix("sqlite:///")
    for error in refused:
        assert error.code == "database-full" and not error.retryable
        assert database in error.message and "full" in error.message
    assert w.footprint(seeded) == before  # not a row, not a counter moved
    assert seeded.audit.verify().intact

    sa.event.remove(engine, "connect", limit)  # room again
    engine.dispose()
    done = attest(seeded, refs[0])
    assert (done.state, done.seq) == ("demand_intake", 3)
    assert seeded.audit.verify().intact


@sqlite_only
def test_a_disk_filling_up_mid_run_leaves_every_request_whole(seeded: Services) -> None:
    """Commands until the disk is full: each one is all there or not there at all."""
    limit_pages(seeded.ctx.store.engine, 12)
    applied, refused = 0, 0
    for _ in range(200):
        try:
            ref = w.submit_eg(seeded).reference
            attest(seeded, ref)
            applied += 1
        except AdapterError as exc:
            assert exc.code == "database-full", exc
            refused += 1
            if refused >= 3:
                break
    assert refused >= 3, "the database never filled up"
    report = seeded.audit.verify()
    assert report.intact, report.breaks
    with seeded.ctx.store.read() as r:
        rows = r.all("SELECT id, reference, seq, version FROM requests")
        for row in rows:
            events = r.events_of(row["id"])
            assert [e["seq"] for e in events] == list(range(1, row["seq"] + 1))
    assert applied == sum(1 for row in rows if row["seq"] == 3)


@pytest.fixture
def read_only(
    seeded: Services, settings: Settings, clock: Clock, database_url: str
) -> Iterator[Services]:
    """The seeded database, opened again read-only."""
    if PG_URL:
        services = bootstrap.build(settings)

        @sa.event.listens_for(services.ctx.store.engine, "connect")
        def _read_only(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            dbapi_conn.commit()

    else:
        path = Path(database_url.removeprefix("sqlite:///"))
        uri = f"sqlite:///file:{path}?mode=ro&uri=true"
        services = bootstrap.build(settings.model_copy(update={"database_url": uri}))
    services.ctx.clock = clock
    yield services
    services.ctx.store.engine.dispose()


def test_a_read_only_database_is_read_but_refuses_every_write_by_name(
    seeded: Services, read_only: Services, database_url: str
) -> None:
    ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)

    assert read_only.queries.show(ref, email("agent"))["state"] == "attestation_review"
    for write in (
        lambda: attest(read_only, ref),
        lambda: w.submit_eg(read_only),
        lambda: read_only.tokens.create(email("agent")),
    ):
        with pytest.raises(AdapterError) as caught:
            write()
        assert caught.value.code == "database-read-only", caught.value
        assert "read-only" in caught.value.message
        named = (
            str(PG_URL).rsplit("/", 1)[-1] if PG_URL else database_url.removeprefix("sqlite:///")
        )
        assert named in caught.value.message, caught.value.message
    assert w.footprint(seeded) == before
    assert seeded.audit.verify().intact
    assert attest(seeded, ref).state == "demand_intake"  # the writable database is fine


def test_the_api_answers_a_read_only_database_with_a_503_problem(
    seeded: Services, read_only: Services, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    ref = w.submit_eg(seeded).reference
    token = seeded.tokens.create(email("labour_attache")).token
    off = settings.model_copy(update={"prefect_mode": "off"})
    monkeypatch.setattr(bootstrap, "settings", lambda: off)
    monkeypatch.setattr(bootstrap, "_services", read_only)
    with TestClient(create_app(read_only), raise_server_exceptions=False) as api:
        headers = {"Authorization": f"Bearer {token}"}
        shown = api.get(f"/api/v1/requests/{ref}", headers=headers)
        acted = api.post(
            f"/api/v1/requests/{ref}/actions/attest_demand",
            headers=headers,
            json={
                "documents": [
                    {
                        "kind": "attestation",
                        "file_name": "a.pdf",
                        "content_base64": "JVBERi0xLjQKJSVFT0YK",
                    }
                ]
            },
        )
    assert shown.status_code == 200
    assert acted.status_code == 503, acted.text
    assert acted.headers["content-type"].startswith("application/problem+json")
    assert acted.json()["code"] == "database-read-only"
    assert "Traceback" not in acted.text
