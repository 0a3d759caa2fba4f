"""The database schema as SQLModel tables. Alembic migrations (``migrations/``) create them.

JSON columns hold plain JSON (``sa.JSON``: TEXT on SQLite, json on PostgreSQL). Times are
stored timezone-aware (``DateTime(timezone=True)``) and always written in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("refusing to store a naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> Any:
    return Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))


def _when(nullable: bool = False, index: bool = False) -> Any:
    return Field(
        default=None if nullable else ...,
        sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index),
    )


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: str = Field(primary_key=True, max_length=80)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)  # employer | agency | authority
    country: str | None = Field(default=None, max_length=2)
    licence_number: str | None = Field(default=None, max_length=80)
    licence_status: str | None = Field(default=None, max_length=20)
    licence_expires: date | None = None
    created_at: datetime = _when()


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, sa_column_kwargs={"unique": True})
    name: str = Field(max_length=200)
    organisation_id: str = Field(foreign_key="organisations.id", index=True)
    roles: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    locale: str = Field(default="en", max_length=5)
    password_hash: str | None = Field(default=None, max_length=300)
    active: bool = True
    created_at: datetime = _when()


class SopVersion(SQLModel, table=True):
    """The exact text of every SOP version a request was ever pinned to or published."""

    __tablename__ = "sop_versions"

    sop_id: str = Field(primary_key=True, max_length=80)
    version: int = Field(primary_key=True)
    content_hash: str = Field(max_length=80, sa_column_kwargs={"unique": True})
    text: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    source: str = Field(max_length=400)
    published_at: datetime = _when()


class RequestRow(SQLModel, table=True):
    __tablename__ = "requests"
    __table_args__ = (sa.Index("ix_requests_sop_state", "sop_id", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=40, sa_column_kwargs={"unique": True})
    sop_id: str = Field(max_length=80)
    sop_version: int
    sop_hash: str = Field(max_length=80)
    organisation_id: str = Field(foreign_key="organisations.id", index=True)
    created_by: str = Field(max_length=254)
    state: str = Field(max_length=64)
    outcome: str | None = Field(default=None, max_length=20)
    snapshot: dict[str, Any] = _json()  # RequestState.to_json(): replay must reproduce it
    seq: int = 0
    last_hash: str = Field(max_length=64)
    deadline: datetime | None = _when(nullable=True, index=True)
    breached: bool = False
    version: int = 1  # optimistic lock: every accepted command increments it
    created_at: datetime = _when()
    updated_at: datetime = _when()


class EventRow(SQLModel, table=True):
    """Append-only, hash-chained per request (prev_hash) and globally (chain_prev)."""

    __tablename__ = "events"
    __table_args__ = (sa.UniqueConstraint("request_id", "seq", name="uq_events_request_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    # looked up through uq_events_request_seq (request_id, seq): no separate index needed
    request_id: int = Field(foreign_key="requests.id")
    seq: int
    trigger: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=64)
    to_state: str = Field(max_length=64)
    actor_id: str = Field(max_length=254)
    role: str = Field(max_length=64)
    acting_for: str | None = Field(default=None, max_length=254)
    payload: dict[str, Any] = _json()
    comment: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    reason: str | None = Field(default=None, max_length=64)
    legal_clause: str | None = Field(default=None, max_length=64)
    sop_id: str = Field(max_length=80)
    sop_version: int
    sop_hash: str = Field(max_length=80)
    at: datetime = _when()
    flow_run_id: str | None = Field(default=None, max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    chain_seq: int  # the global order; ids follow it (inserts are serialised by the head)
    chain_prev: str = Field(max_length=64)
    chain_hash: str = Field(max_length=64)


class ChainHead(SQLModel, table=True):
    """The heads of the chains: row 1 the events' global chain, row 2 the directory log
    (migration 0007). Deleting the newest entries of either is detected."""

    __tablename__ = "chain_head"

    id: int = Field(default=1, primary_key=True)
    chain_seq: int = 0
    chain_hash: str = Field(max_length=64)


class DirectoryLogRow(SQLModel, table=True):
    """Append-only, hash-chained: one entry per change to the directory (an organisation
    added, a licence changed, a user added), written in the transaction of the change
    (``sopflow.domain.directory_log``; the head is ``chain_head`` row 2)."""

    __tablename__ = "directory_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = _when()
    actor: str = Field(max_length=254)  # who made the change (an operator's name)
    action: str = Field(max_length=40)
    subject: str = Field(max_length=254, index=True)  # an organisation id or a user's e-mail
    change: dict[str, Any] = _json()  # its canonical JSON text, as hashed
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DocumentRow(SQLModel, table=True):
    __tablename__ = "documents"

    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="requests.id", index=True)
    event_seq: int
    kind: str = Field(max_length=64)
    file_name: str = Field(max_length=255)
    media_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, index=True)
    uploaded_by: str = Field(max_length=254)
    uploaded_at: datetime = _when()


class OutboxRow(SQLModel, table=True):
    """A notice to send, written with the event that caused it; its proof once sent."""

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_status_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=120, sa_column_kwargs={"unique": True})
    request_id: int = Field(foreign_key="requests.id", index=True)
    event_id: int = Field(foreign_key="events.id", index=True)
    event_seq: int
    trigger: str = Field(max_length=64)
    template: str = Field(max_length=64)
    template_version: str | None = Field(default=None, max_length=80)
    recipient: str = Field(max_length=254)
    recipient_kind: str = Field(max_length=80)  # requester | role:<id> | field:<id>
    locale: str = Field(max_length=5)
    subject_hash: str | None = Field(default=None, max_length=64)
    body_hash: str | None = Field(default=None, max_length=64)
    # the request's deadline as of the event (a notice describes its event, not the
    # request as it is when the notice is sent); NULL: no deadline then, or a row written
    # before this column (migration 0004), whose deadline is rebuilt from the events
    deadline: datetime | None = _when(nullable=True)
    status: str = Field(default="pending", max_length=12)  # pending|sent|dead|skipped
    attempts: int = 0
    attempt_log: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False)
    )
    next_attempt_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    provider_message_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class IdempotencyKey(SQLModel, table=True):
    """A command applied under a caller's key: each caller (``actor_id``) has keys of their
    own, so no one can spend, or learn of, another's (migration 0006)."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.PrimaryKeyConstraint("actor_id", "key", name="idempotency_keys_pkey"),)

    key: str = Field(primary_key=True, max_length=200)
    actor_id: str = Field(primary_key=True, max_length=254)
    command: str = Field(max_length=64)
    fingerprint: str = Field(max_length=64)  # SHA-256 of what was asked (same key, same content)
    reference: str = Field(max_length=40)
    result: dict[str, Any] = _json()
    created_at: datetime = _when()


