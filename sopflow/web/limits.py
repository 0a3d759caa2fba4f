"""A cap on the size of a request's body, enforced before the body is read.

Without it, a JSON body (documents travel in it as base64) or a form is read whole (into
memory or a spooled file) before any check of a document's size can refuse it: one client
sending gigabytes could exhaust the server. A body announced larger than the cap
(``Content-Length``) is refused at once and not read; one sent without a length (chunked)
is counted as it arrives and refused once it passes the cap. Either way the answer is a
413 problem ``body-too-large`` naming the cap and the setting that sets it; to a browser
asking for a page (``page``), a page in the reader's language saying what happened and how
to go on, with a link back to the form. A browser that is answered before it has sent its
body often shows "connection reset" instead of the answer: for a page, the rest of the body
is read and thrown away (up to ``DRAIN_FACTOR`` times the cap) before the answer goes out.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# the app's own problem documents (``sopflow.web.app.problem``): request, status, code,
# detail, extra
Problem = Callable[..., Response]
# the page for people: (scope, limit) -> the page, or None for a program (the problem then)
Page = Callable[[Scope, int], Response | None]
DRAIN_FACTOR = 4


class BodyLimit:
    """ASGI middleware: refuse (413) a request whose body is larger than ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int, problem: Problem,
                 page: Page | None = None) -> None:  # fmt: skip
        self.app = app
        self.limit = limit
        self.problem = problem
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(scope, receive, send)
            return
        received, over, started, ended = 0, False, False, False

        async def counted() -> Message:
            nonlocal received, over, ended
            if over:  # the app reads on: tell it the client is gone
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                ended = not message.get("more_body", False)
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
                    await self._refuse(scope, receive, send, drain=not ended)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not over:
                raise
            if not started:  # the app gave up on the body by raising: the 413 still goes out
                await self._refuse(scope, receive, send, drain=not ended)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send,
                      drain: bool = True) -> None:  # fmt: skip
        page = await run_in_threadpool(self.page, scope, self.limit) if self.page else None
        if page is not None:
            length = dict(scope["headers"]).get(b"content-length", b"")
            budget = DRAIN_FACTOR * self.limit
            # (a body already read to its end: another read would wait forever; one
            # announced larger than the budget would be cut short anyway)
            if drain and not (length.isdigit() and int(length) > budget):
                await _drain(receive, budget)
            page.headers["connection"] = "close"
            await page(scope, receive, send)
            return
        detail = (f"the request body is larger than {self.limit / 1_000_000:g} MB, the most "
                  "this server accepts (SOPFLOW_MAX_REQUEST_MB); send large documents one "
                  "request at a time")  # fmt: skip
        answer = self.problem(Request(scope), 413, "body-too-large", detail, limit=self.limit)
        answer.headers["connection"] = "close"  # the rest of the body is not read
        await answer(scope, receive, send)


async def _drain(receive: Receive, budget: int) -> None:
    """Read what is left of a body and throw it away (at most ``budget`` bytes), so that a
    browser still sending it reads the answer rather than a reset connection."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return
