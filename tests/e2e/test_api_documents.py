"""Documents through the HTTP API: every bad one named in one refusal, checked before
anything is stored, and nothing left in the document store by a refused command."""

from __future__ import annotations

from pathlib import Path

from sopflow.services import Services
from tests.e2e.test_api import (  # noqa: F401  (fixtures)
    api,
    app_services,
    assert_problem,
    auth,
    b64,
    client,
    documents,
    file_eg,
    tokens,
)
from tests.integration import world
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    seeded,
    services,
    settings,
)


def stored(services: Services) -> set[Path]:
    return {path for sha256, path in services.ctx.blobs.files() if sha256 is not None}


def test_a_document_over_its_kinds_limit_is_413_and_is_not_stored(api, tokens, seeded) -> None:
    before = stored(seeded)
    big = world.pdf("big") + b"0" * 11_000_000  # demand_letter: 10 MB at most
    refused = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json={
        "sop": world.EG, "data": world.eg_data(workers_requested="many"),
        "documents": [{"kind": "demand_letter", "file_name": "big.pdf",
                       "content_base64": b64(big)}]})  # fmt: skip

    body = assert_problem(refused, 413, "invalid-data")
    # with what else is wrong with the filing, but not also "missing" the refused letter
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("document:demand_letter", "document-too-large"), ("workers_requested", "wrong-type"),
        ("document:power_of_attorney", "missing-document")]  # fmt: skip
    assert stored(seeded) == before


def test_every_bad_document_is_named_in_one_refusal_and_none_is_stored(api, tokens,
                                                                      seeded) -> None:  # fmt: skip
    ref = file_eg(api, tokens)["reference"]
    before = stored(seeded)
    pdf = b64(world.pdf("x"))
    refused = api.post(f"/api/v1/requests/{ref}/documents", headers=auth(tokens, "agent"), json=[
        {"kind": "nope", "file_name": "n.pdf", "content_base64": pdf},
        {"kind": "demand_letter", "file_name": "a.png", "content_base64": pdf},
        {"kind": "demand_letter", "file_name": "e.pdf", "content_base64": ""},
        {"kind": "demand_letter", "file_name": "x.pdf", "content_base64": "@@"}])  # fmt: skip

    body = assert_problem(refused, 422, "invalid-data")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("document:demand_letter", "wrong-type"), ("document:nope", "unknown-document"),
        ("document:demand_letter", "document-mislabelled"),
        ("document:demand_letter", "document-empty")]  # fmt: skip
    assert body["detail"].startswith("invalid documents: ")
    assert "x.pdf: content_base64 is not base64" in body["detail"]
    assert stored(seeded) == before


def test_a_refused_step_takes_back_the_files_it_stored_but_no_others(api, tokens,
                                                                    seeded) -> None:  # fmt: skip
    created = file_eg(api, tokens)
    base = f"/api/v1/requests/{created['reference']}"
    before = stored(seeded)
    kept = api.get(f"{base}/documents/{created['documents'][0]['sha256']}",
                   headers=auth(tokens, "agent")).content  # fmt: skip
    docs = [
        {"kind": "power_of_attorney", "file_name": "new.pdf", "content_base64": b64(world.pdf())},
        {"kind": "demand_letter", "file_name": "same.pdf", "content_base64": b64(kept)},
    ]

    # valid files, a step that is not allowed now: refused once they were stored
    not_allowed = api.post(f"{base}/actions/register_demand", headers=auth(tokens, "agent"),
                           json={"documents": docs})  # fmt: skip
    # an official who may not add documents in this state
    forbidden = api.post(f"{base}/documents", headers=auth(tokens, "eg_auditor"), json=docs)

    assert not_allowed.status_code in (403, 409), not_allowed.text
    assert forbidden.status_code == 403, forbidden.text
    assert stored(seeded) == before  # the other request's file (the same bytes) is kept
    assert api.get(f"{base}/documents/{created['documents'][0]['sha256']}",
                   headers=auth(tokens, "agent")).status_code == 200  # fmt: skip
    accepted = api.post(f"{base}/documents", headers=auth(tokens, "agent"), json=docs[:1])
    assert accepted.status_code == 200, accepted.text
    assert len(stored(seeded)) == len(before) + 1
