"""Database engines: SQLite (WAL, pragmas, write transactions that lock up front) or PostgreSQL.

SQLite: the driver's own transaction handling is switched off so that we issue
``BEGIN IMMEDIATE`` for every transaction: the write lock is taken at the start, so two
writers never deadlock on a lock upgrade (the SQLAlchemy recipe for pysqlite).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
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
        if parsed.drivername != "postgresql+psycopg":
            shown = parsed.render_as_string(hide_password=True)
            raise AdapterError(
                f"SOPFLOW_DATABASE_URL {shown} names the driver '{parsed.get_driver_name()}', "
                "which sopflow does not use: write postgresql+psycopg://… (or postgresql://…)",
                code="database-url",
            )
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
        folder = Path(database).expanduser().absolute().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AdapterError(
                f"cannot use the SQLite database {database}: {_folder_problem(folder, exc)}; "
                "point SOPFLOW_DATABASE_URL at a file in a folder sopflow may create or write",
                code="database-cannot-open",
            ) from exc
    if url.drivername not in ("sqlite", "sqlite+pysqlite"):
        raise AdapterError(
            f"SOPFLOW_DATABASE_URL names the SQLite driver '{url.get_driver_name()}', which "
            "sopflow does not use: write sqlite:///PATH",
            code="database-url",
        )
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


def _folder_problem(folder: Path, exc: OSError) -> str:
    """Why ``folder`` cannot hold a database, in words (``exc``: what creating it raised)."""
    for part in (folder, *folder.parents):
        if part.exists() and not part.is_dir():
            return f"{part} is a file, not a folder"
    return f"cannot create the folder {folder}: {exc.strerror or exc}"


def in_memory(url: str | sa.URL) -> bool:
    """Whether the URL names an in-memory SQLite database (gone when the process ends)."""
    try:
        parsed = sa.make_url(url) if isinstance(url, str) else url
    except sa.exc.ArgumentError:
        return False  # not a URL at all: make_engine says so (adapter-error)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or parsed.query.get("mode") == "memory" \
        or "mode=memory" in database  # fmt: skip


_PG_NO_DATABASE = re.compile(r'database "(?P<name>[^"]+)" does not exist')
_NOT_MIGRATED = re.compile(r'relation "[^"]+" does not exist|no such table: \S+')


def explain(exc: BaseException, url: sa.URL) -> AdapterError | None:
    """A precise error for a database failure an operator causes and must fix (a database
    that does not exist or cannot be opened, a schema not migrated), or None."""
    orig = getattr(exc, "orig", None) or exc
    detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
    sqlite = url.get_backend_name() == "sqlite"
    if not sqlite and (match := _PG_NO_DATABASE.search(str(orig))):
        name, host, port = match["name"], url.host or "localhost", url.port or 5432
        user = f" -U {url.username}" if url.username else ""
        return AdapterError(
            f"the PostgreSQL database '{name}' does not exist on {host}:{port}: create it "
            f"(createdb -h {host} -p {port}{user} {name}), then run 'sopflow db upgrade'; "
            "or correct SOPFLOW_DATABASE_URL",
            code="database-not-found",
        )
    if _NOT_MIGRATED.search(str(orig)) or getattr(orig, "sqlstate", None) == "42P01":
        where = url.database if sqlite else url.render_as_string(hide_password=True)
        return AdapterError(
            f"the database {where} is not migrated ({detail}): run 'sopflow db upgrade'",
            code="database-not-migrated",
        )
    if sqlite and (getattr(orig, "sqlite_errorname", "") == "SQLITE_CANTOPEN"
                   or "unable to open database file" in detail):  # fmt: skip
        return _cannot_open(url, detail)
    return None


def _cannot_open(url: sa.URL, detail: str) -> AdapterError:
    database = url.database or ""
    readonly = url.query.get("mode") == "ro" or "mode=ro" in database
    path = Path(database.removeprefix("file:").split("?", 1)[0]).expanduser().absolute()
    folder = path.parent
    if not path.exists() and readonly:
        return AdapterError(
            f"the SQLite database {path} does not exist, and a read-only URL (mode=ro) does "
            "not create it: correct the path in SOPFLOW_DATABASE_URL",
            code="database-not-found",
        )
    if path.is_dir():
        why = f"{path} is a folder, not a database file"
    elif not folder.is_dir():
        why = f"the folder {folder} does not exist"
    elif not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        why = f"the file does not exist and the folder {folder} does not let sopflow create it"
    elif not os.access(path, os.R_OK):
        why = f"sopflow may not read {path}"
    elif not readonly and not os.access(folder, os.W_OK | os.X_OK):
        why = (f"SQLite cannot create its -wal and -shm files beside it: the folder {folder} "
               "is not writable")  # fmt: skip
    else:
        why = "SQLite cannot open it or create the -wal and -shm files beside it"
    return AdapterError(
        f"cannot open the SQLite database {path} ({detail}): {why}; check the path in "
        "SOPFLOW_DATABASE_URL and the permissions of the file and its folder",
        code="database-cannot-open",
    )


@contextmanager
def _explained(engine: sa.Engine) -> Iterator[None]:
    """Database failures outside a command (migrations, their state) as adapter errors."""
    try:
        yield
    except (sa.exc.DBAPIError, sa.exc.OperationalError) as exc:
        explained = explain(exc, engine.url)
        if explained is not None:
            raise explained from exc
        orig = getattr(exc, "orig", None) or exc
        detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        where = engine.url.render_as_string(hide_password=True)
        raise AdapterError(f"database error ({where}): {detail}", code="database-error",
                           retryable=isinstance(exc, sa.exc.OperationalError)) from exc  # fmt: skip


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
    with _explained(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def current_revisions(engine: sa.Engine) -> tuple[str, ...]:
    """The migrations the database is at (none: an empty database)."""
    from alembic.runtime.migration import MigrationContext

    with _explained(engine), engine.connect() as conn:
        return tuple(MigrationContext.configure(conn).get_current_heads())


def pending_migrations(engine: sa.Engine) -> bool:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(str(engine.url)))
    return set(current_revisions(engine)) != set(script.get_heads())


def backup(engine: sa.Engine, target: Path) -> str:
    """A consistent copy of the database at ``target`` while it serves; what was done.

    SQLite: SQLite's online backup API, page by page from one read snapshot, so the copy
    holds every committed transaction, those still in the ``-wal`` file included (a plain
    ``cp`` of the database file misses them until a checkpoint). PostgreSQL: ``pg_dump``
    (custom format, for ``pg_restore``) when it is installed; else the command to run."""
    if target.exists():
        raise AdapterError(f"{target} exists: name a new file (a backup never overwrites one)",
                           code="backup-failed")  # fmt: skip
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return _sqlite_backup(url, target)
    return _pg_dump(url, target)


def _sqlite_backup(url: sa.URL, target: Path) -> str:
    import sqlite3

    database = url.database or ""
    source_path = Path(database.removeprefix("file:").split("?", 1)[0]).expanduser()
    if not source_path.is_file():
        raise AdapterError(f"the SQLite database {source_path} does not exist: nothing to "
                           "back up (check SOPFLOW_DATABASE_URL)",
                           code="database-not-found")  # fmt: skip
    partial = target.with_name(f".{target.name}.partial")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                source.backup(copy)  # one consistent snapshot, WAL content included
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                check = copy.execute("PRAGMA quick_check").fetchone()[0]
                head = copy.execute("SELECT chain_seq FROM chain_head WHERE id = 1").fetchone()
            finally:
                copy.close()
        finally:
            source.close()
        if check != "ok":
            raise AdapterError(f"the copy of {source_path} fails SQLite's check ({check})",
                               code="backup-failed")  # fmt: skip
        os.replace(partial, target)
    except (OSError, sqlite3.Error) as exc:
        partial.unlink(missing_ok=True)
        raise AdapterError(f"cannot back up {source_path} to {target}: {exc}",
                           code="backup-failed") from exc  # fmt: skip
    events = f"; the log's head is event #{head[0]}" if head else ""
    size = target.stat().st_size
    return f"wrote {target}: a consistent copy of {source_path} ({size:,} bytes){events}"


def _pg_dump(url: sa.URL, target: Path) -> str:
    import shutil
    import subprocess

    host, port, user = url.host or "localhost", url.port or 5432, url.username or ""
    args = ["pg_dump", "--format=custom", f"--file={target}", "-h", host, "-p", str(port)]
    args += (["-U", user] if user else []) + [url.database or ""]
    shown = " ".join(args)
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise AdapterError(f"pg_dump is not installed here: run '{shown}' where it is (restore "
                           "with pg_restore, docs/deploy.md)", code="backup-failed")  # fmt: skip
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    done = subprocess.run([pg_dump, *args[1:]], env=env, capture_output=True, text=True,  # noqa: S603
                          check=False)  # fmt: skip
    if done.returncode != 0:
        with contextlib.suppress(OSError):
            target.unlink()
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise AdapterError(f"{shown} failed: {why}", code="backup-failed")
    return f"wrote {target} with {shown} (restore with pg_restore, docs/deploy.md)"
