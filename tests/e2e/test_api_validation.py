"""What the framework finds wrong with an API request, said with the documented codes: the
parameter or member named, what is allowed, nothing of pydantic's own vocabulary."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_api import (  # noqa: F401  (fixtures)
    api,
    app_services,
    assert_problem,
    auth,
    client,
    file_eg,
    tokens,
)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    seeded,
    services,
    settings,
)

QUERIES = [
    ("/api/v1/requests?limit=0", "limit", "out-of-range", "must be at least 1 (given: '0')",
     {"bound": "min", "limit": "1"}),
    ("/api/v1/requests?limit=501", "limit", "out-of-range", "must be at most 500 (given: '501')",
     {"bound": "max", "limit": "500"}),
    ("/api/v1/requests?limit=abc", "limit", "wrong-type", "must be a whole number (given: 'abc')",
     {"expected": "integer"}),
    ("/api/v1/requests?overdue=maybe", "overdue", "wrong-type",
     "must be true or false (given: 'maybe')", {"expected": "boolean"}),
    ("/api/v1/requests?q=" + "x" * 101, "q", "too-long", "must have at most 100 characters",
     {"limit": 100}),
    ("/api/v1/audit/export?format=pdf", "format", "not-in-enum", "'pdf' is not one of: jsonl, csv",
     {"value": "pdf", "allowed": ["jsonl", "csv"]}),
    ("/api/v1/audit/export?from=20261206", "from", "wrong-type",
     "'20261206' is not a date (YYYY-MM-DD)", {"expected": "date"}),
    ("/api/v1/requests/EG-2026-000001/replay?as_of=1765000000", "as_of", "wrong-type",
     "'1765000000' is not a moment (ISO 8601, e.g. 2026-12-06 or 2026-12-06T09:30:00+01:00; "
     "without a zone: UTC)", {"expected": "datetime"}),
]  # fmt: skip


@pytest.mark.parametrize(("url", "field", "code", "message", "params"), QUERIES)
def test_a_bad_query_parameter_is_named_with_what_it_allows(
    api, tokens, url: str, field: str, code: str, message: str, params: dict[str, Any]
) -> None:
    body = assert_problem(api.get(url, headers=auth(tokens, "eg_auditor")), 422, "invalid-data")

    assert body["errors"] == [{"field": field, "code": code, "message": message,
                               "params": params}]  # fmt: skip
    assert body["detail"] == f"invalid request: {field}: {message}"


def post(api, tokens, content: bytes, media: str = "application/json") -> Any:
    return api.post("/api/v1/requests", content=content,
                    headers={**auth(tokens, "agent"), "Content-Type": media})  # fmt: skip


def test_body_members_are_named_by_their_path_with_documented_codes(api, tokens) -> None:
    bad = post(api, tokens, b'{"dta": 1, "data": [], "documents": [{"kind": "a", '
                            b'"file_name": "", "content_base64": 3}]}')  # fmt: skip

    body = assert_problem(bad, 422, "invalid-data")
    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [
        ("body.sop", "missing-field", "is required"),
        ("body.data", "wrong-type", "must be a JSON object"),
        ("body.documents[0].file_name", "too-short", "must have at least 1 character"),
        ("body.documents[0].content_base64", "wrong-type", "must be a text (given: 3)"),
        ("body.dta", "unknown-field",
         "'dta' is not known here; allowed: sop, data, documents, comment"),
    ]  # fmt: skip


@pytest.mark.parametrize(("content", "code", "message"), [
    (b"null", "wrong-type", "the body is null: it must be a JSON object"),
    (b"", "missing-field", "the request has no body: send a JSON object"),
    (b"[1]", "wrong-type", "must be a JSON object"),
    (b'{"sop": "\xff"}', "not-utf8",
     "the body is not UTF-8 text: byte 10 is 0xff (invalid start byte)"),
    (b'\xff\xfe{\x00}\x00', "not-utf8",
     "the body is not UTF-8 text: byte 1 is 0xff (invalid start byte)"),
])  # fmt: skip
def test_a_body_that_is_no_json_object_says_so(api, tokens, content: bytes, code: str,
                                               message: str) -> None:  # fmt: skip
    body = assert_problem(post(api, tokens, content), 422, "invalid-data")

    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [
        ("body", code, message)]  # fmt: skip


def test_a_body_sent_as_another_type_than_json_is_415(api, tokens) -> None:
    refused = post(api, tokens, b'{"sop": "x"}', "text/plain")

    body = assert_problem(refused, 415, "unsupported-media-type")
    assert body["detail"] == "the body is sent as text/plain; send it as application/json"
    assert body["allowed"] == ["application/json"]


def test_a_statistics_date_is_yyyy_mm_dd_only_and_named_as_the_parameter(api, tokens) -> None:
    refused = api.get("/api/v1/stats/placements?from=20261206&to=2026-W49-1",
                      headers=auth(tokens, "eg_auditor"))  # fmt: skip

    body = assert_problem(refused, 422, "invalid-data")
    assert [(e["field"], e["code"], e["message"]) for e in body["errors"]] == [
        ("from", "wrong-type", "'20261206' is not a date (YYYY-MM-DD)"),
        ("to", "wrong-type", "'2026-W49-1' is not a date (YYYY-MM-DD)")]  # fmt: skip
