"""A request body larger than the server accepts is refused (413 ``body-too-large``)
before it is read, whether its length is announced or not, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sopflow.services import Services
from sopflow.web.app import create_app, problem
from sopflow.web.limits import BodyLimit
from tests.e2e.test_api import (  # noqa: F401  (fixtures)
    _template,
    app_services,
    assert_problem,
    auth,
    b64,
    clock,
    database_url,
    seeded,
    services,
    settings,
    tokens,
)
from tests.integration import world

LIMIT = 20_000


@pytest.fixture
def api(app_services: Services) -> Iterator[TestClient]:
    app_services.ctx.max_request_bytes = LIMIT
    with TestClient(create_app(app_services), raise_server_exceptions=False) as client:
        yield client


def filing(padding: int) -> dict[str, object]:
    return {"sop": world.EG, "data": world.eg_data(), "documents": [
        {"kind": "demand_letter", "file_name": "big.pdf",
         "content_base64": b64(b"%PDF-1.4\n" + b"0" * padding)}]}  # fmt: skip


def count_requests(seeded: Services) -> int:
    with seeded.ctx.store.read() as r:
        return int(r.one("SELECT count(*) AS n FROM requests")["n"])  # type: ignore[index]


def test_an_announced_body_over_the_limit_is_refused_unread(api, tokens, seeded) -> None:
    before = count_requests(seeded)

    refused = api.post("/api/v1/requests", headers=auth(tokens, "agent"),
                       json=filing(LIMIT))  # fmt: skip

    body = assert_problem(refused, 413, "body-too-large")
    assert body["limit"] == LIMIT
    assert "SOPFLOW_MAX_REQUEST_MB" in body["detail"]
    assert count_requests(seeded) == before


def test_a_body_sent_without_a_length_is_counted_and_refused(api, tokens, seeded) -> None:
    before = count_requests(seeded)
    encoded = json.dumps(filing(LIMIT)).encode()
    chunks = (encoded[i : i + 4096] for i in range(0, len(encoded), 4096))

    headers = {**auth(tokens, "agent"), "Content-Type": "application/json"}

    refused = api.post("/api/v1/requests", content=chunks, headers=headers)

    assert "content-length" not in refused.request.headers  # sent chunked
    assert_problem(refused, 413, "body-too-large")
    assert count_requests(seeded) == before


def test_a_body_within_the_limit_goes_through(api, tokens) -> None:
    filed = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json=filing(100))

    assert filed.status_code != 413, filed.text


def test_a_form_upload_over_the_limit_is_refused(api) -> None:
    refused = api.post("/requests/new/x", files={"document__demand_letter": (
        "big.pdf", b"%PDF-1.4\n" + b"0" * LIMIT, "application/pdf")})  # fmt: skip

    assert_problem(refused, 413, "body-too-large")


def test_an_app_that_reads_on_after_the_cut_still_answers_413() -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"read": len(await request.body())})

    app = BodyLimit(
        Starlette(routes=[Route("/", echo, methods=["POST"])]), limit=10, problem=problem
    )
    with TestClient(app) as client:
        small = client.post("/", content=iter([b"12345", b"678"]))
        big = client.post("/", content=iter([b"12345", b"67890", b"x"]))

    assert small.json() == {"read": 8}
    assert big.status_code == 413 and big.json()["code"] == "body-too-large"
