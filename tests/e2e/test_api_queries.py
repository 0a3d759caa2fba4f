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
