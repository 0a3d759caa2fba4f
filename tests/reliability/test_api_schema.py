"""schemathesis against the API's own OpenAPI document, in-process (ASGI), with bearer
tokens so that the authenticated operations are exercised: no answer is a 5xx, and every
answer of ``/api/v1`` has a documented status, content type and body schema (positive
cases: valid inputs; negative cases: inputs the schema forbids, which must be refused)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from sopflow.services import Services
from sopflow.web.app import create_app
from tests.e2e.test_api import bearer
from tests.integration import world
from tests.reliability.scale import SCALE, record, scaled

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CATALOGUE = CONFORMANCE


def fuzz(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    checks: list[Callable[..., Any]],
    examples: int,
) -> int:
    """Send ``examples`` generated cases to one operation, checking each answer."""
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def call(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(headers=headers, checks=checks)

    try:
        call()
    except Unsatisfiable:  # nothing of this operation can be negated (no parameters)
        return 0
    return sent


def run_schemathesis(
    services: Services,
    tokens: dict[str, str],
    people: list[str],
    examples: int,
    modes: list[GenerationMode],
) -> dict[str, Any]:
    """Every operation of the OpenAPI document, ``examples`` cases per mode and person;
    the failures by operation and how many cases were sent."""
    world.submit_eg(services)  # something to find, show and act on
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(services))
    failures: dict[str, str] = {}
    sent = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        checks = CONFORMANCE if operation.path.startswith("/api/v1") else CATALOGUE
        for mode in modes:
            for who in people:
                try:
                    sent += fuzz(operation, mode, bearer(tokens, who), checks, examples)
                except (Exception, BaseExceptionGroup) as exc:
                    failures[f"{operation.label} [{mode.value}, {who}]"] = str(exc)[:2000]
    return {"failures": failures, "sent": sent, "operations": len(list(schema))}


def test_the_api_answers_as_its_openapi_says_and_never_5xx(
    app_services: Services, tokens: dict[str, str]
) -> None:
    outcome = run_schemathesis(
        app_services, tokens, ["agent"], 25, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    )
    record("schemathesis", sent=outcome["sent"], failures=len(outcome["failures"]))
    assert not outcome["failures"], "\n\n".join(f"{k}: {v}" for k, v in outcome["failures"].items())
    assert outcome["sent"] > 100


@pytest.mark.soak
def test_soak_the_api_against_its_openapi_as_every_kind_of_user(
    app_services: Services, tokens: dict[str, str]
) -> None:
    people = [
        "agent",
        "labour_attache",
        "registry_clerk",
        "eg_auditor",
        "other_agent",
        "enterprise",
    ][: 2 if SCALE < 0.5 else None]
    outcome = run_schemathesis(
        app_services,
        tokens,
        people,
        scaled(50, 10),
        [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    )
    record("schemathesis-soak", sent=outcome["sent"], failures=len(outcome["failures"]))
    assert not outcome["failures"], "\n\n".join(f"{k}: {v}" for k, v in outcome["failures"].items())
