"""Database engines: SQLite (WAL, pragmas, write transactions that lock up front) or PostgreSQL.

SQLite: the driver's own transaction handling is switched off so that we issue
``BEGIN IMMEDIATE`` for every transaction: the write lock is taken at the start, so two
writers never deadlock on a lock upgrade (the SQLAlchemy recipe for pysqlite).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sopflow.errors import AdapterError

if TYPE_CHECKING:
    from alembic.config import Config

# alembic is imported where it is used: the processes that verify the log in parallel import
# this module for make_engine, and each must start in a fraction of a second

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, *, echo: bool = False) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise AdapterError(f"SOPFLOW_DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed, echo)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(
            parsed,
            echo=echo,
            pool_pre_ping=True,
            pool_size=10,
            max_overflow=20,
            connect_args={"connect_timeout": 5},
        )
    raise AdapterError(
        f"unsupported database '{parsed.get_backend_name()}': use sqlite or postgresql"
    )


def _sqlite_engine(url: sa.URL, echo: bool) -> sa.Engine:
    database = url.database or ""
    # a URI filename ("file:...?mode=ro&uri=true") is SQLite's to open, not a path to create
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_conn.cursor()
        # 2 KiB pages (a no-op once the file exists): each commit appends every page it
        # touched to the WAL, and each page costs a write. A request row fits in a 2 KiB
        # page (it overflowed a 1 KiB one); larger pages cost more bytes than they save in
        # pages (bench/wal_frames.py, docs/performance.md)
        cursor.execute("PRAGMA page_size=2048")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # fewer, larger checkpoints: each one fsyncs the database file; 64 MB of page cache
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # reads (execution option readonly) must not take the write lock
        readonly = conn.get_execution_options().get("readonly", False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

    return engine


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: sa.Engine) -> None:
    """Apply every pending migration."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revisions(engine: sa.Engine) -> tuple[str, ...]:
    """The migrations the database is at (none: an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def pending_migrations(engine: sa.Engine) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    return set(current_revisions(engine)) != set(script.get_heads())
