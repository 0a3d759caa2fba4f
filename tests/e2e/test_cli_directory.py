"""The directory's changes through the ``sopflow`` command: each recorded with who made it
(``--by``, else SOPFLOW_OPERATOR, else the login name), read back with ``sopflow audit
directory``, and a hand edit of a licence caught by ``sopflow audit verify``."""

from __future__ import annotations

import getpass

import pytest
import sqlalchemy as sa

from sopflow.store.db import make_engine
from tests.e2e.conftest import Sopflow

AGENCY = ("org", "add", "Nile Recruitment", "--kind", "agency", "--country", "EG",
          "--licence", "RA-2024-117", "--licence-expires", "2030-06-30")  # fmt: skip
AGENT = ("user", "add", "amal@nile.example", "--name", "Amal", "--org", "nile-recruitment",
         "--role", "employer_agent")  # fmt: skip


def test_the_log_says_who_changed_what_and_when(
    sopflow: Sopflow, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = sopflow
    monkeypatch.delenv("SOPFLOW_OPERATOR", raising=False)  # whatever the shell running us sets
    cli.ok(*AGENCY, "--by", "alice")
    cli.ok("org", "licence", "nile-recruitment", "--status", "suspended", "--by", "bob")
    cli.env["SOPFLOW_OPERATOR"] = "carol"
    cli.ok(*AGENT)
    del cli.env["SOPFLOW_OPERATOR"]
    cli.ok("org", "licence", "nile-recruitment", "--status", "active", "--expires", "2035-06-30")

    lines = cli.ok("audit", "directory").out.splitlines()
    listed = cli.ok("audit", "directory", "--org", "nile-recruitment", "--json").json()

    assert [line.split("  ", 1)[1] for line in lines] == [
        "alice  organisation-added  nile-recruitment  agency Nile Recruitment (EG), licence "
        "RA-2024-117 active, expires 2030-06-30",
        "bob  licence-changed  nile-recruitment  status active -> suspended, expires "
        "2030-06-30 -> 2030-06-30",
        "carol  user-added  amal@nile.example  Amal at nile-recruitment, roles employer_agent, "
        "locale en",
        f"{getpass.getuser()}  licence-changed  nile-recruitment  status suspended -> active, "
        "expires 2030-06-30 -> 2035-06-30"]  # fmt: skip
    assert all(line[:23].endswith(" UTC") for line in lines)  # "2026-12-07 09:12:03 UTC"
    assert [(e["seq"], e["by"], e["action"]) for e in listed] == [
        (1, "alice", "organisation-added"), (2, "bob", "licence-changed"),
        (3, "carol", "user-added"), (4, getpass.getuser(), "licence-changed")]  # fmt: skip
    assert listed[1]["change"]["before"] == {"licence_status": "active",
                                             "licence_expires": "2030-06-30"}  # fmt: skip
    assert "directory log: 4 entries" in cli.ok("audit", "verify").out


def test_a_hand_edit_of_a_licence_expiry_fails_verify(sopflow: Sopflow, database_url: str) -> None:
    sopflow.ok(*AGENCY, "--by", "alice")
    sopflow.ok("org", "licence", "nile-recruitment", "--status", "suspended", "--by", "bob")
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE organisations SET licence_expires = '2031-01-01'"))
    engine.dispose()

    text = sopflow.fails(1, "audit", "verify")
    found = sopflow.fails(1, "audit", "verify", "--json").json()

    assert ("first: organisation nile-recruitment: licence_expires is \"2031-01-01\" in the "
            "directory, \"2030-06-30\" in the log (entry #2)") in text.err  # fmt: skip
    assert (found["first_break"]["code"], found["first_break"]["seq"]) == (
        "directory-row-altered", 2)  # fmt: skip


def test_who_makes_a_change_must_be_named(sopflow: Sopflow) -> None:
    empty = sopflow.fails(2, *AGENCY, "--by", "")
    unknown = sopflow.fails(1, "audit", "directory", "--org", "atlantis")

    assert "say who makes the change" in empty.err
    assert "no organisation 'atlantis'" in unknown.err
    assert sopflow.ok("audit", "directory", "--json").json() == []
