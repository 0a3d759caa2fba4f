"""The unit of work and the queries the services need, on SQLAlchemy Core.

One ``Store.write()`` transaction per command: the request row (with its optimistic version
check), the hash-chained event, the global chain head, documents and outbox rows commit
together or not at all. Reads run on their own connection without taking SQLite's write
lock. Core statements on the hot path (an ORM object costs ~38 µs to build).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sopflow.domain.chain import GENESIS, canonical_time, event_hash, link
from sopflow.errors import AdapterError, Conflict
from sopflow.store.tables import (
    ChainHead,
    DocumentRow,
    EventRow,
    IdempotencyKey,
    Organisation,
    OutboxRow,
    ReferenceCounter,
    RequestRow,
    SopVersion,
    User,
)

organisations = Organisation.__table__  # type: ignore[attr-defined]
users = User.__table__  # type: ignore[attr-defined]
requests = RequestRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
chain_head = ChainHead.__table__  # type: ignore[attr-defined]
documents = DocumentRow.__table__  # type: ignore[attr-defined]
outbox = OutboxRow.__table__  # type: ignore[attr-defined]
idempotency = IdempotencyKey.__table__  # type: ignore[attr-defined]
counters = ReferenceCounter.__table__  # type: ignore[attr-defined]
sop_versions = SopVersion.__table__  # type: ignore[attr-defined]


def db_errors(exc: sa.exc.SQLAlchemyError) -> AdapterError:
    """A database failure as an AdapterError that says whether trying again may help."""
    retryable = isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError)
    detail = str(getattr(exc, "orig", exc)).splitlines()[0]
    return AdapterError(f"database error: {detail}", retryable=retryable, code="database-error")


@dataclass(frozen=True, slots=True)
class StoredEvent:
    id: int
    seq: int
    hash: str


class Reader:
    """Queries on one read-only connection."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn

    def one(self, stmt: sa.Executable) -> dict[str, Any] | None:
        row = self.conn.execute(stmt).mappings().first()
        return dict(row) if row is not None else None

    def all(self, stmt: sa.Executable) -> list[dict[str, Any]]:
        return [dict(r) for r in self.conn.execute(stmt).mappings()]

    def organisation(self, org_id: str) -> dict[str, Any] | None:
        return self.one(sa.select(organisations).where(organisations.c.id == org_id))

    def user(self, email: str) -> dict[str, Any] | None:
        return self.one(sa.select(users).where(users.c.email == email.strip().lower()))

    def users_with_role(self, role: str, organisation_ids: Sequence[str]) -> list[dict[str, Any]]:
        rows = self.all(sa.select(users).where(users.c.organisation_id.in_(organisation_ids),
                                               users.c.active.is_(True)))
        return [r for r in rows if role in (r["roles"] or [])]

    def request(self, reference: str) -> dict[str, Any] | None:
        return self.one(sa.select(requests).where(requests.c.reference == reference))

    def request_by_id(self, request_id: int) -> dict[str, Any] | None:
        return self.one(sa.select(requests).where(requests.c.id == request_id))

    def events_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(sa.select(events).where(events.c.request_id == request_id)
                        .order_by(events.c.seq, events.c.id))

    def documents_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(sa.select(documents).where(documents.c.request_id == request_id)
                        .order_by(documents.c.id))

    def outbox_of(self, request_id: int) -> list[dict[str, Any]]:
        return self.all(sa.select(outbox).where(outbox.c.request_id == request_id)
                        .order_by(outbox.c.id))

    def idempotent_result(self, key: str) -> dict[str, Any] | None:
        return self.one(sa.select(idempotency).where(idempotency.c.key == key))

    def sop_version(self, sop_id: str, version: int) -> dict[str, Any] | None:
        return self.one(sa.select(sop_versions).where(sop_versions.c.sop_id == sop_id,
                                                      sop_versions.c.version == version))

    def sop_versions(self) -> list[dict[str, Any]]:
        return self.all(sa.select(sop_versions).order_by(sop_versions.c.sop_id,
                                                         sop_versions.c.version))

    def chain_head(self) -> dict[str, Any]:
        head = self.one(sa.select(chain_head).where(chain_head.c.id == 1))
        return head or {"chain_seq": 0, "chain_hash": GENESIS}


