"""A migrated database per test: SQLite by default, PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set (tables are emptied between tests)."""

from __future__ import annotations

import itertools
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.services import Services
from sopflow.settings import Settings
from sopflow.store.db import make_engine, upgrade
from sopflow.store.repository import Store
from tests.integration import world

PG_URL = os.environ.get("SOPFLOW_TEST_DATABASE_URL")
TABLES = ("sign_in_failures", "web_sessions", "api_tokens", "outbox", "documents", "events",
          "idempotency_keys", "requests", "users", "organisations", "sop_versions",
          "reference_counters", "directory_log", "chain_head")  # fmt: skip


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> str:
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        upgrade(engine)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("db") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(_template: str, tmp_path: Path) -> Iterator[str]:
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            conn.execute(  # the events' global chain and the directory log's (0007)
                sa.text("INSERT INTO chain_head (id, chain_seq, chain_hash) "
                        "VALUES (1, 0, :h), (2, 0, :h)"),
                {"h": "0" * 64},
            )  # fmt: skip
        engine.dispose()
        yield PG_URL
        return
    target = tmp_path / "sopflow.db"
    shutil.copy(_template, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # a Monday


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data",
                    outbox_dir=tmp_path / "outbox")  # fmt: skip


@pytest.fixture
def services(settings: Settings, clock: Clock) -> Iterator[Services]:
    svc = bootstrap.build(settings)
    svc.ctx.clock = clock
    yield svc
    svc.ctx.store.engine.dispose()


@pytest.fixture
def in_lockstep(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """``in_lockstep(n)``: the next ``n`` write transactions wait for each other before they
    start, so ``n`` concurrent commands all read and decide on the same version of a request
    before any of them writes (a race made certain instead of likely)."""

    def arm(n: int) -> None:
        barrier = threading.Barrier(n)
        waiting = itertools.count()
        real_write = Store.write

        def write_together(self: Store) -> Any:
            if next(waiting) < n:
                barrier.wait(timeout=30)
            return real_write(self)

        monkeypatch.setattr(Store, "write", write_together)

    return arm


@pytest.fixture
def seeded(services: Services) -> Services:
    """``services`` with the organisations and users of ``tests.integration.world``."""
    world.seed(services)
    return services
