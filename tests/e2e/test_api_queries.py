"""Reading through the HTTP API: list filters and query parameters refused precisely."""

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
from tests.integration import world
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    seeded,
    services,
    settings,
)


def test_a_list_filter_naming_no_sop_or_no_state_is_refused(api, tokens) -> None:
    file_eg(api, tokens)
    url, headers = "/api/v1/requests", auth(tokens, "agent")

    both = assert_problem(api.get(f"{url}?sop=nope&state=nope", headers=headers), 422,
                          "invalid-data")  # fmt: skip
    state = assert_problem(api.get(f"{url}?sop={world.EG}&state=attested", headers=headers),
                           422, "invalid-data")  # fmt: skip

    assert [(e["field"], e["code"]) for e in both["errors"]] == [
        ("sop", "not-in-enum"), ("state", "not-in-enum")]  # fmt: skip
    assert both["errors"][0]["message"].startswith("no SOP 'nope'; SOPs: ")
    assert world.EG in both["errors"][0]["params"]["allowed"]
    assert both["errors"][1]["message"].startswith("no SOP has a state 'nope'; states: ")
    assert state["errors"][0]["message"].startswith(f"SOP '{world.EG}' has no state 'attested'")
    listed = api.get(f"{url}?sop={world.EG}&state=attestation_review", headers=headers)
    assert listed.status_code == 200 and len(listed.json()) == 1


def test_a_query_parameter_a_path_does_not_take_is_refused_not_ignored(api, tokens) -> None:
    file_eg(api, tokens)
    headers = auth(tokens, "agent")

    misspelt = assert_problem(api.get("/api/v1/requests?stat=approved&stat=x&limit=5",
                                      headers=headers), 422, "invalid-data")  # fmt: skip
    stats = assert_problem(api.get("/api/v1/stats/placements?form=2026-01-01", headers=headers),
                           422, "invalid-data")  # fmt: skip
    sops = assert_problem(api.get("/api/v1/sops?verison=1"), 422, "invalid-data")

    assert [(e["field"], e["code"]) for e in misspelt["errors"]] == [("stat", "unknown-field")]
    assert "'stat' is not a parameter of this path" in misspelt["errors"][0]["message"]
    assert {"state", "sop", "limit", "offset"} <= set(misspelt["errors"][0]["params"]["allowed"])
    assert "from" in stats["errors"][0]["params"]["allowed"]  # a parameter by the name sent
    assert sops["errors"][0]["params"]["allowed"] == []
    assert api.get(f"/api/v1/requests?sop={world.EG}&limit=5", headers=headers).status_code == 200
    # the pages take what browsers and links add (a language, a tracking tag) and ignore it
    assert api.get("/?utm_source=mail").status_code == 200


def test_head_answers_as_get_without_the_body(api, tokens) -> None:
    ref = file_eg(api, tokens)["reference"]
    headers = auth(tokens, "agent")

    for path in (
        f"/api/v1/requests/{ref}",
        "/api/v1/requests",
        "/health",
        "/api/v1/sops",
        "/login",
    ):
        got, head = api.get(path, headers=headers), api.head(path, headers=headers)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-length"] == str(len(got.content))
        assert head.headers.get("etag") == got.headers.get("etag")
    assert api.head("/api/v1/requests/EG-2026-999999", headers=headers).status_code == 404
    assert api.head("/api/v1/requests").status_code == 401