class Writer(Reader):
    """The statements of one write transaction."""

    def insert(self, table: sa.Table, values: dict[str, Any]) -> int | None:
        """Insert a row; return its new integer id (None for tables keyed otherwise)."""
        result = self.conn.execute(sa.insert(table).values(**values))
        key = result.inserted_primary_key
        return key[0] if key and isinstance(key[0], int) else None

    def next_reference(self, prefix: str, year: int) -> str:
        stmt = (sa.update(counters).where(counters.c.prefix == prefix, counters.c.year == year)
                .values(last=counters.c.last + 1).returning(counters.c.last))
        number = self.conn.execute(stmt).scalar()
        if number is None:
            self.insert(counters, {"prefix": prefix, "year": year, "last": 1})
            number = 1
        return f"{prefix}-{year}-{number:06d}"

    def update_request(self, request_id: int, expected_version: int, values: dict[str, Any],
                       current_state: str | None = None) -> None:  # fmt: skip
        stmt = (sa.update(requests)
                .where(requests.c.id == request_id, requests.c.version == expected_version)
                .values(version=expected_version + 1, **values))
        if self.conn.execute(stmt).rowcount != 1:
            now = self.one(sa.select(requests.c.state, requests.c.version, requests.c.reference)
                           .where(requests.c.id == request_id))
            state = now["state"] if now else current_state
            raise Conflict(
                f"request {now['reference'] if now else request_id} was changed by someone else "
                f"(now in state '{state}', version {now['version'] if now else '?'}); reload it "
                "and try again",
                details={"state": state, "version": now["version"] if now else None},
            )

    def append_event(self, request_id: int, reference: str, prev_hash: str,
                     fields: dict[str, Any]) -> StoredEvent:  # fmt: skip
        """Insert one event, linked to the request's previous event and to the global chain."""
        own = event_hash({**fields, "reference": reference, "prev_hash": prev_hash,
                          "at": canonical_time(fields["at"])})
        head = self.conn.execute(sa.select(chain_head.c.chain_seq, chain_head.c.chain_hash)
                                 .where(chain_head.c.id == 1).with_for_update()).first()
        if head is None:
            raise AdapterError("the chain head row is missing: run 'sopflow db upgrade'")
        chain_seq, chain_prev = head[0] + 1, head[1]
        chained = link(chain_prev, own)
        event_id = self.insert(events, {**fields, "request_id": request_id, "prev_hash": prev_hash,
                                        "hash": own, "chain_seq": chain_seq,
                                        "chain_prev": chain_prev, "chain_hash": chained})
        self.conn.execute(sa.update(chain_head).where(chain_head.c.id == 1)
                          .values(chain_seq=chain_seq, chain_hash=chained))
        assert event_id is not None
        return StoredEvent(event_id, int(fields["seq"]), own)

    def remember(self, key: str, actor: str, command: str, reference: str,
                 result: dict[str, Any], at: datetime) -> None:  # fmt: skip
        self.insert(idempotency, {"key": key, "actor_id": actor, "command": command,
                                  "reference": reference, "result": result, "created_at": at})


class Store:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def read(self) -> Iterator[Reader]:
        try:
            with self.engine.connect().execution_options(readonly=True) as conn, conn.begin():
                yield Reader(conn)
        except sa.exc.SQLAlchemyError as exc:
            raise db_errors(exc) from exc

    @contextmanager
    def write(self) -> Iterator[Writer]:
        try:
            with self.engine.begin() as conn:
                yield Writer(conn)
        except sa.exc.IntegrityError:
            raise
        except sa.exc.SQLAlchemyError as exc:
            raise db_errors(exc) from exc
