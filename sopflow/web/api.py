"""The HTTP API for programs (``/api/v1``): bearer tokens, the requests an organisation may
see, the actions its role allows, documents, history, replay and verification.

Every command goes through the ``advance-request`` flow (``workflows.client``); every
refusal is an RFC 9457 problem with the stable code of ``docs/errors.md``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from sopflow.domain.access import Member
from sopflow.errors import CommandRejected, FieldError, InvalidData
from sopflow.services import Command, ListFilter, Services
from sopflow.store.blobs import Upload
from sopflow.web import files
from sopflow.web.api_schemas import (
    History,
    InboxItem,
    Me,
    Replay,
    RequestAfterCommand,
    RequestSummary,
    RequestView,
    Verification,
    problems,
)
from sopflow.web.uploads import other_mistakes
from sopflow.web.validation import Moment, StrictRoute
from states.payloads import MAX_COMMENT
from workflows.client import run_command


class Unauthorized(CommandRejected):
    code = "unauthorized"


class Forbidden(CommandRejected):
    code = "forbidden"


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# declared in OpenAPI as the bearer scheme (so /docs and generated clients send the token);
# its refusal is ours (401 problem+json with WWW-Authenticate), not the framework's 403
BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                    description="A token from `sopflow token create --as EMAIL`.")  # fmt: skip


def caller(request: Request,
           credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)] = None,
           ) -> Member:  # fmt: skip
    """The member a bearer token (``Authorization: Bearer sfp_...``) belongs to."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("send 'Authorization: Bearer <token>' (sopflow token create)")
    member = services_of(request).tokens.authenticate(credentials.credentials.strip())
    if member is None:
        raise Unauthorized("the token is unknown, revoked or expired (sopflow token list)")
    return member


Caller = Annotated[Member, Depends(caller)]
Svc = Annotated[Services, Depends(services_of)]


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    file_name: str = Field(min_length=1, max_length=255)
    content_base64: str


class SubmitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sop: str
    data: dict[str, Any] = Field(default_factory=dict)
    documents: list[DocumentIn] = Field(default_factory=list)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    data: dict[str, Any] = Field(default_factory=dict)
    documents: list[DocumentIn] = Field(default_factory=list)
    comment: str | None = Field(default=None, max_length=MAX_COMMENT)
    reason: str | None = None


def _uploads(services: Services, member: Member, documents: list[DocumentIn], *,
             sop: str | None = None, reference: str | None = None,
             check: Callable[[list[Upload]], object] | None = None) -> list[Upload]:  # fmt: skip
    """The documents decoded and checked as the command will check them (its SOP's kinds,
    their sizes and types; empty or mislabelled files), before anything is stored: every
    bad document named in one refusal, with what ``check`` (the command, decided with the
    good documents) finds wrong with the rest of its data."""
    limit = services.ctx.max_document_bytes
    uploads, errors = [], []
    for doc in documents:
        where = f"document:{doc.kind}"
        if len(doc.content_base64) > limit * 4 // 3 + 8:
            errors.append(FieldError(where, "document-too-large",
                                     f"{doc.file_name} exceeds {limit} bytes",
                                     {"file": doc.file_name, "limit": limit}))  # fmt: skip
            continue
        try:
            content = base64.b64decode(doc.content_base64, validate=True)
        except (binascii.Error, ValueError):
            errors.append(FieldError(where, "wrong-type",
                                     f"{doc.file_name}: content_base64 is not base64",
                                     {"file": doc.file_name, "expected": "base64"}))  # fmt: skip
            continue
        uploads.append(Upload(doc.kind, doc.file_name, content))
    good = []
    if uploads:
        spec = services.commands.sop_for(member.email, sop_id=sop, reference=reference)
        for upload in uploads:
            try:
                services.commands.documents([upload], spec)
            except InvalidData as exc:
                errors.extend(exc.errors)
            else:
                good.append(upload)
    if not errors:
        return uploads
    more, unmet = other_mistakes(check, good, errors)  # what else the command lacks
    raise InvalidData(errors + [e for e in more if e not in errors], context="documents",
                      unmet=unmet)  # fmt: skip


@contextmanager
def _stored(services: Services, uploads: list[Upload]) -> Iterator[list[dict[str, str]]]:
    """The uploads put in the document store, as the command's references (a flow run may
    read them on another machine). If the command is refused, the files it wrote that no
    request's document refers to are taken back: a refusal leaves nothing behind."""
    refs, written = [], []
    for upload in uploads:
        target = services.ctx.blobs.path_of(services.ctx.blobs.describe(upload).sha256)
        new = not target.exists()
        stored = services.ctx.blobs.put(upload)
        if new:
            written.append((stored.sha256, target.stat().st_mtime_ns))
        refs.append({"kind": upload.kind, "file_name": stored.file_name, "sha256": stored.sha256})
    try:
        yield refs
    except CommandRejected:  # (not an adapter error: a run that timed out may still run)
        services.storage.discard(written)
        raise


