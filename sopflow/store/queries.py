"""The SQL the store sends: the queries of the hot path and of the services (``Reader``)
and the statements of one write transaction (``Writer``).

Table and column names come from this code base, never from input; values are always bound
parameters (see ``repository.py`` for why the hot path talks to the driver directly).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sopflow.domain.chain import GENESIS, link
from sopflow.errors import AdapterError, Conflict
from sopflow.store.audit_queries import AuditQueries
from sopflow.store.sql import utc_time


class DuplicateKey(Exception):
    """A unique constraint refused the write (e.g. a concurrent twin idempotency key)."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    seq: int
    hash: str


class Reader(AuditQueries):
    """The queries of the hot path and of the services."""

    def organisation(self, org_id: str) -> dict[str, Any] | None:
        return self.one("SELECT * FROM organisations WHERE id = :id", {"id": org_id})

    def organisations(self) -> list[dict[str, Any]]:
        return self.all("SELECT * FROM organisations ORDER BY id")

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
        """The acting user, the request and its organisation in one round trip (hot path).
        The request's snapshot comes as ``raw_snapshot``: its stored text on SQLite, for the
        services to decode once (``services.snapshots``). The row is taken apart by
        position, decoding only its few typed columns (a generic decode of 23 columns cost
        as much as the query)."""
        found = self.run(_ACTING_ON, {"email": email.strip().lower(), "ref": reference}).fetchone()
        if found is None:
            return None, None, None
        m_email, m_org, roles, active, m_kind, o_kind, number, status, expires = found[14:]
        member = {"email": m_email, "organisation_id": m_org, "roles": _roles(roles),
                  "active": bool(active), "org_kind": m_kind}  # fmt: skip
        if found[0] is None:
            return member, None, None
        row = dict(zip(_ACTING_ON_REQUEST, found[:14], strict=True))
        row["deadline"] = utc_time(row["deadline"])
        row["breached"] = bool(row["breached"])
        org = {"id": row["organisation_id"], "kind": o_kind, "licence_number": number,
               "licence_status": status,
               "licence_expires": date.fromisoformat(expires) if isinstance(expires, str)
               else expires}  # fmt: skip
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

    def events_dated_before(self, chain_seq: int, moment: datetime) -> list[dict[str, Any]]:
        """Events after global link ``chain_seq`` dated before ``moment`` (chain order)."""
        return self.all(
            "SELECT r.reference, e.id, e.seq, e.chain_seq, e.at FROM events e "
            "JOIN requests r ON r.id = e.request_id "
            "WHERE e.chain_seq > :s AND e.at < :m ORDER BY e.chain_seq LIMIT 100",
            {"s": chain_seq, "m": moment},
        )

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

    def idempotent_result(self, actor_id: str, key: str) -> dict[str, Any] | None:
        """The command ``actor_id`` applied under their ``key`` (keys are per caller)."""
        return self.one("SELECT * FROM idempotency_keys WHERE actor_id = :actor AND key = :key",
                        {"actor": actor_id, "key": key})  # fmt: skip

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

    def referenced_documents(self, hashes: Sequence[str]) -> set[str]:
        """Which of ``hashes`` some document of some request refers to: in the ``documents``
        rows, else in the events themselves (the chained record: a row deleted by hand must
        not let the file it named be pruned). One pass over the events that carry
        documents, only when some hash is in no row."""
        names = {f"h{i}": h for i, h in enumerate(hashes)}
        if not names:
            return set()
        marks = ", ".join(f":{n}" for n in names)
        rows = self.all(f"SELECT DISTINCT sha256 FROM documents WHERE sha256 IN ({marks})", names)
        found = {str(r["sha256"]) for r in rows}
        rest = set(hashes) - found
        if rest:
            text = "payload" if self.dialect == "sqlite" else "CAST(payload AS TEXT)"
            for (payload,) in self.run(f"SELECT {text} FROM events WHERE {text} LIKE '%sha256%'"):
                hits = {h for h in rest if h in payload}
                found |= hits
                rest -= hits
                if not rest:
                    break
        return found


