"""The HTTP API: bearer tokens, problem+json errors, and who may see and do what."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sopflow import bootstrap
from sopflow.services import Services
from sopflow.settings import Settings
from sopflow.web.app import create_app
from tests.integration import world
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    seeded,
    services,
    settings,
)


@pytest.fixture
def app_services(seeded: Services, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Services:
    """The seeded services as the process-wide ones, commands run without Prefect (its flows
    have their own tests: the same services, the same errors)."""
    off = settings.model_copy(update={"prefect_mode": "off"})
    monkeypatch.setattr(bootstrap, "settings", lambda: off)
    monkeypatch.setattr(bootstrap, "_services", seeded)
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "test-secret")
    return seeded


@pytest.fixture
def client(app_services: Services) -> Iterator[TestClient]:
    """The app on the test database."""
    with TestClient(create_app(app_services), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> TestClient:
    return client


@pytest.fixture
def tokens(app_services: Services) -> dict[str, str]:
    """A bearer token for every person of the test world."""
    return {who: app_services.tokens.create(p.email).token for who, p in world.PEOPLE.items()}


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}


auth = bearer


def b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


def documents(*kinds: str) -> list[dict[str, str]]:
    return [{"kind": k, "file_name": f"{k}.pdf", "content_base64": b64(world.pdf(k))}
            for k in kinds]  # fmt: skip


def file_eg(api: TestClient, tokens: dict[str, str], **headers: str) -> dict[str, Any]:
    response = api.post("/api/v1/requests", headers={**auth(tokens, "agent"), **headers}, json={
        "sop": world.EG, "data": world.eg_data(),
        "documents": documents(*world.EG_SUBMIT_DOCS)})  # fmt: skip
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


def test_no_token_or_a_bad_one_is_401(api: TestClient, tokens: dict[str, str]) -> None:
    missing = assert_problem(api.get("/api/v1/requests"), 401, "unauthorized")
    wrong = api.get("/api/v1/requests", headers={"Authorization": "Bearer sfp_nope"})
    assert_problem(wrong, 401, "unauthorized")
    assert "Bearer" in missing["detail"]
    # RFC 6750 §3.1: a token that was sent and is not good is named as such
    assert wrong.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_a_revoked_token_stops_working(api: TestClient, seeded: Services) -> None:
    issued = seeded.tokens.create(world.email("agent"))
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    seeded.tokens.revoke(issued.id)
    assert_problem(api.get("/api/v1/me", headers=headers), 401, "unauthorized")


def test_filing_a_request_answers_201_with_its_state_and_location(api, tokens) -> None:
    created = file_eg(api, tokens, **{"Idempotency-Key": "k-1"})
    headers = {**auth(tokens, "agent"), "Idempotency-Key": "k-1"}
    again = api.post("/api/v1/requests", headers=headers,
                     json={"sop": world.EG, "data": world.eg_data(),
                           "documents": documents(*world.EG_SUBMIT_DOCS)})  # fmt: skip

    assert created["state"] == "attestation_review" and created["reference"].startswith("EG-")
    assert again.status_code == 201 and again.json()["result"]["replayed"] is True
    assert again.json()["reference"] == created["reference"]


def test_actions_answer_with_the_new_state_and_refusals_are_precise(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    url = f"/api/v1/requests/{ref}/actions"

    not_allowed = assert_problem(api.post(f"{url}/register_demand", headers=auth(
        tokens, "registry_clerk"), json={}), 409, "trigger-not-allowed")  # fmt: skip
    assert "attest_demand" in not_allowed["allowed"]
    assert_problem(api.post(f"{url}/attest_demand", headers=auth(tokens, "agent"), json={}),
                   403, "role-forbidden")  # fmt: skip
    unmet = assert_problem(api.post(f"{url}/attest_demand", headers=auth(
        tokens, "labour_attache"), json={}), 409, "requirement-not-met")  # fmt: skip
    assert unmet["unmet"][0]["code"] == "missing-document"
    done = api.post(f"{url}/attest_demand", headers=auth(tokens, "labour_attache"),
                    json={"documents": documents("attestation")})  # fmt: skip
    assert done.status_code == 200 and done.json()["state"] == "demand_intake"
    assert done.headers["ETag"] == '"2"'


def test_a_stale_version_is_a_conflict_naming_the_current_state(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    api.post(f"/api/v1/requests/{ref}/actions/attest_demand", headers=auth(
        tokens, "labour_attache"), json={"documents": documents("attestation")})  # fmt: skip
    stale = api.post(f"/api/v1/requests/{ref}/actions/withdraw",
                     headers={**auth(tokens, "agent"), "If-Match": '"1"'}, json={})  # fmt: skip
    body = assert_problem(stale, 412, "conflict")  # RFC 9110: If-Match did not match
    assert body["state"] == "demand_intake" and body["version"] == 2 and body["expected"] == 1


def test_if_match_takes_a_star_and_refuses_weak_tags_and_lists(api, tokens) -> None:
    filed = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json={
        "sop": world.EG, "data": world.eg_data(),
        "documents": documents(*world.EG_SUBMIT_DOCS)})  # fmt: skip
    assert filed.status_code == 201 and filed.headers["ETag"] == '"1"'
    ref = filed.json()["reference"]
    for tag in ('W/"1"', '"1", "2"', "one"):
        refused = api.post(f"/api/v1/requests/{ref}/documents", json=documents("demand_letter"),
                           headers={**auth(tokens, "agent"), "If-Match": tag})  # fmt: skip
        problem = assert_problem(refused, 422, "invalid-data")
        assert problem["errors"][0]["field"] == "If-Match"
    added = api.post(f"/api/v1/requests/{ref}/documents", json=documents("demand_letter"),
                     headers={**auth(tokens, "agent"), "If-Match": "*"})  # fmt: skip
    assert added.status_code == 200 and added.headers["ETag"] == '"2"'
    stale = api.post(f"/api/v1/requests/{ref}/documents", json=documents("demand_letter"),
                     headers={**auth(tokens, "agent"), "If-Match": '"1"'})  # fmt: skip
    assert_problem(stale, 412, "conflict")


def test_lists_are_paged_with_a_total_and_links(api, tokens) -> None:
    refs = [file_eg(api, tokens)["reference"] for _ in range(3)]
    first = api.get("/api/v1/requests", params={"limit": 2}, headers=auth(tokens, "agent"))
    total = int(first.headers["X-Total-Count"])
    assert total >= 3 and len(first.json()) == 2
    assert 'rel="next"' in first.headers["Link"] and "offset=2" in first.headers["Link"]
    assert first.json()[0]["allowed_triggers"] == first.json()[0]["your_triggers"]
    last = api.get("/api/v1/requests", params={"limit": 2, "offset": total - 1},
                   headers=auth(tokens, "agent"))  # fmt: skip
    assert len(last.json()) == 1 and 'rel="prev"' in last.headers["Link"]
    assert 'rel="next"' not in last.headers["Link"]
    boxed = api.get("/api/v1/inbox", params={"limit": 1}, headers=auth(tokens, "labour_attache"))
    assert len(boxed.json()) == 1 and int(boxed.headers["X-Total-Count"]) >= len(refs)


def test_every_field_error_is_listed(api, tokens) -> None:
    bad = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json={
        "sop": world.EG, "data": world.eg_data(workers_requested="many", occupation="0000",
                                               destination_country="XX")})  # fmt: skip
    body = assert_problem(bad, 422, "invalid-data")
    assert {e["field"] for e in body["errors"]} >= {"workers_requested", "occupation",
                                                     "destination_country"}  # fmt: skip


def test_a_malformed_body_and_bad_documents_are_refused(api, tokens) -> None:
    unknown = api.post("/api/v1/requests", headers=auth(tokens, "agent"),
                       json={"sop": world.EG, "dta": {}})  # fmt: skip
    assert_problem(unknown, 422, "invalid-data")
    not_b64 = api.post(
        "/api/v1/requests",
        headers=auth(tokens, "agent"),
        json={
            "sop": world.EG,
            "data": world.eg_data(),
            "documents": [{"kind": "demand_letter", "file_name": "x.pdf", "content_base64": "@@"}],
        },
    )
    assert_problem(not_b64, 422, "invalid-data")
    not_json = api.post(
        "/api/v1/requests",
        content=b'{"sop": "eg", "data": {,}}',
        headers={**auth(tokens, "agent"), "Content-Type": "application/json"},
    )
    body = assert_problem(not_json, 422, "invalid-data")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("body", "body-unreadable")]
    assert "Expecting property name" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    ("body", "said"),
    [(b'{"sop": "eg", "sop": "tn"}', 'the key "sop" is given twice'),
     (b'{"sop": "eg", "data": {"workers_requested": NaN}}', "NaN is not a JSON number"),
     (b'{"sop": "eg", "data": {"workers_requested": 1e999}}', "1e999 is too large")],
)  # fmt: skip
def test_a_body_that_is_not_one_json_value_is_refused_not_guessed(
    api, tokens, body: bytes, said: str
) -> None:
    """As the CLI refuses them in a data file: no key chosen, no number made up."""
    headers = {**auth(tokens, "agent"), "Content-Type": "application/json"}
    answer = api.post("/api/v1/requests", content=body, headers=headers)
    problem = assert_problem(answer, 422, "invalid-data")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [("body", "body-unreadable")]
    assert said in problem["errors"][0]["message"]
    assert "character -1" not in problem["errors"][0]["message"]


def test_a_body_without_a_content_type_is_415(api, tokens) -> None:
    answer = api.post("/api/v1/requests", content=b'{"sop": "eg"}', headers=auth(tokens, "agent"))
    problem = assert_problem(answer, 415, "unsupported-media-type")
    assert "without a Content-Type" in problem["detail"]


def test_a_nul_character_in_data_or_comment_is_refused_on_every_database(api, tokens) -> None:
    answer = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json={
        "sop": world.EG, "data": world.eg_data(employer_name="Gulf\u0000Build"),
        "comment": "a\u0000b", "documents": documents(*world.EG_SUBMIT_DOCS)})  # fmt: skip
    problem = assert_problem(answer, 422, "invalid-data")
    assert {(e["field"], e["code"]) for e in problem["errors"]} >= {
        ("employer_name", "nul-character"), ("comment", "nul-character")}  # fmt: skip


def test_a_diagram_in_an_unknown_format_or_language_is_a_bad_value(api) -> None:
    answer = api.get(f"/api/v1/sops/{world.EG}/diagram", params={"format": "png", "locale": "de"})
    problem = assert_problem(answer, 422, "invalid-data")
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("format", "not-in-enum"), ("locale", "not-in-enum")]  # fmt: skip


def test_the_system_timers_are_not_listed_to_users(api, tokens, app_services: Services) -> None:
    reference = file_eg(api, tokens)["reference"]
    world.run(app_services, reference, world.eg_path_to("approve_demand"))  # an escalation
    shown = api.get(f"/api/v1/requests/{reference}", headers=auth(tokens, "agent")).json()
    sop = app_services.ctx.sops.pinned(shown["sop_id"], shown["sop_version"], shown["sop_hash"])
    system = {r.id for r in sop.spec.roles if r.kind == "system"}
    assert system and not system & set(shown["next_steps_by_role"])
    assert system & set(app_services.queries.show(reference, None)["next_steps_by_role"])


def test_an_oversized_document_is_413(api, tokens, seeded: Services) -> None:
    seeded.ctx.max_document_bytes = 1000
    big = api.post("/api/v1/requests", headers=auth(tokens, "agent"), json={
        "sop": world.EG, "data": world.eg_data(),
        "documents": [{"kind": "demand_letter", "file_name": "big.pdf",
                       "content_base64": b64(b"%PDF-1.4\n" + b"0" * 5000)}]})  # fmt: skip
    assert_problem(big, 413, "invalid-data")


def test_a_document_downloads_with_its_hash_for_those_who_may_see_it(api, tokens) -> None:
    created = file_eg(api, tokens)
    doc = created["documents"][0]
    url = f"/api/v1/requests/{created['reference']}/documents/{doc['sha256']}"

    mine = api.get(url, headers=auth(tokens, "agent"))
    theirs = api.get(url, headers=auth(tokens, "other_agent"))

    assert mine.status_code == 200 and mine.headers["X-Content-SHA256"] == doc["sha256"]
    assert hashlib.sha256(mine.content).hexdigest() == doc["sha256"]
    assert mine.content.startswith(b"%PDF")
    assert_problem(theirs, 404, "not-found")


def test_a_document_named_in_arabic_downloads_under_its_name(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    name = "سيرة ذاتية.pdf"
    doc = {"kind": "demand_letter", "file_name": name, "content_base64": b64(world.pdf("ar"))}
    added = api.post(f"/api/v1/requests/{ref}/documents", headers=auth(tokens, "agent"),
                     json=[doc])  # fmt: skip
    assert added.status_code == 200, added.text
    sha = next(d["sha256"] for d in added.json()["documents"] if d["file_name"] == name)

    got = api.get(f"/api/v1/requests/{ref}/documents/{sha}", headers=auth(tokens, "agent"))

    assert got.status_code == 200, got.text
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="') and disposition.isascii()
    assert disposition.endswith("filename*=UTF-8''%D8%B3%D9%8A%D8%B1%D8%A9%20%D8%B0%D8%A7%D8%AA"
                                "%D9%8A%D8%A9.pdf")  # fmt: skip


def test_replay_as_of_a_moment_without_its_zone_reads_it_as_utc(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    url = f"/api/v1/requests/{ref}/replay"
    for moment in ("2000-01-01", "2000-01-01T00:00:00"):
        before = api.get(f"{url}?as_of={moment}", headers=auth(tokens, "eg_auditor"))
        assert before.status_code == 200, before.text
        assert (
            before.json()["state"] is None and before.json()["as_of"] == "2000-01-01T00:00:00+00:00"
        )
    later = api.get(f"{url}?as_of=2999-01-01T00:00:00", headers=auth(tokens, "eg_auditor"))
    assert later.json()["state"] == "attestation_review" and later.json()["events_applied"] == 2


# -- who may see and do what ------------------------------------------------------------
READERS = {"agent", "labour_attache", "registry_clerk", "director", "eg_auditor"}
ACTORS_NOW = {
    "agent": "withdraw",
    "labour_attache": "attest_demand",
    "registry_clerk": "attest_demand",
}


def test_replay_names_the_events_it_has(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    url = f"/api/v1/requests/{ref}/replay"
    first = api.get(f"{url}?at_seq=1", headers=auth(tokens, "eg_auditor")).json()
    assert (first["state"], first["events_applied"], first["last_seq"]) == ("draft", 1, 2)
    beyond = api.get(f"{url}?at_seq=3", headers=auth(tokens, "eg_auditor"))
    body = assert_problem(beyond, 422, "invalid-data")
    assert f"request {ref} has events 1 to 2; there is no event 3" in body["detail"]


@pytest.mark.parametrize("who", sorted(world.PEOPLE))
def test_the_authorisation_matrix(api, tokens, who: str) -> None:
    ref = file_eg(api, tokens)["reference"]
    base = f"/api/v1/requests/{ref}"
    reads = [api.get(base, headers=auth(tokens, who)),
             api.get(f"{base}/history", headers=auth(tokens, who)),
             api.get(f"{base}/replay?at_seq=1", headers=auth(tokens, who))]  # fmt: skip
    listed = {r["reference"] for r in api.get("/api/v1/requests", headers=auth(tokens, who)).json()}
    sees = who in READERS or (
        world.PEOPLE[who].org == world.EG_AUTHORITY and who != "foreign_examiner"
    )
    if sees:
        assert all(r.status_code == 200 for r in reads), [r.text for r in reads]
        assert ref in listed
    else:  # another organisation, or an official of another authority: it does not exist
        for r in reads:
            assert_problem(r, 404, "not-found")
        assert ref not in listed
    trigger = ACTORS_NOW.get(who, "attest_demand")
    # each brings a document of a kind its role provides (the agent: its own papers)
    kind = "power_of_attorney" if who == "agent" else "attestation"
    action = api.post(f"{base}/actions/{trigger}", headers=auth(tokens, who),
                      json={"documents": documents(kind)})  # fmt: skip
    if who in ACTORS_NOW:
        assert action.status_code == 200, action.text
    elif sees:  # the auditor and officials without the step's role: refused, nothing changes
        assert_problem(action, 403, "role-forbidden")
    else:
        assert_problem(action, 404, "not-found")


def test_only_auditors_verify_the_chains(api, tokens) -> None:
    file_eg(api, tokens)
    assert api.get("/api/v1/audit/verify", headers=auth(tokens, "eg_auditor")).json()["intact"]
    assert_problem(api.get("/api/v1/audit/verify", headers=auth(tokens, "agent")), 403,
                   "forbidden")  # fmt: skip


def test_an_internal_error_never_shows_a_stack_trace(api, tokens, seeded, monkeypatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(seeded.queries, "inbox", broken)
    response = api.get("/api/v1/inbox", headers=auth(tokens, "agent"))
    body = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert body["detail"].startswith("an internal error")


def test_the_openapi_document_is_published(api) -> None:
    spec = api.get("/openapi.json").json()
    assert "/api/v1/requests/{reference}/actions/{trigger}" in spec["paths"]
    assert api.get("/docs").status_code == 200


@pytest.mark.parametrize(("name", "header"), [
    ("cv.pdf", 'attachment; filename="cv.pdf"'),
    ('a"b\r\nSet-Cookie: x.pdf', 'attachment; filename="ab Set-Cookie: x.pdf"'),
    ("é.pdf", "attachment; filename=\"_.pdf\"; filename*=UTF-8''%C3%A9.pdf"),
    ('""', 'attachment; filename="document"'),
])  # fmt: skip
def test_a_download_is_named_safely_whatever_the_file_name(name: str, header: str) -> None:
    from sopflow.web.files import attachment

    assert attachment(name) == header


def test_adding_no_document_is_refused_and_records_nothing(api, tokens) -> None:
    created = file_eg(api, tokens)
    url = f"/api/v1/requests/{created['reference']}"

    refused = api.post(f"{url}/documents", headers=auth(tokens, "agent"), json=[])

    body = assert_problem(refused, 422, "invalid-data")
    assert body["errors"][0]["code"] == "no-documents"
    assert api.get(url, headers=auth(tokens, "agent")).json()["version"] == created["version"]


def test_an_empty_idempotency_key_is_refused_rather_than_ignored(api, tokens) -> None:
    empty = api.post("/api/v1/requests", headers={**auth(tokens, "agent"), "Idempotency-Key": ""},
                     json={"sop": world.EG, "data": world.eg_data()})  # fmt: skip

    body = assert_problem(empty, 422, "invalid-data")
    assert body["errors"][0]["field"] == "Idempotency-Key"  # a header by its name, as sent
    assert body["errors"][0]["code"] == "too-short"


def test_a_method_a_path_does_not_take_names_every_method_it_does(api, tokens) -> None:
    refused = api.delete("/api/v1/requests", headers=auth(tokens, "agent"))

    assert_problem(refused, 405, "method-not-allowed")
    assert refused.headers["Allow"] == "GET, HEAD, POST"


def test_the_list_gives_each_state_in_every_language(api, tokens) -> None:
    file_eg(api, tokens)

    listed = api.get("/api/v1/requests", headers=auth(tokens, "agent")).json()

    assert listed[0]["state_label"] == listed[0]["state_labels"]["en"]
    assert set(listed[0]["state_labels"]) == {"en", "fr", "ar"}


def test_a_requesters_api_history_carries_no_notices(api, tokens) -> None:
    """Who was notified, at which address, and the provider's ids and errors are for
    officials and auditors (as on the request page): the requester's history has none."""
    ref = file_eg(api, tokens)["reference"]
    url = f"/api/v1/requests/{ref}/history"

    mine = api.get(url, headers=auth(tokens, "agent"))
    audited = api.get(url, headers=auth(tokens, "eg_auditor")).json()

    assert mine.status_code == 200
    assert [e["notices"] for e in mine.json()["events"]] == [[], []]
    notified = {n["recipient"] for e in audited["events"] for n in e["notices"]}
    assert world.email("registry_clerk") in notified  # an official, notified of the filing
    assert world.email("registry_clerk") not in mine.text
    assert "provider_message_id" not in mine.text
    assert [e["actor"] for e in mine.json()["events"]] == [
        e["actor"] for e in audited["events"]
    ]  # the steps as the page shows them: who did each
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    notices = schemas["HistoryEvent"]["properties"]["notices"]
    assert notices["items"] == {"$ref": "#/components/schemas/HistoryNotice"}
    assert "A requester's history lists none" in notices["description"]
    assert "recipient" in schemas["HistoryNotice"]["properties"]
