"""The directory log: each change to the directory (an organisation added, a licence
changed, a user added) is recorded with who made it and when, in the change's own
transaction, hash-chained with its head; a refused change records nothing. ``audit
verify`` catches a hand edit of the log, the removal of its entries, and a hand edit of
the directory itself (a licence's expiry re-keyed so that a rule passes)."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow.domain.directory_log import entry_hash
from sopflow.errors import CommandRejected, InvalidData, NotFound, SopflowError
from sopflow.services import OrgInput, Services
from tests.integration import world as w
from tests.integration.conftest import Clock

pytestmark = pytest.mark.postgres

AGENCY = OrgInput("Nile Recruitment", "agency", "EG", "EG-LIC-0042", date(2027, 6, 30),
                  id="nile-agency")  # fmt: skip
AUTHORITY = OrgInput("Ministry of Labour", "authority", "EG", id="eg-mom")
AGENT = "agent@nile.example"
PASSWORD = "a long secret passphrase"


@pytest.fixture
def directory(services: Services, clock: Clock) -> Services:
    """alice adds an agency, bob suspends its licence an hour later, carol adds its agent an
    hour after that (with a password)."""
    services.directory.add_org(AGENCY, by="alice")
    clock.advance(hours=1)
    services.directory.set_licence("nile-agency", "suspended", by="bob")
    clock.advance(hours=1)
    services.directory.add_user(AGENT, "Amal Hassan", "nile-agency", ["employer_agent"], "ar",
                                PASSWORD, by="carol")  # fmt: skip
    return services


def sql(services: Services, statement: str, **params: Any) -> None:
    """A hand edit of the database, as someone with a SQL console would make it."""
    with services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def breaks(services: Services) -> list[tuple[str, int | None]]:
    return [(b.code, b.seq) for b in services.audit.verify().breaks]


def test_each_change_is_recorded_with_who_when_and_what(directory: Services,
                                                        clock: Clock) -> None:  # fmt: skip
    start = clock.now - timedelta(hours=2)

    entries = directory.directory_log.entries()

    assert [(e["seq"], e["at"], e["by"], e["action"], e["subject"]) for e in entries] == [
        (1, start, "alice", "organisation-added", "nile-agency"),
        (2, start + timedelta(hours=1), "bob", "licence-changed", "nile-agency"),
        (3, start + timedelta(hours=2), "carol", "user-added", AGENT)]  # fmt: skip
    assert entries[0]["change"] == {
        "name": "Nile Recruitment", "kind": "agency", "country": "EG",
        "licence_number": "EG-LIC-0042", "licence_status": "active",
        "licence_expires": "2027-06-30"}  # fmt: skip
    assert entries[1]["change"] == {
        "before": {"licence_status": "active", "licence_expires": "2027-06-30"},
        "after": {"licence_status": "suspended", "licence_expires": "2027-06-30"}}  # fmt: skip
    assert entries[1]["summary"] == "status active -> suspended, expires 2027-06-30 -> 2027-06-30"
    assert entries[2]["change"] == {
        "name": "Amal Hassan",
        "organisation": "nile-agency",
        "roles": ["employer_agent"],
        "locale": "ar",
        "active": True,
    }
    report = directory.audit.verify()
    assert report.intact, report.breaks
    assert report.directory_entries == 3


def test_no_password_hash_goes_into_the_log(directory: Services) -> None:
    with directory.ctx.store.read() as r:
        user = r.user(AGENT)
        log = json.dumps(r.all("SELECT * FROM directory_log"), default=str)
    assert user is not None and user["password_hash"]
    assert user["password_hash"] not in log and "argon2" not in log and PASSWORD not in log


def test_a_renewal_records_status_and_expiry_before_and_after(directory: Services,
                                                               clock: Clock) -> None:  # fmt: skip
    directory.directory.add_org(AUTHORITY, by="alice")
    clock.advance(days=1)

    directory.directory.set_licence("nile-agency", "active", date(2032, 6, 30), by="dora")

    renewal = directory.directory_log.entries()[-1]
    assert (renewal["by"], renewal["action"], renewal["at"]) == ("dora", "licence-changed",
                                                                 clock.now)  # fmt: skip
    assert renewal["summary"] == "status suspended -> active, expires 2027-06-30 -> 2032-06-30"
    # an organisation's entries are its own and its users'
    assert [e["action"] for e in directory.directory_log.entries("nile-agency")] == [
        "organisation-added", "licence-changed", "user-added", "licence-changed"]  # fmt: skip
    assert [e["subject"] for e in directory.directory_log.entries("eg-mom")] == ["eg-mom"]
    with pytest.raises(NotFound):
        directory.directory_log.entries("atlantis")
    assert directory.audit.verify().intact


REFUSALS = {
    "unknown organisation's licence": (NotFound, lambda d: d.set_licence("nope", "active")),
    "a status that is none": (InvalidData, lambda d: d.set_licence("nile-agency", "revoked")),
    "no one named": (InvalidData, lambda d: d.set_licence("nile-agency", "active", by=" ")),
    "an organisation twice": (CommandRejected, lambda d: d.add_org(AGENCY, by="alice")),
    "a user of no organisation": (NotFound, lambda d: d.add_user(
        "x@nowhere.example", "X", "nope", ["employer_agent"], by="alice")),
    "a user twice": (CommandRejected, lambda d: d.add_user(
        AGENT, "Amal", "nile-agency", ["employer_agent"], by="alice")),
    "a role the organisation can never use": (InvalidData, lambda d: d.add_user(
        "clerk@nile.example", "Clerk", "nile-agency", ["registry_clerk"], by="alice")),
}  # fmt: skip


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_change_writes_nothing_to_the_directory_or_its_log(
    directory: Services, refusal: tuple[type[SopflowError], Any]
) -> None:
    error, change = refusal
    before = w.footprint(directory)

    with pytest.raises(error):
        change(directory.directory)

    assert w.footprint(directory) == before
    assert directory.audit.verify().intact


def test_concurrent_licence_changes_each_record_the_licence_they_replaced(
    directory: Services, in_lockstep: Any
) -> None:
    """Two officials change the licence at once: the log serialises them, so the second's
    'before' is the first's 'after', not the licence both saw when they started."""
    in_lockstep(2)
    statuses = ("active", "cancelled")
    threads = [threading.Thread(target=directory.directory.set_licence,
                                args=("nile-agency", status), kwargs={"by": status})
               for status in statuses]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    first, second = (e["change"] for e in directory.directory_log.entries()[-2:])
    assert first["after"] == second["before"]
    assert {first["after"]["licence_status"], second["after"]["licence_status"]} == set(statuses)
    assert directory.audit.verify().intact