class Writer(Reader):
    """The statements of one write transaction."""

    def lock(self, name: str) -> None:
        """Serialise the transactions that take the lock ``name`` until they end. SQLite's
        BEGIN IMMEDIATE already holds the whole database's write lock; on PostgreSQL, a
        transaction advisory lock on a 64-bit number drawn from the name."""
        if self.dialect == "postgresql":
            digest = hashlib.sha256(name.encode()).digest()
            key = int.from_bytes(digest[:8], "big", signed=True)
            self.execute("SELECT pg_advisory_xact_lock(:lock)", {"lock": key})

    # the head of the global chain as this process last committed it, or None: a hint that
    # saves reading the head row (see append_event); the store keeps it between commands
    head: tuple[int, str] | None = None

    def insert(self, table: str, values: Mapping[str, Any], *, returning: bool = False) -> Any:
        """Insert one row; with ``returning``, its new id (SQLite's last row id: a RETURNING
        clause costs a statement step and a fetch more)."""
        if self.dialect == "sqlite":
            self.execute(_insert_sql(table, tuple(values), False), values)
            return self.cur.lastrowid if returning else None
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
        ``prev_hash``) and link it to the global chain under the head's lock.

        The head is moved first, on the condition that it is still the head this process
        last committed (``self.head``): one statement where reading it first took two. If
        anyone else moved it since, nothing matches, and the head row is read (locked on
        PostgreSQL) and moved as it stands. Either way the row's lock orders the links."""
        head, moved = self.head, 0
        if head is not None:
            chain_seq, chain_prev = head[0] + 1, head[1]
            chained = link(chain_prev, own_hash)
            moved = self.execute(_MOVE_HEAD + " AND chain_seq = :ps AND chain_hash = :ph",
                                 {"s": chain_seq, "h": chained, "ps": head[0],
                                  "ph": chain_prev})  # fmt: skip
        if moved != 1:
            lock = " FOR UPDATE" if self.dialect == "postgresql" else ""
            row = self.one("SELECT chain_seq, chain_hash FROM chain_head WHERE id = 1" + lock)
            if row is None:
                raise AdapterError("the chain head row is missing: run 'sopflow db upgrade'")
            chain_seq, chain_prev = row["chain_seq"] + 1, row["chain_hash"]
            chained = link(chain_prev, own_hash)
            self.execute(_MOVE_HEAD, {"s": chain_seq, "h": chained})
        self.head = (chain_seq, chained)
        event_id = self.insert("events", {
            **fields, "request_id": request_id, "prev_hash": prev_hash, "hash": own_hash,
            "chain_seq": chain_seq, "chain_prev": chain_prev, "chain_hash": chained},
            returning=True)  # fmt: skip
        return StoredEvent(int(event_id), int(fields["seq"]), own_hash)


_MOVE_HEAD = "UPDATE chain_head SET chain_seq = :s, chain_hash = :h WHERE id = 1"


_ACTING_ON_REQUEST = ("id", "reference", "sop_id", "sop_version", "sop_hash", "organisation_id",
                      "created_by", "state", "raw_snapshot", "version", "last_hash", "deadline",
                      "outcome", "breached")  # fmt: skip
_COLUMN_OF = {"raw_snapshot": "snapshot"}  # the snapshot's text, decoded by the services
_ACTING_ON = (
    f"SELECT {', '.join('r.' + _COLUMN_OF.get(c, c) for c in _ACTING_ON_REQUEST)}, u.email, "
    "u.organisation_id, "
    "u.roles, u.active, uo.kind, o.kind, o.licence_number, o.licence_status, o.licence_expires "
    "FROM users u JOIN organisations uo ON uo.id = u.organisation_id "
    "LEFT JOIN requests r ON r.reference = :ref "
    "LEFT JOIN organisations o ON o.id = r.organisation_id WHERE u.email = :email"
)


@functools.lru_cache(maxsize=512)
def _roles_of(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _roles(stored: Any) -> tuple[str, ...]:
    """A user's roles as stored: JSON text on SQLite (few distinct ones: decoded once each),
    a list from PostgreSQL."""
    return _roles_of(stored) if isinstance(stored, str) else tuple(stored or ())


# Table and column names come from this code base, never from input; values are always
# bound parameters. The text of a statement is built once per shape.
@functools.cache
def _insert_sql(table: str, names: tuple[str, ...], returning: bool) -> str:
    sql = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(':' + n for n in names)})"
    return sql + (" RETURNING id" if returning else "")


@functools.cache
def _update_sql(table: str, names: tuple[str, ...], where: str) -> str:
    return f"UPDATE {table} SET {', '.join(f'{n} = :{n}' for n in names)} WHERE {where}"
