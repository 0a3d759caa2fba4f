"""What the HTTP API answers, as OpenAPI schemas: the response models of ``/api/v1`` and the
RFC 9457 problem every refusal is, under ``application/problem+json`` (schemathesis checks
every response against them: tests/reliability/test_api_schema.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

# a moment as the API writes it (ISO 8601 with its offset, e.g. 2026-12-07T08:00:00+00:00):
# declared as RFC 3339 date-time so that generated clients read it as one; kept as the text
# the services give (a datetime type would rewrite it on the way out)
Timestamp = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


class Problem(BaseModel):
    """An RFC 9457 problem with sopflow's stable error code (docs/errors.md) and the error's
    details (``errors``, ``unmet``, ``allowed``, ``state``, ``version``, ``retryable``…)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="An absolute URI of this server that documents the code: GET "
        "it for JSON (a page for a browser); `/api/v1/errors` lists every code"
    )
    title: str = Field(description="The code's English title, the same for every occurrence")
    status: int
    detail: str
    code: str


_WHY = {
    400: "A refused command (code in docs/errors.md).",
    401: "No bearer token, or an unknown or revoked one (`unauthorized`).",
    403: "The caller's role may not do this (`forbidden`, `role-forbidden`, "
    "`separation-of-duties`).",
    404: "No such request, document, trigger or SOP, or not visible to the caller.",
    409: "Not allowed now: `trigger-not-allowed`, `requirement-not-met`, `conflict`.",
    412: "`If-Match` names another version than the request's now (`conflict`, with its "
    "`state`, `version` and the `expected` version).",
    413: "A document above the size limit (`invalid-data` with `document-too-large`).",
    415: "A body sent as another type than application/json (`unsupported-media-type`).",
    422: "Invalid input: `invalid-data` (every error listed), `idempotency-key-reused`.",
    500: "An internal error (`internal-error`, its trace in the server log only), or a "
    "non-retryable adapter error.",
    503: "The database or the orchestrator is unavailable (`database-error`, "
    "`database-read-only`, `orchestrator-error`): try again.",
    507: "The database is full (`database-full`).",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: each status answered as a problem document."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _WHY[status],
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }


