"""``sopflow token``: create with a lifetime, list without ever showing a token, revoke."""

from __future__ import annotations

import json

from tests.e2e.conftest import Sopflow
from tests.e2e.test_cli_lifecycle import create_directory
from tests.integration.world import email

AGENT = email("agent")


def test_tokens_are_created_with_a_lifetime_listed_and_revoked(sopflow: Sopflow) -> None:
    create_directory(sopflow)
    made = sopflow.ok("token", "create", "--as", AGENT, "--name", "nightly", "--days", "7")
    sopflow.ok("token", "create", "--as", email("director"), "--never-expires")
    token_id = made.err.split()[1]

    listed = json.loads(sopflow.ok("token", "list", "--as", AGENT, "--json").out)
    table = sopflow.ok("token", "list").out
    sopflow.ok("token", "revoke", token_id)
    after = json.loads(sopflow.ok("token", "list", "--as", AGENT, "--json").out)

    assert made.out.strip().startswith("sfp_") and "valid until" in made.err
    assert [(str(t["id"]), t["name"], t["status"]) for t in listed] == [(token_id, "nightly",
                                                                        "live")]  # fmt: skip
    assert made.out.strip() not in table and "nightly" in table and email("director") in table
    assert after[0]["status"] == "revoked"


def test_a_lifetime_out_of_bounds_is_a_usage_error(sopflow: Sopflow) -> None:
    create_directory(sopflow)

    refused = sopflow.fails(2, "token", "create", "--as", AGENT, "--days", "0")

    assert "--days" in refused.err
    assert json.loads(sopflow.ok("token", "list", "--json").out) == []
