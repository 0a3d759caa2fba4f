"""The API's OpenAPI document: bearer authentication declared (so /docs and generated
clients send the token), and the responses it declares are the ones given."""

from __future__ import annotations

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


def test_the_schema_declares_bearer_authentication_not_a_header_parameter(api) -> None:
    spec = api.get("/openapi.json").json()

    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer",
        "description": "A token from `sopflow token create --as EMAIL`."}  # fmt: skip
    operation = spec["paths"]["/api/v1/requests"]["get"]
    assert operation["security"] == [{"bearer": []}]
    assert all(p["name"].lower() != "authorization" for p in operation.get("parameters", []))


def test_without_a_token_the_refusal_is_still_our_401(api, tokens) -> None:
    for headers in ({}, {"Authorization": "Basic eDp5"}, {"Authorization": "Bearer "}):
        refused = api.get("/api/v1/requests", headers=headers)
        body = assert_problem(refused, 401, "unauthorized")
        assert refused.headers["WWW-Authenticate"] == "Bearer" and "Bearer" in body["detail"]


def test_state_labels_and_triggers_are_the_same_in_the_list_the_inbox_and_the_view(
    api, tokens
) -> None:
    created = file_eg(api, tokens)
    ref = created["reference"]
    listed = api.get("/api/v1/requests", headers=auth(tokens, "agent")).json()[0]
    inbox = api.get("/api/v1/inbox", headers=auth(tokens, "labour_attache")).json()
    shown = api.get(f"/api/v1/requests/{ref}", headers=auth(tokens, "agent")).json()
    boxed = next(item for item in inbox if item["reference"] == ref)

    for answer in (created, listed, boxed, shown):
        assert answer["state_label"] == "Attestation of the demand"
        assert set(answer["state_labels"]) == {"en", "fr", "ar"}
        assert answer["state_labels"]["en"] == answer["state_label"]
    assert listed["your_triggers"] == ["withdraw"] and "attest_demand" in boxed["allowed_triggers"]
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert "your_triggers" in schemas["RequestSummary"]["properties"]
    assert "allowed_triggers" in schemas["InboxItem"]["properties"]
    assert schemas["RequestView"]["properties"]["state_label"]["type"] == "string"


def test_moments_are_declared_as_date_times(api) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]

    assert schemas["RequestView"]["properties"]["created_at"] == {
        "type": "string", "format": "date-time", "title": "Created At"}  # fmt: skip
    deadline = schemas["RequestView"]["properties"]["deadline"]["anyOf"]
    assert {"type": "string", "format": "date-time"} in deadline
    assert schemas["HistoryEvent"]["properties"]["at"]["format"] == "date-time"


def test_the_catalogue_is_under_v1_and_its_first_address_still_answers(api) -> None:
    spec = api.get("/openapi.json").json()

    assert api.get("/api/v1/sops").json() == api.get("/api/sops").json()
    assert spec["paths"]["/api/sops/{sop_id}"]["get"]["deprecated"] is True
    assert "deprecated" not in spec["paths"]["/api/v1/sops/{sop_id}"]["get"]
