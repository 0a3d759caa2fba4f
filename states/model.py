"""The values the state-machine core works on: actors, a request's replayable state, events.

Plain frozen dataclasses, JSON-friendly through ``to_json``/``from_json`` so that the store
can persist them and replay can rebuild them. No I/O, no clock: times are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

CREATE = "create"  # reserved trigger: the request comes into being in the initial state
ATTACH = "attach"  # reserved trigger: documents added without a change of state
BREACH = "breach"  # reserved trigger: a deadline passed (recorded once per breach)
WARNING = "deadline_warning"  # reserved trigger: a deadline is near (once per stay)
RESERVED_TRIGGERS = frozenset({CREATE, ATTACH, BREACH, WARNING})


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (or the system) holding roles, within an organisation."""

    id: str
    roles: frozenset[str]
    organisation_id: str | None = None
    acting_for: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationFacts:
    """What rules may know about the requesting organisation (an agency's licence)."""

    id: str
    kind: str  # employer | agency | authority
    licence_number: str | None = None
    licence_status: str | None = None  # active | suspended | cancelled
    licence_expires: date | None = None


@dataclass(frozen=True, slots=True)
class DocumentRef:
    """A stored document as the core sees it: its kind, content hash and size."""

    kind: str
    sha256: str
    file_name: str
    media_type: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "sha256": self.sha256,
            "file_name": self.file_name,
            "media_type": self.media_type,
            "size": self.size,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DocumentRef:
        return cls(
            kind=str(raw["kind"]),
            sha256=str(raw["sha256"]),
            file_name=str(raw["file_name"]),
            media_type=str(raw["media_type"]),
            size=int(raw["size"]),
        )


@dataclass(frozen=True, slots=True)
class Payload:
    """What a command brings: data changes, documents, a comment and a reason code."""

    data: Mapping[str, Any] = field(default_factory=dict)
    documents: tuple[DocumentRef, ...] = ()
    comment: str | None = None
    reason: str | None = None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True, slots=True)
class RequestState:
    """Everything about a request that its events determine; replay rebuilds exactly this."""

    state: str
    data: Mapping[str, Any]
    seq: int = 0
    documents: tuple[DocumentRef, ...] = ()
    acted: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    documents_at: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    entered_at: datetime | None = None
    deadline: datetime | None = None
    breached: bool = False
    warned: bool = False

    def latest_documents(self) -> dict[str, DocumentRef]:
        """The newest document of each kind."""
        latest: dict[str, DocumentRef] = {}
        for doc in self.documents:
            latest[doc.kind] = doc
        return latest

    def with_breach(self) -> RequestState:
        return replace(self, breached=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "data": dict(self.data),
            "seq": self.seq,
            "documents": [d.to_json() for d in self.documents],
            "acted": {k: list(v) for k, v in self.acted.items()},
            "documents_at": {k: dict(v) for k, v in self.documents_at.items()},
            "entered_at": _iso(self.entered_at),
            "deadline": _iso(self.deadline),
            "breached": self.breached,
            "warned": self.warned,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> RequestState:
        return cls(
            state=str(raw["state"]),
            data=dict(raw.get("data") or {}),
            seq=int(raw.get("seq", 0)),
            documents=tuple(DocumentRef.from_json(d) for d in raw.get("documents") or ()),
            acted={k: tuple(v) for k, v in (raw.get("acted") or {}).items()},
            documents_at={k: dict(v) for k, v in (raw.get("documents_at") or {}).items()},
            entered_at=_parse(raw.get("entered_at")),
            deadline=_parse(raw.get("deadline")),
            breached=bool(raw.get("breached", False)),
            warned=bool(raw.get("warned", False)),
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One recorded step, before the store adds request id, hashes and the flow-run id."""

    seq: int
    trigger: str
    from_state: str | None
    to_state: str
    actor_id: str
    role: str
    at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    comment: str | None = None
    reason: str | None = None
    legal_clause: str | None = None
    acting_for: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "trigger": self.trigger,
            "from_state": self.from_state,
            "to_state": self.to_state,
            "actor_id": self.actor_id,
            "role": self.role,
            "at": self.at.isoformat(),
            "payload": dict(self.payload),
            "comment": self.comment,
            "reason": self.reason,
            "legal_clause": self.legal_clause,
            "acting_for": self.acting_for,
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> EventRecord:
        at = raw["at"]
        return cls(
            seq=int(raw["seq"]),
            trigger=str(raw["trigger"]),
            from_state=raw.get("from_state"),
            to_state=str(raw["to_state"]),
            actor_id=str(raw["actor_id"]),
            role=str(raw["role"]),
            at=at if isinstance(at, datetime) else datetime.fromisoformat(at),
            payload=dict(raw.get("payload") or {}),
            comment=raw.get("comment"),
            reason=raw.get("reason"),
            legal_clause=raw.get("legal_clause"),
            acting_for=raw.get("acting_for"),
        )


@dataclass(frozen=True, slots=True)
class NoticeIntent:
    """A notice the step asks for; the services resolve recipients and render it."""

    template: str
    recipient: str  # "requester" | "role:<id>" | "field:<id>"
    trigger: str
    address: str | None = None  # resolved already for field recipients


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one accepted command: the new state, the event, the notices."""

    state: RequestState
    event: EventRecord
    notices: tuple[NoticeIntent, ...] = ()
    flags: tuple[str, ...] = ()
