"""Signed-in sessions kept on the server: opened for a user, ended by signing out, by an
administrator or by time; a session long over is forgotten."""

from __future__ import annotations

import pytest

from sopflow.errors import NotFound
from sopflow.services import Services
from tests.integration.conftest import Clock
from tests.integration.world import email


def test_a_session_lives_until_it_is_ended_or_expires(seeded: Services, clock: Clock) -> None:
    agent = email("agent")
    token = seeded.sessions.open(agent)

    assert seeded.sessions.holder(token) == agent
    assert seeded.sessions.holder(token + "x") is None  # a forged or altered token
    assert seeded.sessions.holder(None) is None
    clock.advance(hours=8)
    assert seeded.sessions.holder(token) is None  # expired at 8 hours


def test_signing_out_ends_that_session_only(seeded: Services) -> None:
    agent = email("agent")
    here, there = seeded.sessions.open(agent), seeded.sessions.open(agent)

    seeded.sessions.close(here)
    seeded.sessions.close(here)  # twice: nothing more happens

    assert seeded.sessions.holder(here) is None
    assert seeded.sessions.holder(there) == agent


def test_only_a_known_active_user_gets_a_session(seeded: Services) -> None:
    with pytest.raises(NotFound):
        seeded.sessions.open("nobody@nowhere.example")


def test_sessions_long_over_are_forgotten_as_new_ones_begin(seeded: Services, clock: Clock) -> None:
    old = seeded.sessions.open(email("agent"))
    clock.advance(days=31)

    seeded.sessions.open(email("agent"))

    with seeded.ctx.store.read() as r:
        rows = r.all("SELECT created_at FROM web_sessions")
    assert [row["created_at"] for row in rows] == [clock.now]
    assert seeded.sessions.holder(old) is None