# -- tampering ----------------------------------------------------------------------------
def test_a_hand_edit_of_an_entry_is_caught(directory: Services) -> None:
    sql(directory, "UPDATE directory_log SET actor = 'mallory' WHERE seq = 2")

    report = directory.audit.verify()

    assert (report.breaks[0].code, report.breaks[0].seq) == ("directory-altered", 2)
    assert "entry #2 (licence-changed nile-agency)" in report.breaks[0].message
    assert report.to_dict()["first_break"]["code"] == "directory-altered"


def test_a_rewritten_change_is_caught_and_the_directory_no_longer_agrees(
    directory: Services,
) -> None:
    """The licence change rewritten to say it stayed active: the entry fails its hash, and
    the directory (suspended) is no longer what the log says."""
    with directory.ctx.store.read() as r:
        text = r.one("SELECT CAST(change AS TEXT) AS t FROM directory_log WHERE seq = 2")
    assert text is not None
    edited = text["t"].replace('"suspended"', '"active"')
    value = ":c" if directory.ctx.store.dialect == "sqlite" else "CAST(:c AS JSON)"
    sql(directory, f"UPDATE directory_log SET change = {value} WHERE seq = 2", c=edited)

    assert breaks(directory) == [("directory-altered", 2), ("directory-row-altered", 2)]


