"""The unit of work and the queries the services need.

One ``Store.write()`` transaction per command: the request row (with its optimistic version
check), the hash-chained event, the global chain head, documents and outbox rows commit
together or not at all.

The hot path talks to the driver directly (pooled DBAPI connections from the SQLAlchemy
engine, SQL written once per dialect): an empty ``engine.begin()`` block alone costs
~57 µs and building/caching a Core statement ~40 µs more, against ~8 µs for a raw
BEGIN/COMMIT on SQLite (measured here; see docs/performance.md). The schema stays the
SQLModel tables, and ``Store.select`` runs SQLAlchemy statements where convenience wins.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Any

import sqlalchemy as sa

from sopflow.errors import AdapterError, FieldError, InvalidData, SopflowError
from sopflow.store.db import explain
from sopflow.store.queries import DuplicateKey, Reader, Writer


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        dbapi = engine.dialect.dbapi
        self._integrity = dbapi.IntegrityError if dbapi else Exception
        self._db_error = dbapi.Error if dbapi else Exception
        self._operational = (dbapi.OperationalError, dbapi.InterfaceError) if dbapi else ()
        self._bound: ContextVar[Any] = ContextVar(f"sopflow-connection-{id(self)}", default=None)
        # the global chain's head as of this process's last commit: a hint for the next
        # write (Writer.append_event checks it in the statement that moves the head)
        self.chain_head: tuple[int, str] | None = None

    def _failure(self, exc: Exception) -> SopflowError:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "NUL (0x00)" in detail or "\\u0000" in str(exc):  # psycopg, PostgreSQL (22P05)
            # no text of PostgreSQL holds a NUL character: the input is refused, as on SQLite
            # where such a text is stored or simply matches nothing
            why = "a text holds a NUL character (0x00), which cannot be stored"
            return InvalidData([FieldError("text", "nul-character", why)])
        url = self.engine.url
        explained = explain(exc, url)  # an operator's mistake: say what to do
        if explained is not None:
            return explained
        where = url.database if self.dialect == "sqlite" else url.render_as_string(True)
        # SQLite's error name, or PostgreSQL's SQLSTATE: a full disk or a read-only database
        # needs someone to act; retrying the command will not help
        cause = str(getattr(exc, "sqlite_errorname", None) or getattr(exc, "sqlstate", ""))
        if cause.startswith(("SQLITE_FULL", "53100")):
            return AdapterError(f"the database {where} is full ({detail}): nothing was written; "
                                "free space, then try again", code="database-full")  # fmt: skip
        if cause.startswith(("SQLITE_READONLY", "25006")):
            return AdapterError(f"the database {where} is read-only ({detail}): nothing was "
                                "written", code="database-read-only")  # fmt: skip
        retryable = isinstance(exc, self._operational)
        return AdapterError(f"database error ({where}): {detail}", retryable=retryable,
                            code="database-error")  # fmt: skip

    def _lease(self) -> Any:
        """A pooled connection for one command or one read/write outside a command."""
        try:
            return self.engine.raw_connection()
        except sa.exc.SQLAlchemyError as exc:
            raise self._failure(getattr(exc, "orig", None) or exc) from exc
        except self._db_error as exc:  # the driver's own error (server down, refused)
            raise self._failure(exc) from exc

    def bound(self) -> _Bound:
        """Use one pooled connection for every read and write inside (one per command)."""
        return _Bound(self)

    def read(self) -> _Read:
        return _Read(self)

    def write(self) -> _Write:
        return _Write(self)

    def snapshot(self) -> _Snapshot:
        """A read of the database as it stood at one moment: every statement inside sees
        the same committed state. A verification or an export runs while officials keep
        taking steps; a step committed half-way through its reading must be either wholly
        in it or wholly out of it, never seen as a request row behind its own events."""
        return _Snapshot(self)

    def select(self, stmt: sa.Executable) -> list[dict[str, Any]]:
        """Run a SQLAlchemy statement (lists with filters); rows as dicts."""
        try:
            with self.engine.connect().execution_options(readonly=True) as conn:
                return [dict(r) for r in conn.execute(stmt).mappings()]
        except sa.exc.SQLAlchemyError as exc:
            raise self._failure(getattr(exc, "orig", None) or exc) from exc


# The three scopes below are small classes rather than @contextmanager generators: every
# command enters four of them, and a generator-based one costs ~2 µs to enter and leave
# (docs/performance.md).
class _Bound:
    __slots__ = ("lease", "store", "token")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.lease: Any = None
        self.token: Token[Any] | None = None

    def __enter__(self) -> None:
        if self.store._bound.get() is None:
            self.lease = self.store._lease()
            self.token = self.store._bound.set(self.lease)

    def __exit__(self, *exc: object) -> None:
        if self.lease is not None:
            assert self.token is not None
            self.store._bound.reset(self.token)
            self.lease.close()  # back to the pool (rolled back if anything is left open)


class _Scope:
    """A connection for one read or write: the command's, or a lease of its own."""

    __slots__ = ("conn", "lease", "store")

    def __init__(self, store: Store) -> None:
        self.store, self.lease = store, None

    def _conn(self) -> Any:
        raw = self.store._bound.get()
        if raw is None:
            raw = self.lease = self.store._lease()
        self.conn = raw.driver_connection
        return self.conn

    def _release(self) -> None:
        if self.lease is not None:
            self.lease.close()