class ReferenceCounter(SQLModel, table=True):
    """The last number given out per reference prefix and year (EG-2026-000123)."""

    __tablename__ = "reference_counters"

    prefix: str = Field(primary_key=True, max_length=8)
    year: int = Field(primary_key=True)
    last: int = 0


class ApiToken(SQLModel, table=True):
    """A bearer token for programs: only its SHA-256 is kept (it is shown once, at creation)."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_email: str = Field(max_length=254, index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=12)  # the first characters, to tell tokens apart
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    created_at: datetime = _when()
    last_used_at: datetime | None = _when(nullable=True)
    revoked_at: datetime | None = _when(nullable=True)
    expires_at: datetime | None = _when(nullable=True)  # None: issued before tokens expired


class WebSession(SQLModel, table=True):
    """A signed-in session of the pages: only its token's SHA-256 is kept; ending it here
    ends it whatever copies of the cookie exist (sopflow.services.sessions)."""

    __tablename__ = "web_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    user_email: str = Field(max_length=254, index=True)
    created_at: datetime = _when()
    expires_at: datetime = _when()
    ended_at: datetime | None = _when(nullable=True)


class SignInFailure(SQLModel, table=True):
    """A failed sign-in, kept in the database so that every server process counts it."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (sa.Index("ix_sign_in_failures_key", "email", "address"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    address: str = Field(max_length=64)
    at: datetime = _when(index=True)