def test_deleting_the_newest_entry_is_caught_by_the_head(directory: Services) -> None:
    sql(directory, "DELETE FROM directory_log WHERE seq = 3")

    report = directory.audit.verify()

    assert breaks(directory) == [("directory-head-mismatch", 2), ("directory-unrecorded", None)]
    assert "ends at #2 but its head records #3" in report.breaks[0].message
    assert (
        f"user {AGENT} is in the directory but no directory log entry" in report.breaks[1].message
    )


def test_deleting_an_entry_in_the_middle_breaks_the_link(directory: Services) -> None:
    sql(directory, "DELETE FROM directory_log WHERE seq = 2")

    assert breaks(directory)[0] == ("directory-link-broken", 3)


def test_deleting_the_newest_entry_and_lowering_the_head_still_leaves_the_user_unrecorded(
    directory: Services,
) -> None:
    with directory.ctx.store.read() as r:
        second = r.one("SELECT hash FROM directory_log WHERE seq = 2")
    assert second is not None
    sql(directory, "DELETE FROM directory_log WHERE seq = 3")
    sql(directory, "UPDATE chain_head SET chain_seq = 2, chain_hash = :h WHERE id = 2",
        h=second["hash"])  # fmt: skip

    assert breaks(directory) == [("directory-unrecorded", None)]


def test_a_hand_edit_of_a_licence_expiry_is_caught(directory: Services) -> None:
    """The expiry re-keyed in the database so that agency_licence_valid would pass."""
    sql(directory, "UPDATE organisations SET licence_expires = :d WHERE id = 'nile-agency'",
        d=date(2031, 1, 1))  # fmt: skip

    report = directory.audit.verify()

    assert breaks(directory) == [("directory-row-altered", 2)]
    assert report.breaks[0].message == (
        'organisation nile-agency: licence_expires is "2031-01-01" in the directory, '
        '"2027-06-30" in the log (entry #2): changed outside sopflow')  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "found"),
    [
        ("UPDATE users SET roles = '[\"employer_agent\", \"director\"]'",
         [("directory-row-altered", 3)]),
        ("UPDATE organisations SET kind = 'authority'", [("directory-row-altered", 2)]),
        ("DELETE FROM users", [("directory-row-missing", 3)]),
        ("INSERT INTO organisations (id, name, kind, created_at) "
         "VALUES ('shadow', 'Shadow', 'agency', CURRENT_TIMESTAMP)",
         [("directory-unrecorded", None)]),
        ("DELETE FROM chain_head WHERE id = 2", [("directory-head-mismatch", 3)]),
    ],
    ids=["roles-added", "kind-changed", "user-deleted", "organisation-inserted", "head-deleted"],
)  # fmt: skip
def test_other_hand_edits_of_the_directory_are_caught(
    directory: Services, statement: str, found: list[tuple[str, int | None]]
) -> None:
    sql(directory, statement)

    assert breaks(directory) == found


def test_the_newest_entry_rewritten_with_its_hash_is_caught_by_the_head(
    directory: Services,
) -> None:
    with directory.ctx.store.read() as r:
        newest = r.one("SELECT * FROM directory_log WHERE seq = 3")
    assert newest is not None
    forged = entry_hash(3, newest["at"], "mallory", newest["action"], newest["subject"],
                        newest["change"], newest["prev_hash"])  # fmt: skip
    sql(directory, "UPDATE directory_log SET actor = 'mallory', hash = :h WHERE seq = 3", h=forged)

    report = directory.audit.verify()

    assert breaks(directory) == [("directory-head-mismatch", 3)]
    assert "ends at #3 as its head records, but not with its hash" in report.breaks[0].message
