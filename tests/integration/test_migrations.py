"""Migrations that change a key keep the rows: 0006 makes idempotency keys per actor (the
primary key (actor_id, key) instead of key alone), on SQLite (batch mode: the table is
copied) and on PostgreSQL (SOPFLOW_TEST_DATABASE_URL; in a schema of its own)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sopflow.store.db import alembic_config, make_engine
from tests.integration.conftest import PG_URL

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    if not PG_URL:
        engine = make_engine(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield engine
        engine.dispose()
        return
    schema = f"migrations_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


def migrate(engine: sa.Engine, revision: str, *, down: bool = False) -> None:
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def key_row(key: str, actor: str, reference: str, minute: int = 0) -> dict[str, object]:
    return {"key": key, "actor_id": actor, "command": "submit", "fingerprint": "f" * 64,
            "reference": reference, "result": json.dumps({"reference": reference}),
            "created_at": datetime(2026, 12, 1, 9, minute, tzinfo=UTC)}  # fmt: skip


INSERT = sa.text(
    "INSERT INTO idempotency_keys (key, actor_id, command, fingerprint, reference, result, "
    "created_at) VALUES (:key, :actor_id, :command, :fingerprint, :reference, :result, "
    ":created_at)"
)


def rows(engine: sa.Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT actor_id, key, reference FROM idempotency_keys "
                                     "ORDER BY actor_id, key"))  # fmt: skip
        return [tuple(r) for r in found]  # type: ignore[misc]


def test_0006_keys_idempotency_per_actor_and_keeps_the_rows(engine: sa.Engine) -> None:
    migrate(engine, "0005")
    with engine.begin() as conn:
        conn.execute(INSERT, key_row("k-1", "agent@nile.example", "EG-2026-000001"))
        # before: one key for everyone
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(INSERT, key_row("k-1", "hr@carthage.example", "TN-2026-000001"))

    migrate(engine, "head")

    assert sa.inspect(engine).get_pk_constraint("idempotency_keys")["constrained_columns"] == [
        "actor_id", "key"]  # fmt: skip
    assert rows(engine) == [("agent@nile.example", "k-1", "EG-2026-000001")]
    with engine.begin() as conn:  # another actor's key of the same name is their own
        conn.execute(INSERT, key_row("k-1", "hr@carthage.example", "TN-2026-000001", 5))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # twice: still refused
        conn.execute(INSERT, key_row("k-1", "agent@nile.example", "EG-2026-000002", 6))
    assert len(rows(engine)) == 2


def test_0006_can_be_undone_keeping_the_first_use_of_each_key(engine: sa.Engine) -> None:
    migrate(engine, "head")
    with engine.begin() as conn:
        conn.execute(INSERT, key_row("k-1", "hr@carthage.example", "TN-2026-000001", 5))
        conn.execute(INSERT, key_row("k-1", "agent@nile.example", "EG-2026-000001", 1))
        conn.execute(INSERT, key_row("k-2", "hr@carthage.example", "TN-2026-000002", 7))

    migrate(engine, "0005", down=True)

    assert sa.inspect(engine).get_pk_constraint("idempotency_keys")["constrained_columns"] == [
        "key"]  # fmt: skip
    assert rows(engine) == [("agent@nile.example", "k-1", "EG-2026-000001"),
                            ("hr@carthage.example", "k-2", "TN-2026-000002")]  # fmt: skip
    migrate(engine, "head")
    assert len(rows(engine)) == 2
