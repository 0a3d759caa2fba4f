"""A cap on the size of a request's body, enforced before the body is read.

Without it, a JSON body (documents travel in it as base64) or a form is read whole (into
memory or a spooled file) before any check of a document's size can refuse it: one client
sending gigabytes could exhaust the server. A body announced larger than the cap
(``Content-Length``) is refused at once and not read; one sent without a length (chunked)
is counted as it arrives and refused once it passes the cap. Either way the answer is a
413 problem ``body-too-large`` naming the cap and the setting that sets it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _problem(limit: int) -> tuple[dict[str, Any], bytes]:
    mb = limit / 1_000_000
    detail = (f"the request body is larger than {mb:g} MB, the most this server accepts "
              "(SOPFLOW_MAX_REQUEST_MB); send large documents one request at a time")  # fmt: skip
    body = json.dumps({"type": "https://sopflow.invalid/errors/body-too-large",
                       "title": "body-too-large", "status": 413, "detail": detail,
                       "code": "body-too-large", "limit": limit}).encode()  # fmt: skip
    start = {"type": "http.response.start", "status": 413,
             "headers": [(b"content-type", b"application/problem+json"),
                         (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}  # fmt: skip
    return start, body


class BodyLimit:
    """ASGI middleware: refuse (413) a request whose body is larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            if over:  # the app reads on: tell it the client is gone
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            # whatever the app answers to a body cut short, the client gets the 413
            nonlocal started
            if over:
                if not started:
                    started = True
                    await self._refuse(send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
            if not started:  # the app gave up on the body by raising: the 413 still goes out
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        start, body = _problem(self.limit)
        await send(start)
        await send({"type": "http.response.body", "body": body})