def _version(if_match: str | None) -> int | None:
    """The version ``If-Match`` asks for; ``*``: whatever it is now (RFC 9110). A weak tag
    never matches (If-Match compares strongly) and a list is not taken: both refused."""
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip()
    why = None
    if text.startswith("W/"):
        why = 'a weak tag never matches (If-Match compares strongly): send "3", not W/"3"'
    elif "," in text:
        why = 'one version, e.g. "3": a list of tags is not taken'
    elif not text.strip('"').isdigit():
        why = 'the request\'s version as its ETag gives it, e.g. "3" (or *)'
    if why is not None:
        raise InvalidData([FieldError("If-Match", "wrong-type", why, {"given": text})],
                          context="headers")  # fmt: skip
    return int(text.strip('"'))


# every route may answer these; each route adds its own refusals (OpenAPI, checked by
# schemathesis in tests/reliability/test_api_schema.py)
router = APIRouter(prefix="/api/v1", tags=["requests"], route_class=StrictRoute,
                   responses=problems(401, 422, 500, 503, 507))  # fmt: skip
COMMAND_REFUSALS = problems(400, 403, 404, 409, 412, 413, 415)


@router.get("/me", response_model=Me)
def me(member: Caller) -> dict[str, Any]:
    return {
        "email": member.email,
        "organisation_id": member.organisation_id,
        "organisation_kind": member.organisation_kind,
        "roles": sorted(member.roles),
    }


_SEARCHED = (
    "the request's reference, or its organisation's id or name (a part of it, "
    "any case); not the request's data"
)


def _paged(request: Request, response: Response, rows: list[dict[str, Any]], limit: int,
           offset: int) -> list[dict[str, Any]]:  # fmt: skip
    """One page of ``rows``, with ``X-Total-Count`` and a ``Link`` header (RFC 8288) to the
    next and previous pages."""
    response.headers["X-Total-Count"] = str(len(rows))
    links = []
    if offset + limit < len(rows):
        links.append(f'<{request.url.include_query_params(offset=offset + limit)}>; rel="next"')
    if offset > 0:
        links.append(f'<{request.url.include_query_params(offset=max(0, offset - limit))}>; '
                     'rel="prev"')  # fmt: skip
    if links:
        response.headers["Link"] = ", ".join(links)
    return rows[offset : offset + limit]


