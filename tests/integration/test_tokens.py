"""API tokens: they expire, their last use is kept, and they can be listed (never shown)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sopflow.errors import InvalidData
from sopflow.services import Services
from sopflow.services.tokens import DEFAULT_DAYS
from tests.integration.conftest import Clock
from tests.integration.world import email

AGENT = email("agent")


def test_a_token_expires_after_its_days(seeded: Services, clock: Clock) -> None:
    issued = seeded.tokens.create(AGENT, "nightly", days=7)

    assert issued.expires_at == clock.now + timedelta(days=7)
    assert seeded.tokens.authenticate(issued.token) is not None
    clock.advance(days=7)
    assert seeded.tokens.authenticate(issued.token) is None
    assert seeded.tokens.list(AGENT)[0]["status"] == "expired"


def test_a_token_lives_ninety_days_unless_told_otherwise(seeded: Services, clock: Clock) -> None:
    default = seeded.tokens.create(AGENT)
    forever = seeded.tokens.create(AGENT, days=None)

    clock.advance(days=DEFAULT_DAYS, seconds=1)

    assert seeded.tokens.authenticate(default.token) is None
    assert seeded.tokens.authenticate(forever.token) is not None


@pytest.mark.parametrize("days", [0, -1, 3651])
def test_a_token_s_lifetime_out_of_bounds_is_refused(seeded: Services, days: int) -> None:
    with pytest.raises(InvalidData) as refused:
        seeded.tokens.create(AGENT, days=days)

    assert refused.value.errors[0].code == "out-of-range"
    assert seeded.tokens.list() == []


def test_the_list_shows_each_token_s_state_and_last_use_never_the_token(
    seeded: Services, clock: Clock
) -> None:
    used = seeded.tokens.create(AGENT, "script")
    revoked = seeded.tokens.create(AGENT, "old")
    other = seeded.tokens.create(email("director"), "theirs")
    seeded.tokens.revoke(revoked.id)
    clock.advance(minutes=5)
    seeded.tokens.authenticate(used.token)

    mine = seeded.tokens.list(AGENT)

    assert [(t["id"], t["name"], t["status"]) for t in mine] == [
        (revoked.id, "old", "revoked"), (used.id, "script", "live")]  # fmt: skip
    assert mine[1]["last_used_at"] == clock.now and mine[0]["last_used_at"] is None
    assert mine[1]["prefix"] == used.token[:12] and "token_hash" not in mine[1]
    assert {t["id"] for t in seeded.tokens.list()} == {used.id, revoked.id, other.id}
