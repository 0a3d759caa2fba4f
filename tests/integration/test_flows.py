"""The Prefect flows around the services: every command as a flow run that the event log
names, batches that apply each command once, the SLA sweep, and the audits with their
artifacts; and ``workflows.client.run_command`` giving the same result with or without
Prefect. One Prefect test harness (a temporary API server) serves the whole session."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.errors import AdapterError, CommandRejected, Conflict, InvalidData, NotFound
from sopflow.services import CommandResult, Services
from sopflow.store.blobs import Upload
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.integration.world import email
from workflows import client
from workflows.runtime import QUIET, quiet_runs

AUDITOR = email("eg_auditor")
YEAR = 2026  # the year of the ``clock`` fixture: references are EG-2026-000001, …


# -- Prefect and the services the flows see ----------------------------------------------
@pytest.fixture(scope="session")
def prefect_api() -> Iterator[None]:
    """One temporary Prefect API for the whole session (~6 s to start), quiet, no telemetry."""
    with pytest.MonkeyPatch.context() as env:
        for key, value in QUIET.items():
            if key not in os.environ:
                env.setenv(key, value)
        from prefect.testing.utilities import prefect_test_harness

        with prefect_test_harness(server_startup_timeout=120):
            yield


@pytest.fixture
def flows(prefect_api: None, seeded: Services) -> Iterator[Services]:
    """The flows run against this test's database (``bootstrap.services()`` is what they
    call), in-process with heartbeats off; the world's organisations and users exist."""
    previous = bootstrap._services
    bootstrap._services = seeded
    try:
        with quiet_runs():
            yield seeded
    finally:
        bootstrap._services = previous


def run_id(state: Any) -> str:
    return str(state.state_details.flow_run_id)


def outcome(state: Any) -> dict[str, Any]:
    from workflows.flows import outcome_of

    return outcome_of(state)


def stored(services: Services, *kinds: str) -> list[dict[str, str]]:
    """Documents put in the document store first, as references for a command's JSON."""
    refs = []
    for kind in kinds:
        kept = services.ctx.blobs.put(Upload(kind, f"{kind}.pdf", w.pdf(kind)))
        refs.append({"kind": kind, "file_name": kept.file_name, "sha256": kept.sha256})
    return refs


def submit_eg(services: Services, key: str | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "command": "submit",
        "as": email("agent"),
        "sop": w.EG,
        "data": w.eg_data(**changes),
        "documents": stored(services, *w.EG_SUBMIT_DOCS),
        "idempotency_key": key,
    }


def submit_tn(services: Services, key: str | None = None) -> dict[str, Any]:
    return {
        "command": "submit",
        "as": email("enterprise"),
        "sop": w.TN,
        "data": w.tn_data(),
        "documents": stored(services, *w.TN_SUBMIT_DOCS),
        "idempotency_key": key,
    }


def act(services: Services, reference: str, step: w.Step, key: str | None = None) -> dict[str, Any]:
    return {
        "command": "act",
        "as": email(step.who),
        "reference": reference,
        "trigger": step.trigger,
        "data": step.data,
        "comment": step.comment,
        "reason": step.reason,
        "documents": stored(services, *step.documents),
        "idempotency_key": key,
    }


def events(services: Services, reference: str) -> list[dict[str, Any]]:
    with services.ctx.store.read() as r:
        row = r.request(reference)
        assert row is not None, f"no request {reference}"
        return r.events_of(row["id"])


def state_of(services: Services, reference: str) -> str:
    with services.ctx.store.read() as r:
        row = r.request(reference)
    assert row is not None
    return str(row["state"])


def sql(services: Services, statement: str, **params: Any) -> None:
    """A hand edit of the database, as someone with a SQL console would make it."""
    with services.ctx.store.engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def prefect_client() -> Any:
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


