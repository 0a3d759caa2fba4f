"""A step's licence grounds against the directory log's timeline: which licence the agency
held at the step's moment, with the few minutes a command may read the directory after it
took its time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sopflow.domain.grounds_check import ReliedOn, grounds_breaks, licence_grounds

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
FIVE_MINUTES = timedelta(minutes=5)
ACTIVE = {"licence_number": "EG-1", "licence_status": "active", "licence_expires": "2027-01-31"}
SUSPENDED = {**ACTIVE, "licence_status": "suspended"}


def stored(moment: datetime) -> str:
    """An entry's ``at`` as SQLite keeps it."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def relied(at: datetime, status: str = "active", agency: str = "nile") -> ReliedOn:
    ground = {"rule": "agency_licence_valid", "agency": agency, "licence": "EG-1",
              "status": status, "expires": "2027-01-31"}  # fmt: skip
    return ReliedOn("EG-2026-000001", 2, at, ground)


TIMELINE: dict[str, list[tuple[Any, dict[str, Any]]]] = {
    "nile": [(stored(T0), ACTIVE), (stored(T0 + timedelta(days=10)), SUSPENDED)]
}


def codes(*steps: ReliedOn) -> list[str]:
    return [b.code for b in grounds_breaks(steps, TIMELINE, FIVE_MINUTES)]


def test_grounds_that_are_the_licence_held_then_hold() -> None:
    assert not codes(relied(T0 + timedelta(days=1)))
    assert not codes(relied(T0 + timedelta(days=11), "suspended"))


def test_grounds_of_another_moment_are_unsupported() -> None:
    assert codes(relied(T0 + timedelta(days=11))) == ["grounds-unsupported"]  # suspended then
    assert codes(relied(T0 - timedelta(days=1))) == ["grounds-unsupported"]  # not yet recorded


def test_a_change_within_minutes_of_the_step_may_have_come_before_or_after_its_read() -> None:
    change = T0 + timedelta(days=10)
    for step in (change - timedelta(minutes=4), change + timedelta(minutes=4)):
        assert not codes(relied(step, "active")) and not codes(relied(step, "suspended"))
    assert codes(relied(change + timedelta(minutes=6), "active")) == ["grounds-unsupported"]


def test_the_break_names_the_step_what_it_relied_on_and_what_the_log_held() -> None:
    (found,) = grounds_breaks([relied(T0 + timedelta(days=11))], TIMELINE, FIVE_MINUTES)

    assert (found.reference, found.seq) == ("EG-2026-000001", 2)
    assert found.message.startswith(
        "request EG-2026-000001 seq 2: agency_licence_valid relied on nile's licence EG-1, "
        "active, expires 2027-01-31, but the directory log held licence EG-1, suspended, "
        "expires 2027-01-31 then (2026-03-12T09:00:00.000000Z)"
    )


def test_an_agency_the_log_never_held_is_said_so() -> None:
    (found,) = grounds_breaks([relied(T0, agency="ghost")], TIMELINE, FIVE_MINUTES)

    assert "the directory log held no organisation ghost then" in found.message


def test_only_grounds_naming_an_agencys_licence_are_held_against_the_log() -> None:
    payload = {"grounds": [
        {"rule": "renewal_allowed_once", "prior_contracts": 1, "prior_renewals": 0},
        {"rule": "agency_licence_valid", "agency": "nile", "licence": "EG-1",
         "status": "active", "expires": "2027-01-31"},
        "not an object",
    ]}  # fmt: skip

    found = licence_grounds("EG-2026-000001", 2, T0, payload)

    assert [g.ground["rule"] for g in found] == ["agency_licence_valid"]
    assert licence_grounds("EG-2026-000001", 1, T0, None) == []
