"""Fixtures of the reliability suite: a migrated database per test (SQLite, or PostgreSQL when
SOPFLOW_TEST_DATABASE_URL is set), seeded services, the web application in-process."""

from __future__ import annotations

from tests.e2e.test_api import app_services, bearer, client, tokens  # noqa: F401  (fixtures)
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    _template,
    clock,
    database_url,
    in_lockstep,
    seeded,
    services,
    settings,
)