# -- advance_request ---------------------------------------------------------------------
def test_a_command_runs_as_a_flow_run_whose_id_the_events_record(flows: Services) -> None:
    from workflows.flows import advance_request

    filed = advance_request(submit_eg(flows), return_state=True)

    assert filed.is_completed(), filed.message
    result = outcome(filed)["result"]
    assert (result["reference"], result["trigger"], result["state"], result["seq"]) == (
        f"EG-{YEAR}-000001",
        "submit",
        "attestation_review",
        2,
    )
    assert [(e["trigger"], e["flow_run_id"]) for e in events(flows, result["reference"])] == [
        ("create", run_id(filed)),
        ("submit", run_id(filed)),
    ]

    attested = advance_request(
        act(flows, result["reference"], w.eg_step("attest_demand")), return_state=True
    )

    assert attested.is_completed(), attested.message
    assert outcome(attested)["result"]["state"] == "demand_intake"
    last = events(flows, result["reference"])[-1]
    assert (last["trigger"], last["flow_run_id"]) == ("attest_demand", run_id(attested))
    assert run_id(attested) != run_id(filed)


@pytest.fixture
def in_intake(flows: Services) -> str:
    """An Egyptian demand waiting in ``demand_intake`` (filed and attested, no flow runs)."""
    ref = w.submit_eg(flows).reference
    w.run(flows, ref, w.eg_path_to("register_demand"))
    return ref


REJECTIONS: dict[str, tuple[Callable[[Services, str], dict[str, Any]], dict[str, Any]]] = {
    "role-forbidden": (
        lambda s, ref: act(
            s, ref, w.step("employment_officer", "register_demand", demand_register_number="DR-1")
        ),
        {"code": "role-forbidden", "roles": ["registry_clerk"], "trigger": "register_demand"},
    ),
    "trigger-not-allowed": (
        lambda s, ref: act(s, ref, w.step("director", "approve_demand")),
        {
            "code": "trigger-not-allowed",
            "state": "demand_intake",
            "allowed": ["reject"],  # what the director may do there; not the clerk's steps
        },
    ),
    "not-found": (
        lambda s, ref: act(s, "EG-2026-000999", w.eg_step("register_demand")),
        {"code": "not-found", "message": "no request 'EG-2026-000999'"},
    ),
}


@pytest.mark.parametrize("rejection", list(REJECTIONS))
def test_a_rejected_command_is_a_rejected_run_with_the_precise_error(
    flows: Services, in_intake: str, rejection: str
) -> None:
    from workflows.flows import advance_request

    command, expected = REJECTIONS[rejection]
    before = w.footprint(flows)

    state = advance_request(command(flows, in_intake), return_state=True)

    assert state.is_completed() and state.name == "Rejected"
    error = outcome(state)["error"]
    assert {k: error[k] for k in expected} == expected, error
    assert w.footprint(flows) == before


def test_a_rejected_command_is_not_retried(flows: Services, in_intake: str) -> None:
    """A rejection is final (retrying cannot change it); only a retryable adapter error is
    worth another attempt of the run."""
    from workflows.flows import advance_request

    state = advance_request(
        act(flows, in_intake, w.step("director", "approve_demand")), return_state=True
    )

    assert state.is_completed() and state.name == "Rejected"
    with prefect_client() as api:
        assert api.read_flow_run(state.state_details.flow_run_id).run_count == 1


def test_invalid_request_data_is_refused_by_the_run_listing_every_field(flows: Services) -> None:
    from workflows.flows import advance_request

    before = w.footprint(flows)
    bad = submit_eg(
        flows,
        employer_country="XX",
        workers_requested="twenty",
        contact_email="demands at redsea",
        colour="blue",
    )

    state = advance_request(bad, return_state=True)

    assert state.is_completed() and state.name == "Rejected"
    error = outcome(state)["error"]
    assert error["code"] == "invalid-data"
    assert sorted((e["field"], e["code"]) for e in error["errors"]) == [
        ("colour", "unknown-field"),
        ("contact_email", "invalid-email"),
        ("employer_country", "invalid-country"),
        ("workers_requested", "wrong-type"),
    ]
    assert w.footprint(flows) == before


