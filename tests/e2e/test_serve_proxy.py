"""X-Forwarded-For is believed only from the proxies the operator names
(SOPFLOW_FORWARDED_ALLOW_IPS): by default a client cannot choose the address the sign-in
throttle counts, even from 127.0.0.1 (uvicorn's own default trusts that address)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sopflow.cli.serve import proxy_options


def _client_address(request: Request) -> PlainTextResponse:
    return PlainTextResponse(
        f"{request.client.host if request.client else '?'} {request.url.scheme}"
    )


@contextmanager
def served(allowed: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = Starlette(routes=[Route("/", _client_address)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            **proxy_options(allowed))  # type: ignore[arg-type]  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(10)


def test_forwarded_headers_are_ignored_unless_the_proxy_is_named() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with served("") as url:
        assert httpx.get(url, headers=forged).text == "127.0.0.1 http"


def test_forwarded_headers_are_believed_from_a_named_proxy() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with served("127.0.0.1") as url:
        assert httpx.get(url, headers=forged).text == "203.0.113.9 https"
