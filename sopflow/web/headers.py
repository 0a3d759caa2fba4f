"""Security headers on every response (pages, API, static files, refusals), and the
session cookie marked ``Secure`` whenever the site is reached over https.

The pages load only their own assets: the one inline stylesheet of each page and the
module script of the SOP diagram carry a nonce made afresh for every response
(``request.state.csp_nonce``, the templates' ``csp_nonce``); anything else inline, or from
elsewhere, is refused by the browser. FastAPI's API documentation (``/docs``, ``/redoc``)
loads its viewers from a CDN: it gets a policy that allows that, and still no framing.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS = ("/docs", "/redoc")
CDN = "https://cdn.jsdelivr.net"


def policy(path: str, nonce: str) -> str:
    """The Content-Security-Policy of a response to ``path``."""
    if path.startswith(DOCS):
        return (f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDN}; "
                f"style-src 'self' 'unsafe-inline' {CDN}; img-src 'self' data: "
                "https://fastapi.tiangolo.com; frame-ancestors 'none'; base-uri 'none'; "
                "object-src 'none'")  # fmt: skip
    # the diagram's graphviz is WebAssembly compiled from the page's own script
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; "
            f"style-src 'self' 'nonce-{nonce}'; img-src 'self' data:; object-src 'none'; "
            "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")  # fmt: skip


class SecurityHeaders:
    """ASGI middleware (outermost): the headers on whatever answer goes out; the
    ``sopflow_session`` cookie ``Secure`` when the request came over https or the site's
    public address is https (``secure_always``)."""

    def __init__(self, app: ASGIApp, secure_always: bool = False) -> None:
        self.app = app
        self.secure_always = secure_always

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        secure = self.secure_always or scope.get("scheme") == "https"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy(scope.get("path", ""), nonce)
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                if secure:
                    _secure_cookies(headers)
            await send(message)

        await self.app(scope, receive, with_headers)


def _secure_cookies(headers: MutableHeaders) -> None:
    cookies = headers.getlist("set-cookie")
    if not cookies:
        return
    del headers["set-cookie"]
    for cookie in cookies:
        secure = "secure" in [p.strip().lower() for p in cookie.split(";")[1:]]
        headers.append("set-cookie", cookie if secure else f"{cookie}; secure")