def test_a_malformed_command_is_refused_by_the_run_listing_every_problem(flows: Services) -> None:
    from workflows.flows import advance_request

    malformed = {
        "command": "act",
        "as": "x",
        "trigger": "register_demand",
        "colour": "blue",
        "documents": [{"kind": "attestation", "sha256": "not-a-digest"}],
    }

    state = advance_request(malformed, return_state=True)

    assert state.is_completed() and state.name == "Rejected"
    error = outcome(state)["error"]
    assert error["code"] == "invalid-data"
    assert sorted(e["field"] for e in error["errors"]) == [
        "act.as",
        "act.colour",
        "act.documents.0.sha256",
        "act.reference",
    ]


# -- process_commands --------------------------------------------------------------------
def mixed_batch(services: Services) -> list[tuple[int, dict[str, Any]]]:
    """Seven lines as the importer prepares them (each with its idempotency key): two
    filings and steps on them, a refused step in the middle, a line that is not a command."""
    eg, tn = f"EG-{YEAR}-000001", f"TN-{YEAR}-000001"
    return [
        (1, submit_eg(services, key="batch:1")),
        (2, submit_tn(services, key="batch:2")),
        (3, act(services, eg, w.eg_step("attest_demand"), key="batch:3")),
        (4, act(services, eg, w.step("other_agent", "attach"), key="batch:4")),  # not hers
        (5, {"command": "invalid", "error": "Expecting value at column 1"}),  # bad JSON line
        (6, act(services, eg, w.eg_step("register_demand"), key="batch:6")),
        (7, act(services, tn, w.tn_step("accept_filing"), key="batch:7")),
    ]


def test_a_batch_applies_every_good_line_and_reports_each_bad_one(flows: Services) -> None:
    from workflows.flows import process_commands

    state = process_commands(mixed_batch(flows), chunk_size=2, return_state=True)

    assert state.is_completed(), state.message
    summary = outcome(state)["result"]
    assert (summary["commands"], summary["applied"], summary["already_applied"]) == (7, 5, 0)
    assert [(f["line"], f["error"]["code"]) for f in summary["failed"]] == [
        (4, "not-found"),
        (5, "invalid-data"),
    ]
    assert "line 5" in summary["failed"][1]["error"]["message"]
    eg, tn = f"EG-{YEAR}-000001", f"TN-{YEAR}-000001"
    assert (state_of(flows, eg), state_of(flows, tn)) == ("demand_under_review", "examination")
    for ref in (eg, tn):  # every event names the one batch run
        assert {e["flow_run_id"] for e in events(flows, ref)} == {run_id(state)}


def test_running_the_same_batch_again_applies_nothing(flows: Services) -> None:
    from workflows.flows import process_commands

    lines = mixed_batch(flows)
    first = outcome(process_commands(lines, chunk_size=3, return_state=True))["result"]
    after_first = w.footprint(flows)

    again = process_commands(lines, chunk_size=3, return_state=True)

    summary = outcome(again)["result"]
    assert (summary["commands"], summary["applied"], summary["already_applied"]) == (7, 0, 5)
    assert [f["line"] for f in summary["failed"]] == [f["line"] for f in first["failed"]]
    assert w.footprint(flows) == after_first
    assert w.event_count(flows) == after_first["counts"]["events"]


