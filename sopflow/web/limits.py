"""A cap on the size of a request's body, enforced before the body is read.

Without it, a JSON body (documents travel in it as base64) or a form is read whole (into
memory or a spooled file) before any check of a document's size can refuse it: one client
sending gigabytes could exhaust the server. A body announced larger than the cap
(``Content-Length``) is refused at once and not read; one sent without a length (chunked)
is counted as it arrives and refused once it passes the cap. Either way the answer is a
413 problem ``body-too-large`` naming the cap and the setting that sets it.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# the app's own problem documents (``sopflow.web.app.problem``): status, code, detail, extra
Problem = Callable[..., Response]


class BodyLimit:
    """ASGI middleware: refuse (413) a request whose body is larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int, problem: Problem) -> None:
        self.app = app
        self.limit = limit
        self.problem = problem

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
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
                    await self._refuse(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
            if not started:  # the app gave up on the body by raising: the 413 still goes out
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (f"the request body is larger than {self.limit / 1_000_000:g} MB, the most "
                  "this server accepts (SOPFLOW_MAX_REQUEST_MB); send large documents one "
                  "request at a time")  # fmt: skip
        answer = self.problem(413, "body-too-large", detail, limit=self.limit)
        answer.headers["connection"] = "close"  # the rest of the body is not read
        await answer(scope, receive, send)
