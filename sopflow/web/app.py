"""The web application: the API for programs (``api``), the pages for people (``pages``),
the SOP catalogue (``catalogue``), health and readiness; errors as RFC 9457 problems."""

from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import Match

from sopflow import __version__, bootstrap
from sopflow.errors import SopflowError
from sopflow.services import Services
from sopflow.services.sessions import LIFETIME
from sopflow.settings import Settings
from sopflow.store.db import pending_migrations
from sopflow.web import (
    api,
    api_schemas,
    bulk,
    catalogue,
    exports,
    filing,
    i18n,
    pages,
    problem_types,
    stats,
    validation,
)
from sopflow.web.head import HeadAsGet
from sopflow.web.headers import SecurityHeaders
from sopflow.web.limits import BodyLimit
from sopflow.web.refusals import explain, status_of

log = logging.getLogger("sopflow.web")


def problem(request: HTTPConnection, status: int, code: str, detail: str, *,
            challenge: str = "Bearer", **extra: Any) -> JSONResponse:  # fmt: skip
    """An RFC 9457 problem document with sopflow's stable error code, answering ``request``; a
    401 carries ``challenge`` as its ``WWW-Authenticate``."""
    # type: the code's documentation on this site (problem_types), absolute (RFC 9457
    # §3.1.1); title: its English title there, the same for every occurrence; code: the
    # stable identifier programs test (docs/errors.md)
    body = {"type": problem_types.type_uri(request, code), "title": problem_types.title(code),
            "status": status, "detail": detail, "code": code, **extra}  # fmt: skip
    headers = {"WWW-Authenticate": challenge} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json",
                        headers=headers)  # fmt: skip