@router.get("/requests", response_model=list[RequestSummary])
def list_requests(
    request: Request, response: Response, member: Caller, services: Svc,
    state: str | None = None, sop: str | None = None, organisation: str | None = None,
    overdue: bool = False,
    q: Annotated[str | None, Query(max_length=100, description=_SEARCHED)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:  # fmt: skip
    """Requests the caller may see, newest first (an employer: its own organisation's). A
    filter naming no SOP or no state is refused (422), not an empty list. ``X-Total-Count``
    says how many match; ``Link`` leads to the next and previous pages."""
    flt = ListFilter(state, sop, organisation, overdue, q, 10**9, 0)
    services.queries.check_filter(flt)
    return _paged(request, response, services.queries.search(member.email, flt), limit, offset)


@router.post("/requests", status_code=201, response_model=RequestAfterCommand,
             responses=COMMAND_REFUSALS)  # fmt: skip
def submit(body: SubmitIn, member: Caller, services: Svc, response: Response,
           idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
           ) -> dict[str, Any]:  # fmt: skip
    """File a request (the submission trigger fires at once); repeat-safe with Idempotency-Key."""
    uploads = _uploads(services, member, body.documents, sop=body.sop,
                       check=lambda good: services.commands.check_filing(body.sop, member.email,
                           Command(body.data, good, body.comment)))  # fmt: skip
    with _stored(services, uploads) as documents:
        result = run_command({"command": "submit", "sop": body.sop, "as": member.email,
                              "data": body.data, "documents": documents,
                              "comment": body.comment,
                              "idempotency_key": idempotency_key})  # fmt: skip
    response.headers["Location"] = f"/api/v1/requests/{result.reference}"
    view = services.queries.show(result.reference, member.email)
    response.headers["ETag"] = f'"{view["version"]}"'
    return {**view, "result": result.to_dict()}


@router.get("/requests/{reference}", response_model=RequestView, responses=problems(404))
def show(reference: str, member: Caller, services: Svc, response: Response) -> dict[str, Any]:
    view = services.queries.show(reference, member.email)
    response.headers["ETag"] = f'"{view["version"]}"'
    return view


@router.post("/requests/{reference}/actions/{trigger}", response_model=RequestAfterCommand,
             responses=COMMAND_REFUSALS)  # fmt: skip
def act(reference: str, trigger: str, body: ActIn, member: Caller, services: Svc,
        response: Response, if_match: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
        ) -> dict[str, Any]:  # fmt: skip
    """Fire a trigger; ``If-Match: "<version>"`` refuses it if the request changed since."""
    expected = _version(if_match)
    uploads = _uploads(services, member, body.documents, reference=reference,
                       check=lambda good: services.commands.check(reference, trigger, member.email,
                           Command(body.data, good, body.comment, body.reason)))  # fmt: skip
    with _stored(services, uploads) as documents:
        result = run_command({"command": "act", "reference": reference, "trigger": trigger,
                              "as": member.email, "data": body.data, "documents": documents,
                              "comment": body.comment, "reason": body.reason,
                              "idempotency_key": idempotency_key,
                              "expected_version": expected})  # fmt: skip
    view = services.queries.show(reference, member.email)
    response.headers["ETag"] = f'"{view["version"]}"'
    return {**view, "result": result.to_dict()}


@router.post("/requests/{reference}/documents", response_model=RequestAfterCommand,
             responses=COMMAND_REFUSALS)  # fmt: skip
def attach(reference: str, documents: list[DocumentIn], member: Caller, services: Svc,
           response: Response, if_match: Annotated[str | None, Header()] = None,
           idempotency_key: Annotated[str | None, Header(min_length=1, max_length=200)] = None,
           ) -> dict[str, Any]:  # fmt: skip
    """Add documents without a step; ``If-Match`` as for an action."""
    expected = _version(if_match)
    uploads = _uploads(services, member, documents, reference=reference)
    with _stored(services, uploads) as refs:
        result = run_command({"command": "attach", "reference": reference, "as": member.email,
                              "documents": refs, "idempotency_key": idempotency_key,
                              "expected_version": expected})  # fmt: skip
    view = services.queries.show(reference, member.email)
    response.headers["ETag"] = f'"{view["version"]}"'
    return {**view, "result": result.to_dict()}


@router.get("/requests/{reference}/documents/{sha256}", response_class=Response, responses={
    200: {"description": "The document's bytes, as its media type",
          "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
    **problems(404)})  # fmt: skip
def download(reference: str, sha256: str, member: Caller, services: Svc) -> Response:
    """A document of a request the caller may see (checked against its hash)."""
    return files.document(services, reference, sha256, member.email)


@router.get("/requests/{reference}/history", response_model=History, responses=problems(404))
def history(reference: str, member: Caller, services: Svc) -> dict[str, Any]:
    """Every step of the request: who (an official named to the officials and auditors of
    the SOP's authority only; to the requester, their office, in the caller's own language),
    when, what, why, the legal clause, the hash; the notices a step caused for officials
    and auditors only."""
    return services.audit.history(reference, member.email)


# 422: at_seq names no event of the request
@router.get("/requests/{reference}/replay", response_model=Replay, responses=problems(404, 422))
def replay(reference: str, member: Caller, services: Svc, at_seq: int | None = None,
           as_of: Moment | None = None) -> dict[str, Any]:  # fmt: skip
    return services.audit.replay(reference, member.email, at_seq=at_seq, as_of=as_of)


@router.get("/inbox", response_model=list[InboxItem])
def inbox(request: Request, response: Response, member: Caller, services: Svc,
          limit: Annotated[int, Query(ge=1, le=500)] = 100,
          offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:  # fmt: skip
    """What the caller may act on now, oldest deadline first (paged as the list is)."""
    return _paged(request, response, services.queries.inbox(member.email), limit, offset)


@router.get("/audit/verify", response_model=Verification, responses=problems(403, 404))
def verify(member: Caller, services: Svc, reference: str | None = None) -> dict[str, Any]:
    """The hash chains, for auditors (users holding an auditor role of an SOP)."""
    auditor_roles = {r.id for s in services.sops.catalogue.versions.values()
                     for r in s.spec.roles if r.kind == "auditor"}  # fmt: skip
    if not auditor_roles & member.roles:
        raise Forbidden("chain verification is for auditors")
    if reference is not None:
        services.queries.show(reference, member.email)  # not visible: not found
    return services.audit.verify_as(member.email, reference).to_dict()
