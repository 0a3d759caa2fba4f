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

import functools
import json
from collections.abc import Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from sopflow.domain.chain import GENESIS, ROW_COLUMNS, link
from sopflow.errors import AdapterError, Conflict, FieldError, InvalidData, SopflowError
from sopflow.store.sql import Cursor


class DuplicateKey(Exception):
    """A unique constraint refused the write (e.g. a concurrent twin idempotency key)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    seq: int
    hash: str


class Reader(Cursor):
    """The queries of the hot path and of the services."""

    def organisation(self, org_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM organisations WHERE id = :id", {"id": org_id})

    def user(self, email: str) -> dict[str, Any] | None:
        return self.one(
            "SELECT * FROM users WHERE email = :email", {"email": email.strip().lower()}
        )

    def member(self, email: str) -> dict[str, Any] | None:
        """A user with their organisation's kind, in one query."""
        return self.one(
            "SELECT u.email, u.organisation_id, u.roles, u.active, u.locale, o.kind AS org_kind "
            "FROM users u JOIN organisations o ON o.id = u.organisation_id "
            "WHERE u.email = :email",
            {"email": email.strip().lower()},
        )

    def acting_on(self, email: str, reference: str) -> tuple[dict[str, Any] | None,
                                                             dict[str, Any] | None,
                                                             dict[str, Any] | None]:  # fmt: skip
        """The acting user, the request and its organisation in one round trip (hot path)."""
        row = self.one(
            "SELECT r.id, r.reference, r.sop_id, r.sop_version, r.sop_hash, r.organisation_id, "
            "r.created_by, r.state, r.snapshot, r.version, r.last_hash, r.deadline, r.outcome, "
            "r.breached, u.email AS m_email, "
            "u.organisation_id AS m_org, u.roles AS m_roles, "
            "u.active AS m_active, uo.kind AS m_org_kind, o.kind AS o_kind, "
            "o.licence_number AS o_licence_number, o.licence_status AS o_licence_status, "
            "o.licence_expires AS o_licence_expires "
            "FROM users u JOIN organisations uo ON uo.id = u.organisation_id "
            "LEFT JOIN requests r ON r.reference = :ref "
            "LEFT JOIN organisations o ON o.id = r.organisation_id WHERE u.email = :email",
            {"email": email.strip().lower(), "ref": reference},
        )
        if row is None:
            return None, None, None
        roles = row.pop("m_roles")
        member = {
            "email": row.pop("m_email"),
            "organisation_id": row.pop("m_org"),
            "roles": json.loads(roles) if isinstance(roles, str) else roles,
            "active": bool(row.pop("m_active")),
            "org_kind": row.pop("m_org_kind"),
        }
        org = {
            "id": row["organisation_id"],
            "kind": row.pop("o_kind"),
            "licence_number": row.pop("o_licence_number"),
            "licence_status": row.pop("o_licence_status"),
            "licence_expires": row.pop("o_licence_expires"),
        }
        if isinstance(org["licence_expires"], str):
            org["licence_expires"] = date.fromisoformat(org["licence_expires"])
        if row["id"] is None:
            return member, None, None
        return member, row, org

    def users_with_role(self, role: str, organisation_ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = [
            u
            for org in organisation_ids
            for u in self.all(
                "SELECT * FROM users WHERE organisation_id = :org AND active = :yes ORDER BY email",
                {"org": org, "yes": True},
            )
        ]
        return [r for r in rows if role in (r["roles"] or [])]

    def request(self, reference: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM requests WHERE reference = :ref", {"ref": reference})

    def events_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(
            "SELECT * FROM events WHERE request_id = :id ORDER BY seq, id", {"id": request_id}
        )

    def documents_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(
            "SELECT * FROM documents WHERE request_id = :id ORDER BY id", {"id": request_id}
        )

    def outbox_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(
            "SELECT * FROM outbox WHERE request_id = :id ORDER BY id", {"id": request_id}
        )

    def idempotent_result(self, key: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM idempotency_keys WHERE key = :key", {"key": key})

    def sop_version(self, sop_id: str, version: int) -> dict[str, Any] | None:
        return self.one(
            "SELECT * FROM sop_versions WHERE sop_id = :id AND version = :v",
            {"id": sop_id, "v": version},
        )

    def sop_versions(self) -> list[dict[str, Any]]:
        return self.all("SELECT * FROM sop_versions ORDER BY sop_id, version")

    def chain_head(self) -> dict[str, Any]:
        head = self.one("SELECT chain_seq, chain_hash FROM chain_head WHERE id = 1")
        return head or {"chain_seq": 0, "chain_hash": GENESIS}

    def events_after(self, event_id: int, limit: int, start: datetime | None = None,
                     end: datetime | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A batch of events in global chain order (ids follow it), optionally by time."""
        where = ["id > :after"]
        if start is not None:
            where.append("at >= :start")
        if end is not None:
            where.append("at < :end")
        return self.all(f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY id "
                        "LIMIT :limit", {"after": event_id, "limit": limit, "start": start,
                                         "end": end})  # fmt: skip

    def chain_rows(self, after_id: int, limit: int, upto: int | None = None
                   ) -> list[tuple[Any, ...]]:  # fmt: skip
        """Events for verification as stored tuples in ``ROW_COLUMNS`` order: payload as its
        JSON text, time as text; no decoding (a million events must take seconds)."""
        columns = list(ROW_COLUMNS)
        if self.dialect != "sqlite":
            columns[columns.index("payload")] = "payload::text AS payload"
            columns[columns.index("at")] = (
                "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS at"
            )
        self.cur.execute(
            self._text(
                f"SELECT {', '.join(columns)} FROM events WHERE id > :after AND id <= :upto "
                "ORDER BY id LIMIT :limit"
            ),
            {"after": after_id, "limit": limit, "upto": upto if upto is not None else 2**62},
        )
        return list(self.cur.fetchall())

    def event_span(self) -> tuple[int, int, int]:
        """(lowest id, highest id, count) of the events table."""
        row = self.one("SELECT min(id) AS lo, max(id) AS hi, count(*) AS n FROM events")
        assert row is not None
        return int(row["lo"] or 0), int(row["hi"] or 0), int(row["n"])

    def referenced_documents(self, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` some document of some request refers to."""
        names = {f"h{i}": h for i, h in enumerate(hashes)}
        if not names:
            return set()
        marks = ", ".join(f":{n}" for n in names)
        rows = self.all(f"SELECT DISTINCT sha256 FROM documents WHERE sha256 IN ({marks})", names)
        return {str(r["sha256"]) for r in rows}

    def request_heads(self) -> list[dict[str, Any]]:
        return self.all("SELECT id, reference, seq, last_hash FROM requests ORDER BY id")

    def rows_unlike_their_last_event(self, reference: str | None = None) -> list[dict[str, Any]]:
        """Requests whose row says another state or SOP version than their last event (one
        lookup per request on the (request_id, seq) index)."""
        one = " AND r.reference = :ref" if reference is not None else ""
        return self.all(
            "SELECT r.reference, r.seq, r.state, r.sop_hash, e.to_state, "
            "e.sop_hash AS event_sop_hash FROM requests r "
            "JOIN events e ON e.request_id = r.id AND e.seq = r.seq "
            "WHERE (e.to_state <> r.state OR e.sop_hash <> r.sop_hash)" + one
            + " ORDER BY r.id", {"ref": reference})  # fmt: skip


class Writer(Reader):
    """The statements of one write transaction."""

    def insert(self, table: str, values: Mapping[str, Any], *, returning: bool = False) -> Any:
        self.execute(_insert_sql(table, tuple(values), returning), values)
        return self.cur.fetchone()[0] if returning else None

    def insert_many(self, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self.many(_insert_sql(table, tuple(rows[0]), False), rows)

    def update_by_id(self, table: str, row_id: Any, values: Mapping[str, Any]) -> int:
        return self.execute(_update_sql(table, tuple(values), "id = :row_id"),
                            {**values, "row_id": row_id})  # fmt: skip

    def next_reference(self, prefix: str, year: int) -> str:
        # one upsert: two first filings of a year at once on PostgreSQL would otherwise both
        # insert the counter, and one of them fail (tests/reliability/test_kills.py)
        row = self.one(
            "INSERT INTO reference_counters (prefix, year, last) VALUES (:p, :y, 1) "
            "ON CONFLICT (prefix, year) DO UPDATE SET last = reference_counters.last + 1 "
            "RETURNING last",
            {"p": prefix, "y": year},
        )
        assert row is not None
        return f"{prefix}-{year}-{int(row['last']):06d}"

    def update_request(self, request_id: int, expected_version: int,
                       values: Mapping[str, Any]) -> None:  # fmt: skip
        sql = _update_sql("requests", (*values, "version"), "id = :rid AND version = :old_version")
        done = self.execute(sql, {**values, "version": expected_version + 1, "rid": request_id,
                                  "old_version": expected_version})  # fmt: skip
        if done != 1:
            now = self.one(
                "SELECT state, version, reference FROM requests WHERE id = :id", {"id": request_id}
            )
            assert now is not None
            raise Conflict(
                f"request {now['reference']} was changed by someone else (now in state "
                f"'{now['state']}', version {now['version']}); reload it and try again",
                details={"state": now["state"], "version": now["version"]},
            )

    def append_event(self, request_id: int, prev_hash: str, fields: dict[str, Any],
                     own_hash: str) -> StoredEvent:  # fmt: skip
        """Insert one event (its own hash computed by the caller from its content and
        ``prev_hash``) and link it to the global chain under the head's lock."""
        lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
        head = self.one("SELECT chain_seq, chain_hash FROM chain_head WHERE id = 1" + lock)
        if head is None:
            raise AdapterError("the chain head row is missing: run 'sopflow db upgrade'")
        chain_seq, chain_prev = head["chain_seq"] + 1, head["chain_hash"]
        chained = link(chain_prev, own_hash)
        event_id = self.insert("events", {
            **fields, "request_id": request_id, "prev_hash": prev_hash, "hash": own_hash,
            "chain_seq": chain_seq, "chain_prev": chain_prev, "chain_hash": chained},
            returning=True)  # fmt: skip
        self.execute("UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = 1",
                     {"s": chain_seq, "h": chained})  # fmt: skip
        return StoredEvent(int(event_id), int(fields["seq"]), own_hash)


# Table and column names come from this code base, never from input; values are always
# bound parameters. The text of a statement is built once per shape.
@functools.cache
def _insert_sql(table: str, names: tuple[str, ...], returning: bool) -> str:
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
    return sql + (" RETURNING id" if returning else "")


@functools.cache
def _update_sql(table: str, names: tuple[str, ...], where: str) -> str:
    return f"UPDATE {table} SET {', '.join(f'{n} = :{n}' for n in names)} WHERE {where}"


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        dbapi = engine.dialect.dbapi
        self._integrity = dbapi.IntegrityError if dbapi else Exception
        self._db_error = dbapi.Error if dbapi else Exception
        self._operational = (dbapi.OperationalError, dbapi.InterfaceError) if dbapi else ()
        self._bound: ContextVar[Any] = ContextVar(f"sopflow-connection-{id(self)}", default=None)

    def _failure(self, exc: Exception) -> SopflowError:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "NUL (0x00)" in detail or "\\u0000" in str(exc):  # psycopg, PostgreSQL (22P05)
            # no text of PostgreSQL holds a NUL character: the input is refused, as on SQLite
            # where such a text is stored or simply matches nothing
            why = "a text holds a NUL character (0x00), which cannot be stored"
            return InvalidData([FieldError("text", "nul-character", why)])
        url = self.engine.url
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


class _Write(_Scope):
    __slots__ = ()

    def __enter__(self) -> Writer:
        conn = self._conn()
        try:
            if self.store.dialect == "sqlite":
                conn.execute("BEGIN IMMEDIATE")  # take the write lock now, never upgrade
        except BaseException as exc:
            self.__exit__(type(exc), exc, None)
            raise
        return Writer(conn, self.store.dialect)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:  # fmt: skip
        store, conn = self.store, self.conn
        try:
            if kind is None:
                try:
                    conn.commit() if store.dialect != "sqlite" else conn.execute("COMMIT")
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
