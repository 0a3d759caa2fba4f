"""Operator mistakes with the database: each is refused with a precise error (exit 1) that
names the database and says what to do, never an internal error (exit 3) and never a
silent success (an in-memory database loses every write)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sopflow.errors import AdapterError
from sopflow.store.db import make_engine
from sopflow.store.repository import Store
from tests.e2e.conftest import Sopflow
from tests.integration.conftest import PG_URL

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs SOPFLOW_TEST_DATABASE_URL (PostgreSQL)")


def sopflow_at(tmp_path: Path, url: str) -> Sopflow:
    files = tmp_path / "files"
    files.mkdir(exist_ok=True)
    env = {
        "SOPFLOW_DATABASE_URL": url,
        "SOPFLOW_DATA_DIR": str(tmp_path / "data"),
        "SOPFLOW_OUTBOX_DIR": str(tmp_path / "outbox"),
        "SOPFLOW_PREFECT_MODE": "off",
        "COLUMNS": "400",
    }
    return Sopflow(env, files)


def refused(tmp_path: Path, url: str, code: str, *args: str) -> str:
    """Run ``args`` (and ``db upgrade``) against ``url``: each exits 1 with ``code``."""
    said = ""
    for command in (("db", "upgrade"), args):
        run = sopflow_at(tmp_path, url).fails(1, *command)
        said = " ".join(run.err.split())
        assert said.startswith(f"error[{code}] "), said
        assert "internal error" not in said
    return said


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(tmp_path: Path, url: str) -> None:
    said = refused(tmp_path, url, "database-url", "org", "add", "X", "--kind", "employer")
    assert "in-memory" in said and "lost" in said and "sqlite:///./sopflow.db" in said


def test_a_database_folder_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("", encoding="utf-8")
    said = refused(tmp_path, f"sqlite:///{tmp_path}/afile/x.db", "database-cannot-open",
                   "request", "list")  # fmt: skip
    assert f"{tmp_path}/afile is a file, not a folder" in said


def test_a_database_folder_that_cannot_be_created(tmp_path: Path) -> None:
    said = refused(tmp_path, "sqlite:////proc/nu/x.db", "database-cannot-open",
                   "org", "add", "X", "--kind", "employer")  # fmt: skip
    assert "/proc/nu/x.db" in said and "cannot create the folder /proc/nu" in said


def test_a_database_path_that_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "db").mkdir()
    said = refused(tmp_path, f"sqlite:///{tmp_path}/db", "database-cannot-open", "request", "list")
    assert f"{tmp_path}/db is a folder, not a database file" in said


def test_a_read_only_uri_to_a_missing_file(tmp_path: Path) -> None:
    url = f"sqlite:///file:{tmp_path}/nothere.db?mode=ro&uri=true"
    said = refused(tmp_path, url, "database-not-found", "request", "list")
    assert f"{tmp_path}/nothere.db does not exist" in said and "mode=ro" in said


def test_a_driver_sopflow_does_not_use(tmp_path: Path) -> None:
    said = refused(tmp_path, "postgresql+psycopg2://postgres@127.0.0.1/x", "database-url",
                   "request", "list")  # fmt: skip
    assert "'psycopg2'" in said and "postgresql+psycopg://" in said


def test_a_sqlite_database_without_the_tables_is_not_migrated(tmp_path: Path) -> None:
    store = Store(make_engine(f"sqlite:///{tmp_path}/empty.db"))
    with pytest.raises(AdapterError) as caught:
        store.select(sa.text("SELECT * FROM requests"))
    assert caught.value.code == "database-not-migrated"
    assert not caught.value.retryable
    assert "run 'sopflow db upgrade'" in caught.value.message
    store.engine.dispose()


@pytest.fixture
def pg_server() -> str:
    assert PG_URL
    return PG_URL.rsplit("/", 1)[0]


@pytest.fixture
def empty_pg(pg_server: str) -> Iterator[str]:
    """A database of its own, created empty and dropped after."""
    name = f"sopflow_empty_{uuid.uuid4().hex[:8]}"
    admin = make_engine(f"{pg_server}/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.engine.dispose()


@needs_pg
def test_a_postgresql_database_that_does_not_exist(tmp_path: Path, pg_server: str) -> None:
    said = refused(tmp_path, f"{pg_server}/no_such_sopflow_db", "database-not-found",
                   "request", "list")  # fmt: skip
    assert "the PostgreSQL database 'no_such_sopflow_db' does not exist" in said
    assert "createdb" in said and "sopflow db upgrade" in said


@needs_pg
def test_a_postgresql_database_not_migrated(tmp_path: Path, empty_pg: str) -> None:
    for args in (("request", "list"), ("org", "add", "X", "--kind", "employer")):
        run = sopflow_at(tmp_path, empty_pg).fails(1, *args)
        said = " ".join(run.err.split())
        assert said.startswith("error[database-not-migrated] "), said
        assert "run 'sopflow db upgrade'" in said
    sopflow_at(tmp_path, empty_pg).ok("db", "upgrade")
    sopflow_at(tmp_path, empty_pg).ok("request", "list")


def test_a_folder_where_sqlite_cannot_create_its_wal_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite answers only 'unable to open database file'; the error names the file and the
    folder it cannot write. (We run as root, so the folder's mode is simulated.)"""
    import sqlite3

    from sopflow.store import db

    path = tmp_path / "ro" / "sopflow.db"
    path.parent.mkdir()
    sqlite3.connect(path).close()
    folder = str(path.parent)
    monkeypatch.setattr(db.os, "access", lambda p, mode: str(p) != folder)
    failure = sqlite3.OperationalError("unable to open database file")
    explained = db.explain(failure, sa.make_url(f"sqlite:///{path}"))
    assert explained is not None and explained.code == "database-cannot-open"
    assert not explained.retryable
    assert str(path) in explained.message
    assert (
        f"-wal and -shm files beside it: the folder {folder} is not writable" in explained.message
    )


def test_a_reading_command_refuses_a_database_that_does_not_exist(tmp_path: Path) -> None:
    """An auditor's mistyped path must not be answered "intact: 0 events" over a database
    the command has just made."""
    url = f"sqlite:///{tmp_path}/typo/audti.db"
    for command in (("audit", "verify"), ("audit", "export"), ("request", "list")):
        said = " ".join(sopflow_at(tmp_path, url).fails(1, *command).err.split())
        assert said.startswith("error[database-not-found] "), said
        assert f"{tmp_path}/typo/audti.db does not exist" in said
    assert not (tmp_path / "typo").exists()