def _errors_of(request: Request, exc: RequestValidationError, body: bytes) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ours (``sopflow.web.validation``); a body that is not
    UTF-8, or is missing or ``null`` where a JSON object is expected, said as such."""
    route = request.scope.get("route")
    field = getattr(route, "body_field", None)
    body_type = field.field_info.annotation if field is not None else None
    errors = []
    for e in exc.errors():
        if e["loc"][:1] == ("body",) and (bad := validation.not_utf8(body)):
            errors.append(bad)
        elif e["type"] == "json_invalid":
            errors.append(validation.unreadable(e))
        elif tuple(e["loc"]) == ("body",) and e["type"] == "missing":
            said = ("the body is null: it must be a JSON object" if body.strip() == b"null"
                    else "the request has no body: send a JSON object")  # fmt: skip
            code = "wrong-type" if body.strip() else "missing-field"
            errors.append({"field": "body", "code": code, "message": said,
                           "params": {"expected": "object"}})  # fmt: skip
        else:
            errors.append(validation.field_error(e, body_type))
    unique = []  # one not-UTF-8 body is one error, not one per member
    for error in errors:
        if error not in unique:
            unique.append(error)
    return unique


def _methods_of(request: Request) -> list[str]:
    """Every method some route of this path takes (for a 405's Allow header); ``HEAD``
    wherever ``GET`` is (``HeadAsGet``)."""
    methods = [method for method in ("DELETE", "GET", "PATCH", "POST", "PUT")
               if any(route.matches({**request.scope, "method": method})[0] == Match.FULL
                      for route in request.app.router.routes)]  # fmt: skip
    return sorted([*methods, "HEAD"]) if "GET" in methods else methods


def for_people(request: Request) -> bool:
    """A browser asking for a page, not a program asking the API: its refusals are pages in
    the reader's language, with the site's header, rather than problem documents."""
    programs = ("/api/", "/health", "/ready", "/docs", "/openapi.json", "/static/")
    wants_a_page = "text/html" in request.headers.get("accept", "")
    return wants_a_page and not request.url.path.startswith(programs)


def session_secret(services: Services, cfg: Settings) -> str:
    """The key that signs session cookies: SOPFLOW_SESSION_SECRET, else one made once and
    kept (mode 600) in the data folder, so sessions survive a restart."""
    if cfg.session_secret:
        return cfg.session_secret
    path = services.ctx.blobs.root.parent / "session.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def secure_cookies(cfg: Settings) -> bool:
    """Whether the session cookie is always ``Secure``: the site's public address
    (SOPFLOW_PUBLIC_URL) is https, or SOPFLOW_SECURE_COOKIES says so. Otherwise it is
    ``Secure`` on the requests that come over https (``SecurityHeaders``)."""
    public = (cfg.public_url or "").lower()
    return public.startswith("https://") or cfg.secure_cookies


def create_app(services: Services, cfg: Settings | None = None) -> FastAPI:
    """The web application; ``cfg``: the settings (by default as the environment says now,
    a bad value refused naming its variable)."""
    cfg = cfg if cfg is not None else bootstrap.read_settings()
    app = FastAPI(
        title="sopflow",
        version=__version__,
        description="Recruitment requests and placement SOPs as audited state machines.",
    )

    app.state.services = services
    app.state.public_url = cfg.public_url  # the base of problems' type URIs (problem_types)
    # passwords checked at once (argon2: a thread and ~0.4 s each); more sign-ins are told
    # to come back (pages.login), so that a flood of them cannot take every thread
    checks = cfg.max_password_checks or max(2, os.cpu_count() or 2)
    app.state.password_checks = threading.BoundedSemaphore(checks)

    @app.exception_handler(SopflowError)
    async def _refused(request: Request, exc: SopflowError) -> Response:
        if for_people(request):
            said = explain(exc.to_dict(), pages._lang(request)).summary
            return pages._render(request, "error.html", status_of(exc), error=said)
        extra = {k: v for k, v in exc.to_dict().items() if k not in ("code", "message")}
        # RFC 6750 §3.1: a token was sent and is not good (none sent: the bare challenge)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = scheme.lower() == "bearer" and bool(token.strip())
        sent = exc.code == "unauthorized" and given
        challenge = 'Bearer error="invalid_token"' if sent else "Bearer"
        return problem(request, status_of(exc), exc.code, exc.message, challenge=challenge,
                       **extra)  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if for_people(request):
            names = ", ".join(sorted({str(e["loc"][-1]) for e in exc.errors()}))
            lang = pages._lang(request)
            return pages._render(request, "error.html", 422,
                                 error=i18n.t("bad_value", lang).format(names=names))  # fmt: skip
        try:
            body = await request.body()
        except RuntimeError:  # a form's stream, already read by its parser (the pages)
            body = b""
        errors = _errors_of(request, exc, body)
        media = request.headers.get("content-type", "")
        api_body = request.url.path.startswith("/api/") and body  # the pages take forms
        if api_body and not validation.is_json(media) and any(e["field"].startswith("body")
                                                               for e in errors):  # fmt: skip
            said = (
                f"the body is sent as {media}; send it as application/json"
                if media
                else "the body is sent without a Content-Type: send it as application/json"
            )
            return problem(request, 415, code="unsupported-media-type", detail=said,
                           allowed=["application/json"])  # fmt: skip
        listed = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(request, 422, "invalid-data", f"invalid request: {listed}", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if for_people(request) and exc.status_code in (404, 405):
            return pages._render(request, "error.html", exc.status_code,
                                 error=i18n.t("no_such_page", pages._lang(request)))  # fmt: skip
        # the framework's own refusals are problems too: a body that is not JSON (400 from
        # FastAPI: a malformed body is invalid-data, 422), an unknown path or method
        if exc.status_code == 400:
            error = validation.not_utf8(await request.body()) or {
                "field": "body",
                "code": "body-unreadable",
                "message": str(exc.detail),
            }
            return problem(request, 422, "invalid-data", f"the request body cannot be read: "
                           f"{error['message']}", errors=[error])  # fmt: skip
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        answer = problem(request, exc.status_code, code, str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the first route of the path's methods only
            answer.headers["Allow"] = ", ".join(_methods_of(request))
        return answer

    @app.exception_handler(pages.SignInRequired)
    async def _sign_in(request: Request, exc: pages.SignInRequired) -> RedirectResponse:
        """To the sign-in form, in the reader's language, back to this page afterwards;
        told that their session ended when it did (or when they were sending a form)."""
        path, query = pages.page_of(request)
        back = f"{path}?{urlencode(query)}" if query else path
        # a form sent without a session was not applied: the sign-in page says so ("sent")
        if request.method != "GET":
            ended = "sent"
        else:
            ended = "1" if getattr(request.state, "session_ended", False) else ""
        where = [("next", back)] if back not in ("/", "/requests") else []
        where += [("ended", ended)] if ended else []
        # the language: kept in the session (pages.session_user), else the browser's
        return RedirectResponse(f"/login?{urlencode(where)}" if where else "/login", 303)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the trace stays in the server's log
        return problem(request, 500, "internal-error",
                       "an internal error occurred; it has been logged")  # fmt: skip

    app.include_router(api.router)
    app.openapi = lambda: api_schemas.openapi_with_problems(app)  # type: ignore[method-assign]
    app.include_router(pages.router)
    app.include_router(filing.router)
    app.include_router(catalogue.router)
    app.include_router(bulk.router)
    app.include_router(exports.router)
    app.include_router(stats.router)
    app.include_router(problem_types.router)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
    # the body's cap inside the session: a browser's refusal is a page in its language
    app.add_middleware(BodyLimit, limit=services.ctx.max_request_bytes, problem=problem,
                       page=pages.too_large_page)  # fmt: skip
    # the cookie lives as long as the session the server keeps for it (services.sessions)
    app.add_middleware(SessionMiddleware, secret_key=session_secret(services, cfg),
                       session_cookie="sopflow_session", max_age=int(LIFETIME.total_seconds()),
                       same_site="lax", https_only=secure_cookies(cfg))  # fmt: skip
    # outermost: the first to see a request, the last to touch every answer; the cookie
    # Secure too for a request that came over https (directly, or through a trusted proxy)
    app.add_middleware(SecurityHeaders, secure_always=secure_cookies(cfg))
    app.add_middleware(HeadAsGet)  # before all: every GET path answers HEAD too

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready")
    def ready() -> JSONResponse:
        engine = services.ctx.store.engine
        try:
            behind = pending_migrations(engine)
        except Exception as exc:
            return JSONResponse({"ready": False, "reason": f"database: {exc}"}, status_code=503)
        if behind:
            return JSONResponse({"ready": False, "reason": "migrations pending"}, status_code=503)
        return JSONResponse({"ready": True})

    return app
