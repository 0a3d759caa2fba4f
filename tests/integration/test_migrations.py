"""Migrations keep the rows, on SQLite (batch mode: a table is copied) and on PostgreSQL
(SOPFLOW_TEST_DATABASE_URL; in a schema of its own): 0006 makes idempotency keys per actor
(the primary key (actor_id, key) instead of key alone); 0007 begins the directory log with
a baseline entry for each organisation and user already there, so that the upgraded
database verifies."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.settings import Settings
from sopflow.store.db import alembic_config, make_engine
from sopflow.store.tables import UTCDateTime
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


ORGANISATIONS = sa.table(
    "organisations", sa.column("id"), sa.column("name"), sa.column("kind"),
    sa.column("country"), sa.column("licence_number"), sa.column("licence_status"),
    sa.column("licence_expires", sa.Date), sa.column("created_at", UTCDateTime()))  # fmt: skip
USERS = sa.table(
    "users", sa.column("email"), sa.column("name"), sa.column("organisation_id"),
    sa.column("roles", sa.JSON), sa.column("locale"), sa.column("password_hash"),
    sa.column("active", sa.Boolean), sa.column("created_at", UTCDateTime()))  # fmt: skip


def test_0007_records_the_directory_already_there_and_it_verifies(
    engine: sa.Engine, tmp_path: Path
) -> None:
    migrate(engine, "0006")
    made = datetime(2026, 11, 2, 9, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(sa.insert(ORGANISATIONS), [
            {"id": "nile-agency", "name": "Nile Recruitment", "kind": "agency", "country": "EG",
             "licence_number": "EG-LIC-0042", "licence_status": "active",
             "licence_expires": date(2027, 6, 30), "created_at": made},
            {"id": "eg-mom", "name": "Ministry of Labour", "kind": "authority", "country": "EG",
             "licence_number": None, "licence_status": None, "licence_expires": None,
             "created_at": made}])  # fmt: skip
        conn.execute(sa.insert(USERS), [
            {"email": "agent@nile.example", "name": "Amal", "organisation_id": "nile-agency",
             "roles": ["employer_agent"], "locale": "ar", "password_hash": "$argon2id$v=19$x",
             "active": True, "created_at": made}])  # fmt: skip

    migrate(engine, "head")

    services = bootstrap.build(Settings(database_url=PG_URL or str(engine.url),
                                        data_dir=tmp_path / "data"), db=engine)  # fmt: skip
    entries = services.directory_log.entries()
    assert [(e["seq"], e["by"], e["action"], e["subject"]) for e in entries] == [
        (1, "migration", "organisation-recorded", "eg-mom"),
        (2, "migration", "organisation-recorded", "nile-agency"),
        (3, "migration", "user-recorded", "agent@nile.example")]  # fmt: skip
    assert entries[1]["change"]["licence_expires"] == "2027-06-30"
    assert "argon2" not in str(entries)
    report = services.audit.verify()
    assert report.intact, report.breaks
    assert report.directory_entries == 3
    # a change after the upgrade follows the baseline, and replaces the licence it recorded
    services.directory.set_licence("nile-agency", "suspended", by="alice")
    renewal = services.directory_log.entries()[-1]
    assert (renewal["seq"], renewal["summary"]) == (
        4, "status active -> suspended, expires 2027-06-30 -> 2027-06-30")  # fmt: skip
    assert services.audit.verify().intact


def test_0007_can_be_undone(engine: sa.Engine) -> None:
    migrate(engine, "head")

    migrate(engine, "0006", down=True)

    assert "directory_log" not in sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        heads = conn.execute(sa.text("SELECT id FROM chain_head ORDER BY id")).scalars().all()
    assert heads == [1]
    migrate(engine, "head")
