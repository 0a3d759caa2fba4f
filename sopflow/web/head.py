"""``HEAD`` on every path that answers ``GET`` (RFC 9110 §9.3.2: a server should): the
``GET`` answer, its status and headers, without its body.

FastAPI's routes take only the methods they declare, so a ``HEAD`` of a page, of an API
resource or of ``/health`` was refused with 405, although monitors and ``curl -I`` send it.
Starlette's plain routes add ``HEAD`` to ``GET`` on their own; FastAPI's do not, and adding it
to each route would also list a second operation per path in the OpenAPI document.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """ASGI middleware (outermost): a ``HEAD`` request runs as ``GET``; its body is dropped
    (``Content-Length`` stays that of the body a ``GET`` would get)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headless(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headless)