def openapi_with_problems(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with the refusals every operation may answer: FastAPI's own
    422 replaced (the app answers every invalid input as a problem), 404 where the path names
    something that may not exist, 401 and 403 under ``/api/v1`` (a bearer token, a role),
    500 and 503. Routes declare the rest (and routes added elsewhere get these at least)."""
    if app.openapi_schema is None:
        document = get_openapi(title=app.title, version=app.version,
                               description=app.description, routes=app.routes)  # fmt: skip
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                answers["422"] = problems(422)[422]
                statuses = [500, 503, *([404] if "{" in path else []),
                            *([401, 403] if path.startswith("/api/v1/") else [])]  # fmt: skip
                for status in statuses:
                    answers.setdefault(str(status), problems(status)[status])
        document.get("components", {}).get("schemas", {}).pop("HTTPValidationError", None)
        app.openapi_schema = document
    return app.openapi_schema


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Me(BaseModel):
    email: str
    organisation_id: str
    organisation_kind: str
    roles: list[str]


STATE_LABEL = "the state's label in English; every language in state_labels"
STATE_LABELS = "the state's label by language (en, fr, ar)"


class _Summary(_Open):
    reference: str
    sop_id: str
    sop_version: int
    organisation_id: str
    state: str
    state_label: str = Field(description=STATE_LABEL)
    state_labels: dict[str, str] = Field(description=STATE_LABELS)
    outcome: str | None
    deadline: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class RequestSummary(_Summary):
    allowed_triggers: list[str] = Field(
        description="the triggers the caller may fire on the request now (empty: none)"
    )
    your_triggers: list[str] = Field(
        description="the same as allowed_triggers (its former name, kept for older clients)",
        json_schema_extra={"deprecated": True},
    )


class InboxItem(_Summary):
    allowed_triggers: list[str] = Field(
        description="the triggers the caller may fire on the request now (never empty)"
    )
    overdue: bool


class DocumentOut(BaseModel):
    kind: str
    sha256: str
    file_name: str
    media_type: str
    size: int


class RequestView(_Open):
    reference: str
    sop_id: str
    sop_version: int
    sop_hash: str
    organisation_id: str
    created_by: str
    state: str
    state_label: str = Field(description=STATE_LABEL)
    state_labels: dict[str, str] = Field(description=STATE_LABELS)
    outcome: str | None
    version: int
    seq: int
    data: dict[str, Any]
    documents: list[DocumentOut]
    deadline: Timestamp | None
    overdue: bool
    breached: bool
    entered_state_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    allowed_triggers: list[str]
    next_steps_by_role: dict[str, list[str]]
    your_roles: list[str]


class CommandOutcome(BaseModel):
    reference: str
    trigger: str
    state: str
    seq: int
    version: int
    event_hash: str
    notices: int
    flags: list[str]
    replayed: bool


class RequestAfterCommand(RequestView):
    result: CommandOutcome


class HistoryNotice(_Open):
    """The proof of a notice a step caused: for officials and auditors only."""

    recipient: str | None
    recipient_kind: str
    template: str
    template_version: str | None
    locale: str
    status: str
    attempts: int
    sent_at: Timestamp | None
    provider_message_id: str | None
    message_id: str
    subject_hash: str | None
    body_hash: str | None
    last_error: str | None


ACTOR = (
    "Who took the step. To the officials and auditors of the SOP's authority (and the "
    "operator), the person: their e-mail (`system` for the deadline sweep's own steps). To "
    "anyone else who may see the request (its requester), an official is shown as their "
    "office, never by e-mail or name: the role's title and the authority's name in the "
    "reader's language (the user's own language, as their notices are written in), e.g. "
    "`Labour attaché, Ministry of Labour`; the steps of the requester's own organisation "
    "keep the e-mail of the colleague who took them, the system's stay `system`."
)
ACTOR_MASKED = (
    "True when `actor` is the office (role and authority) standing for an official the "
    "reader may not name; false when it is the person (or `system`)."
)

ACTING_FOR = "Whom the actor acted for (a delegation), shown as `actor` is."


class HistoryEvent(_Open):
    seq: int
    at: Timestamp
    trigger: str
    from_state: str | None
    to_state: str
    actor: str = Field(description=ACTOR)
    actor_masked: bool = Field(description=ACTOR_MASKED)
    role: str
    acting_for: str | None = Field(description=ACTING_FOR)
    comment: str | None
    reason: str | None
    legal_clause: str | None
    legal_citation: str | None
    payload: dict[str, Any] | None
    sop_version: int
    flow_run_id: str | None
    hash: str
    notices: list[HistoryNotice] = Field(
        description="The notices the step caused, with their proof (recipient, template, "
        "delivery, the provider's message id): for the officials and auditors who may see the "
        "request. A requester's history lists none (their request page shows none either): "
        "neither the addresses of others nor their own."
    )


class History(_Open):
    reference: str
    sop_id: str
    sop_version: int
    sop_hash: str
    state: str
    events: list[HistoryEvent]


class Replay(_Open):
    reference: str
    sop_id: str
    sop_version: int
    as_of: Timestamp | None
    at_seq: int | None
    last_seq: int
    first_event_at: Timestamp | None
    events_applied: int
    state: str | None
    data: dict[str, Any]
    documents: list[DocumentOut]
    deadline: Timestamp | None
    consistent: bool
    differences: list[str]


class ChainBreak(BaseModel):
    code: str
    message: str
    reference: str | None
    seq: int | None
    event_id: int | None


class Verification(BaseModel):
    intact: bool
    events: int
    requests: int
    first_break: ChainBreak | None
    breaks: list[ChainBreak]