def test_a_batch_that_fails_midway_keeps_what_it_committed_and_resumes(
    flows: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workflows import commands
    from workflows.flows import process_commands

    lines = mixed_batch(flows)
    real_apply = commands.apply

    def failing_on_line_6(services: Services, spec: Any, flow_run_id: str | None = None) -> Any:
        if spec.idempotency_key == "batch:6":
            raise RuntimeError("the database went away")  # not a rejection: the run fails
        return real_apply(services, spec, flow_run_id)

    monkeypatch.setattr(commands, "apply", failing_on_line_6)
    crashed = process_commands(lines, chunk_size=2, return_state=True)

    assert crashed.is_failed()
    assert outcome(crashed)["error"]["code"] == "flow-failed"
    eg, tn = f"EG-{YEAR}-000001", f"TN-{YEAR}-000001"
    assert [e["trigger"] for e in events(flows, eg)] == ["create", "submit", "attest_demand"]
    assert [e["trigger"] for e in events(flows, tn)] == ["create", "submit"]  # line 7 untouched

    monkeypatch.setattr(commands, "apply", real_apply)
    resumed = process_commands(lines, chunk_size=2, return_state=True)

    summary = outcome(resumed)["result"]
    assert (summary["applied"], summary["already_applied"]) == (2, 3)
    assert [e["trigger"] for e in events(flows, eg)] == [
        "create",
        "submit",
        "attest_demand",
        "register_demand",
    ]
    assert [e["trigger"] for e in events(flows, tn)] == ["create", "submit", "accept_filing"]
    assert flows.audit.verify().intact


def test_an_imported_file_applies_nothing_twice_when_imported_again(
    flows: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_batch`` gives lines without a key one of its own (file digest and line)."""
    monkeypatch.setattr(client, "mode", lambda: "embedded")
    (tmp_path / "attestation.pdf").write_bytes(w.pdf("attestation"))
    for kind in w.EG_SUBMIT_DOCS:
        (tmp_path / f"{kind}.pdf").write_bytes(w.pdf(kind))
    eg = f"EG-{YEAR}-000001"
    lines = [
        {
            "command": "submit",
            "as": email("agent"),
            "sop": w.EG,
            "data": w.eg_data(),
            "documents": [{"kind": k, "path": f"{k}.pdf"} for k in w.EG_SUBMIT_DOCS],
        },
        {
            "command": "act",
            "as": email("labour_attache"),
            "reference": eg,
            "trigger": "attest_demand",
            "documents": [{"kind": "attestation", "path": "attestation.pdf"}],
        },
        {
            "command": "act",
            "as": email("registry_clerk"),
            "reference": eg,
            "trigger": "register_demand",
            "data": {"demand_register_number": "DR-7"},
        },
    ]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    first = client.run_batch(batch)
    after_first = w.footprint(flows)
    again = client.run_batch(batch)

    assert (first["applied"], first["already_applied"], first["failed"]) == (3, 0, [])
    assert (again["applied"], again["already_applied"], again["failed"]) == (0, 3, [])
    assert state_of(flows, eg) == "demand_under_review"
    assert w.footprint(flows) == after_first


# -- sla_sweep ---------------------------------------------------------------------------
def deadline(services: Services, reference: str) -> datetime:
    with services.ctx.store.read() as r:
        row = r.request(reference)
    assert row is not None and row["deadline"] is not None
    value = row["deadline"]
    value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def notices(services: Services, reference: str, seq: int) -> set[tuple[str, str]]:
    """(template, recipient kind) of the notices an event caused."""
    with services.ctx.store.read() as r:
        row = r.request(reference)
        assert row is not None
        rows = r.outbox_of(row["id"])
    return {(n["template"], n["recipient_kind"]) for n in rows if n["event_seq"] == seq}


def test_the_sla_sweep_records_each_breach_once_and_escalates_where_the_sop_says(
    flows: Services, clock: Clock
) -> None:
    from workflows.flows import sla_sweep

    # Egypt: demand_under_review escalates to the director; Tunisia's filing_check only
    # notifies the head of service
    eg = w.submit_eg(flows).reference
    w.run(flows, eg, w.eg_path_to("approve_demand"))
    tn = w.submit_tn(flows).reference
    due = max(deadline(flows, eg), deadline(flows, tn))
    clock.now = min(deadline(flows, eg), deadline(flows, tn)) - timedelta(minutes=1)
    early = outcome(sla_sweep(return_state=True))["result"]
    assert (early["breached"], early["escalated"]) == ([], [])

    clock.now = due + timedelta(minutes=1)
    swept = sla_sweep(return_state=True)

    assert swept.is_completed(), swept.message
    report = outcome(swept)["result"]
    assert sorted(report["breached"]) == sorted([eg, tn])
    assert report["escalated"] == [
        {"reference": eg, "trigger": "escalate", "state": "demand_escalated"}
    ]
    assert report["failed"] == []
    eg_events, tn_events = events(flows, eg), events(flows, tn)
    assert [(e["trigger"], e["to_state"], e["flow_run_id"]) for e in eg_events[-2:]] == [
        ("breach", "demand_under_review", run_id(swept)),
        ("escalate", "demand_escalated", run_id(swept)),
    ]
    assert [(e["trigger"], e["flow_run_id"]) for e in tn_events[-1:]] == [("breach", run_id(swept))]
    assert state_of(flows, tn) == "filing_check"
    assert [e["trigger"] for e in eg_events + tn_events].count("breach") == 2
    assert notices(flows, eg, eg_events[-2]["seq"]) == {("deadline_breached", "role:director")}
    assert notices(flows, eg, eg_events[-1]["seq"]) == {("request_escalated", "role:director")}
    assert notices(flows, tn, tn_events[-1]["seq"]) == {
        ("deadline_breached", "role:head_of_service")
    }

    before = w.footprint(flows)
    again = sla_sweep(return_state=True)

    nothing = outcome(again)["result"]
    assert (nothing["breached"], nothing["escalated"], nothing["failed"]) == ([], [], [])
    assert w.footprint(flows) == before


def test_the_command_line_sweep_is_a_flow_run_whose_id_its_events_record(
    flows: Services,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sopflow.cli.sla import sweep

    monkeypatch.setattr(client, "mode", lambda: "embedded")
    tn = w.submit_tn(flows).reference
    clock.now = deadline(flows, tn) + timedelta(minutes=1)

    sweep(limit=500, as_json=True)

    assert json.loads(capsys.readouterr().out)["breached"] == [tn]
    breach = events(flows, tn)[-1]
    assert breach["trigger"] == "breach" and breach["flow_run_id"] is not None


# -- audits ------------------------------------------------------------------------------
@pytest.fixture
def two_requests(flows: Services) -> list[str]:
    eg = w.submit_eg(flows).reference
    w.run(flows, eg, w.eg_path_to("approve_demand"))
    other = w.submit_eg(flows).reference
    return [eg, other]


def artifact_of(run: str, key: str) -> Any:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with prefect_client() as api:
        found = api.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )
    mine = [a for a in found if str(a.flow_run_id) == run]
    assert len(mine) == 1, f"{len(mine)} '{key}' artifact(s) for run {run}"
    return mine[0]


def test_audit_verify_finds_the_chains_intact_and_leaves_a_summary(
    flows: Services, two_requests: list[str]
) -> None:
    from workflows.flows import audit_verify

    state = audit_verify(return_state=True)

    assert state.is_completed(), state.message
    report = outcome(state)["result"]
    assert (report["intact"], report["events"], report["requests"]) == (True, 6, 2)
    assert artifact_of(run_id(state), "audit-verify").data.startswith("**intact**: 6 event(s)")


def test_audit_verify_fails_and_names_the_break_after_a_hand_edit(
    flows: Services, two_requests: list[str]
) -> None:
    from workflows.flows import audit_verify

    eg = two_requests[0]
    sql(
        flows,
        "UPDATE events SET actor_id = 'mallory@mom.example' WHERE id = :id",
        id=events(flows, eg)[2]["id"],
    )

    everything = audit_verify(return_state=True)
    one = audit_verify(eg, return_state=True)

    for state in (everything, one):
        assert state.is_failed()
        report = outcome(state)["result"]
        assert report["intact"] is False
        assert (report["first_break"]["reference"], report["first_break"]["seq"]) == (eg, 3)
    summary = artifact_of(run_id(everything), "audit-verify").data
    assert summary.startswith("**NOT INTACT**")
    assert eg in summary


def test_audit_verify_of_an_unknown_request_is_refused(flows: Services) -> None:
    from workflows.flows import audit_verify

    state = audit_verify("EG-2026-999999", return_state=True)

    assert state.is_completed() and state.name == "Rejected"
    assert outcome(state)["error"]["code"] == "not-found"


def test_audit_replay_reports_whether_the_events_explain_each_request(
    flows: Services, two_requests: list[str]
) -> None:
    from workflows.flows import audit_replay

    eg, other = two_requests
    consistent = audit_replay([eg, other], AUDITOR, return_state=True)

    assert consistent.is_completed(), consistent.message
    result = outcome(consistent)["result"]
    assert result["consistent"] is True
    assert [(r["reference"], r["state"], r["consistent"]) for r in result["requests"]] == [
        (eg, "demand_under_review", True),
        (other, "attestation_review", True),
    ]
    assert (
        "| request | state | consistent |" in artifact_of(run_id(consistent), "audit-replay").data
    )

    sql(
        flows,
        "UPDATE events SET to_state = 'placed' WHERE id = :id",
        id=events(flows, eg)[-1]["id"],
    )
    tampered = outcome(audit_replay([eg, other, "EG-2026-999999"], AUDITOR, return_state=True))

    rows = {r["reference"]: r for r in tampered["result"]["requests"]}
    assert tampered["result"]["consistent"] is False
    assert rows[eg]["consistent"] is False and rows[eg]["differences"]
    assert rows[other]["consistent"] is True
    assert rows["EG-2026-999999"]["differences"].startswith("not-found")


# -- workflows.client.run_command --------------------------------------------------------
@pytest.fixture(params=["off", "embedded"])
def run_mode(
    request: pytest.FixtureRequest, flows: Services, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.setattr(client, "mode", lambda: request.param)
    return str(request.param)


def test_run_command_gives_the_same_result_with_or_without_prefect(
    run_mode: str, flows: Services
) -> None:
    result = client.run_command(submit_eg(flows))

    assert isinstance(result, CommandResult)
    assert len(result.event_hash) == 64
    assert {**asdict(result), "event_hash": "…"} == {
        "reference": f"EG-{YEAR}-000001",
        "trigger": "submit",
        "state": "attestation_review",
        "seq": 2,
        "version": 1,
        "event_hash": "…",
        "notices": result.notices,
        "flags": (),
        "replayed": False,
    }
    assert result.notices > 0
    runs = {e["flow_run_id"] for e in events(flows, result.reference)}
    assert (runs == {None}) is (run_mode == "off")


def test_run_command_replays_a_command_sent_twice_with_its_key(
    run_mode: str, flows: Services
) -> None:
    command = submit_eg(flows, key="client-1")
    first = client.run_command(command)

    again = client.run_command(command)

    assert again.replayed and not first.replayed
    assert {**asdict(again), "replayed": False} == asdict(first)


def test_run_command_raises_the_rejection_a_flow_run_reported(
    run_mode: str, flows: Services, in_intake: str
) -> None:
    register = act(flows, in_intake, w.eg_step("register_demand"))

    with pytest.raises(NotFound) as missing:
        client.run_command({**register, "reference": "EG-2026-000999"})
    assert missing.value.message == "no request 'EG-2026-000999'"

    with pytest.raises(CommandRejected) as forbidden:
        client.run_command({**register, "as": email("employment_officer")})
    assert forbidden.value.code == "role-forbidden"
    assert forbidden.value.details["roles"] == ["registry_clerk"]

    with pytest.raises(Conflict) as stale:
        client.run_command({**register, "expected_version": 1})
    assert stale.value.code == "conflict"

    with pytest.raises(CommandRejected) as invalid:
        client.run_command({**register, "data": {"demand_register_number": 42}})
    assert invalid.value.code == "invalid-data"
    assert [e["field"] for e in invalid.value.details["errors"]] == ["demand_register_number"]

    with pytest.raises(InvalidData):  # a malformed command is refused before any run
        client.run_command({**register, "as": ""})
    assert state_of(flows, in_intake) == "demand_intake"


def test_a_command_too_large_for_a_flow_run_is_refused_for_what_is_wrong_with_it(
    flows: Services, in_intake: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect refuses parameters over its limit; the command is refused before any run:
    for the core's reason when it has one, else for its size; nothing is recorded."""
    from prefect.settings import PREFECT_SERVER_API_MAX_PARAMETER_SIZE, temporary_settings

    monkeypatch.setattr(client, "mode", lambda: "embedded")
    register = act(flows, in_intake, w.eg_step("register_demand"))
    with temporary_settings({PREFECT_SERVER_API_MAX_PARAMETER_SIZE: 4000}):
        with pytest.raises(InvalidData) as long_comment:
            client.run_command({**register, "comment": "ش" * 6000})
        with pytest.raises(InvalidData) as large:
            client.run_command({**register, "comment": "x" * 4000})

    assert [(e.field, e.code) for e in long_comment.value.errors] == [("comment", "too-long")]
    assert long_comment.value.errors[0].params == {"limit": 5000}
    assert [(e.field, e.code) for e in large.value.errors] == [("command", "too-large")]
    assert "a flow run takes at most 4,000" in large.value.errors[0].message
    assert state_of(flows, in_intake) == "demand_intake"


# -- what a flow run costs in-process ------------------------------------------------------
def _api_client_of_a_run() -> object:
    """The API client a flow run used (the object itself: ids of freed objects recur)."""
    from prefect import flow
    from prefect.client.orchestration import get_client

    @flow(persist_result=False)
    def which_client() -> object:
        return get_client(sync_client=True)

    return which_client()


def test_the_flow_runs_of_one_thread_share_one_open_api_client(flows: Services) -> None:
    first, second = _api_client_of_a_run(), _api_client_of_a_run()
    box: list[object] = []

    def elsewhere() -> None:
        with quiet_runs():
            box.append(_api_client_of_a_run())

    other = threading.Thread(target=elsewhere)
    other.start()
    other.join()

    assert first is second  # no new client (and CA bundle, and connection) per run
    assert box and box[0] is not first  # a client is never shared between threads


def test_quiet_runs_follow_a_change_of_prefect_s_environment(
    prefect_api: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import get_current_settings

    with quiet_runs():
        before = get_current_settings()
        assert before.flows.heartbeat_frequency is None
    with quiet_runs():
        assert get_current_settings() is before  # built once, not at every run
    monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", str(before.client.max_retries + 2))
    with quiet_runs():
        assert get_current_settings().client.max_retries == before.client.max_retries + 2
        assert get_current_settings().flows.heartbeat_frequency is None


def test_one_process_runs_at_most_its_bound_of_commands_at_once(
    flows: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workflows.flows

    bound = bootstrap.settings().model_copy(update={"embedded_runs": 2})  # SOPFLOW_EMBEDDED_RUNS
    monkeypatch.setattr(bootstrap, "settings", lambda: bound)
    monkeypatch.setattr(client, "_slots", [])  # the bound is read from the settings anew
    monkeypatch.setattr(client, "mode", lambda: "embedded")
    in_flight, most = [0], [0]
    lock = threading.Lock()

    def advance_request(command: dict[str, Any], return_state: bool) -> dict[str, Any]:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return {"result": command}

    monkeypatch.setattr(workflows.flows, "advance_request", advance_request)
    monkeypatch.setattr(workflows.flows, "outcome_of", lambda state: state)
    threads = [threading.Thread(target=client._submit_run, args=({"n": n},)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert most[0] == 2


def test_prefects_drain_notice_is_dropped_and_its_other_warnings_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A CLI command exiting while Prefect still sends its runs' events must not warn the
    user about it; a full queue (events dropped) still says so."""
    from workflows.runtime import configure

    for key in (*QUIET, "PREFECT_HOME", "PREFECT_API_URL"):  # configure sets what is unset
        monkeypatch.setenv(key, os.environ.get(key, ""))
    configure(tmp_path)
    configure(tmp_path)  # once is enough: calling it again adds nothing
    logger = logging.getLogger("EventsWorker")

    with caplog.at_level(logging.WARNING, logger="EventsWorker"):
        logger.warning("Still processing items: 3 items remaining...")
        logger.warning("Service 'EventsWorker' queue is full (9 items), dropping item")

    assert [r.getMessage() for r in caplog.records] == [
        "Service 'EventsWorker' queue is full (9 items), dropping item"
    ]
    assert len(logger.filters) == 1


def test_a_prefect_api_that_fails_the_run_is_an_orchestrator_error_to_retry(
    flows: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 503 that outlasts Prefect's client retries (or a lost connection) is the
    orchestrator's failure: a retryable adapter error naming it, not an internal error."""
    import httpx

    import workflows.flows

    def busy_api(command: dict[str, Any], return_state: bool) -> None:
        request = httpx.Request("POST", "http://127.0.0.1:4200/api/flow_runs/")
        raise httpx.HTTPStatusError("Server error '503 Service Unavailable' for url "
                                    f"'{request.url}'", request=request,
                                    response=httpx.Response(503, request=request))  # fmt: skip

    monkeypatch.setattr(client, "mode", lambda: "embedded")
    monkeypatch.setattr(workflows.flows, "advance_request", busy_api)

    with pytest.raises(AdapterError) as failed:
        client.run_command({**submit_eg(flows), "idempotency_key": "k-503"})

    assert (failed.value.code, failed.value.retryable) == ("orchestrator-error", True)
    assert failed.value.message == (
        "the Prefect API failed the flow run (Server error '503 Service Unavailable' for url "
        "'http://127.0.0.1:4200/api/flow_runs/'). To try again safely, repeat the command "
        "with --idempotency-key k-503"
    )


def test_the_embedded_apis_transactions_take_the_sqlite_write_lock_when_they_begin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Prefect begins them deferred (a write then fails at once on a busy database, and the
    client backs off for seconds); the API `sopflow serve` owns begins them IMMEDIATE."""
    import asyncio

    from prefect.server.database import configurations as db

    from workflows.prefect_api import _writes_take_the_lock_first

    class Session:
        def begin(self) -> Session:
            return self

        async def __aenter__(self) -> Session:
            seen.append(db.SQLITE_BEGIN_MODE.get())
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

    async def begin_both() -> None:
        config = db.AioSqliteConfiguration(connection_url="sqlite+aiosqlite:///unused.db")
        for with_for_update in (False, True):
            async with config.begin_transaction(Session(), with_for_update=with_for_update):
                pass

    seen: list[str | None] = []
    asyncio.run(begin_both())
    assert seen == ["DEFERRED", "IMMEDIATE"]  # Prefect's own rule

    monkeypatch.setattr(
        db.AioSqliteConfiguration, "begin_transaction", db.AioSqliteConfiguration.begin_transaction
    )  # restored afterwards
    _writes_take_the_lock_first()
    seen.clear()
    asyncio.run(begin_both())
    assert seen == ["IMMEDIATE", "IMMEDIATE"]
    assert db.SQLITE_BEGIN_MODE.get() is None
