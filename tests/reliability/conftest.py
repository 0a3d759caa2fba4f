"""Fixtures of the reliability suite: a migrated database per test (SQLite, or PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set), seeded services, the web application in-process."""

from __future__ import annotations

from collections.abc import Iterator

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
    in_lockstep,
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
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "reliability-secret")
    return seeded


@pytest.fixture
def client(app_services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(app_services), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def tokens(app_services: Services) -> dict[str, str]:
    """A bearer token for every person of the test world."""
    return {who: app_services.tokens.create(p.email).token for who, p in world.PEOPLE.items()}


def bearer(tokens: dict[str, str], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[who]}"}