class _Read(_Scope):
    __slots__ = ()

    def __enter__(self) -> Reader:
        return Reader(self._conn(), self.store.dialect)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        store = self.store
        try:
            if kind is None and store.dialect != "sqlite":
                self.conn.rollback()  # end the read transaction psycopg opened
        except store._db_error as failure:
            raise store._failure(failure) from failure
        finally:
            self._release()
        if isinstance(exc, store._db_error):
            raise store._failure(exc) from exc


class _Snapshot(_Read):
    """``Store.snapshot``: on SQLite one deferred transaction (in WAL mode a reader keeps
    the snapshot of its first read and never blocks a writer); on PostgreSQL a read-only
    REPEATABLE READ transaction. Inside a command's own transaction (``Store.bound``) the
    reading is that transaction's."""

    __slots__ = ("began",)

    def __enter__(self) -> Reader:
        reader = super().__enter__()
        self.began = False
        try:
            if self.store.dialect == "sqlite":
                if not self.conn.in_transaction:
                    self.conn.execute("BEGIN")
                    self.began = True
            elif self.conn.info.transaction_status.name == "IDLE":
                self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return reader

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        if self.began:  # nothing was written: the snapshot is let go
            _rollback(self.conn, "sqlite")
        super().__exit__(kind, exc, tb)


class _Write(_Scope):
    __slots__ = ("writer",)

    def __enter__(self) -> Writer:
        conn = self._conn()
        try:
            if self.store.dialect == "sqlite":
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, never upgrade
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        self.writer = Writer(conn, self.store.dialect)
        self.writer.head = self.store.chain_head
        return self.writer

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        store, conn = self.store, self.conn
        try:
            if kind is None:
                try:
                    conn.commit() if store.dialect != "sqlite" else conn.execute("COMMIT")
                    store.chain_head = self.writer.head
                    return
                except BaseException as failure:
                    exc = failure
            _rollback(conn, store.dialect)
            if isinstance(exc, store._integrity):
                raise DuplicateKey(str(exc).splitlines()[0]) from exc
            if isinstance(exc, store._db_error):
                raise store._failure(exc) from exc
            if kind is None:
                raise exc  # type: ignore[misc]  # the commit failed otherwise
        finally:
            self._release()


def _rollback(conn: Any, dialect: str) -> None:
    try:
        if dialect == "sqlite":
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        else:
            conn.rollback()
    except Exception:  # noqa: S110 - the connection is gone; the pool will discard it
        pass
