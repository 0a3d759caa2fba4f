"""What an operator following docs/deploy.md ran into: settings that cannot work refused at
start, paths a worker's flow runs would resolve elsewhere, delivery that stops at a
failure of the channel, crashed flow runs reported with what to do, refusals that are a
normal outcome of a run, listing notices without the channel's credentials."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prefect.states import Crashed

from notifications.channels import SendGridChannel
from sopflow import bootstrap
from sopflow.domain.ports import DeliveryFailed, Message
from sopflow.errors import AdapterError, InvalidData
from sopflow.services import Services
from sopflow.services.notices import MAX_ATTEMPTS
from sopflow.settings import Settings
from sopflow.web.app import create_app, secure_cookies, session_secret
from tests.fakes.sendgrid import FakeSendGrid
from tests.integration import world
from tests.integration.test_flows import flows, prefect_api  # noqa: F401  (fixtures)
from tests.integration.test_notifications import use_channel
from workflows import client
from workflows.flows import worker_paths_problem


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid() as server:
        yield server


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DATABASE_URL", "DATA_DIR", "DOCUMENTS_DIR", "OUTBOX_DIR", "MAIL_FROM",
                 "SENDGRID_HOST", "PUBLIC_URL", "RUN_TIMEOUT", "NOTIFY_CHANNEL"):  # fmt: skip
        monkeypatch.delenv(f"SOPFLOW_{name}", raising=False)
    bootstrap.settings.cache_clear()
    yield
    bootstrap.settings.cache_clear()


# -- settings -------------------------------------------------------------------------------
def test_relative_paths_are_made_absolute_when_the_settings_are_read(
    fresh_settings: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", "sqlite:///./state/sopflow.db")
    monkeypatch.setenv("SOPFLOW_OUTBOX_DIR", "mail")

    cfg = bootstrap.settings()
    monkeypatch.chdir("/")  # a flow run's temporary folder, say: nothing moves

    assert cfg.database_url == f"sqlite:///{tmp_path}/state/sopflow.db"
    assert (cfg.outbox_dir, cfg.data_dir) == (tmp_path / "mail", tmp_path / ".sopflow")
    assert cfg.document_root == tmp_path / ".sopflow" / "documents"
    for url in ("postgresql+psycopg://u:p@db:5432/sop", "sqlite:////srv/s.db", "nonsense",
                "sqlite://", "sqlite:///file:x.db?mode=ro&uri=true"):  # fmt: skip
        assert Settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("SOPFLOW_MAIL_FROM", "not an address", "SOPFLOW_MAIL_FROM must be an e-mail address"),
        ("SOPFLOW_MAIL_FROM", "", "not ''"),
        ("SOPFLOW_SENDGRID_HOST", "localhost:8303", "not 'localhost:8303'"),
        ("SOPFLOW_SENDGRID_HOST", "ftp://x.example", "SOPFLOW_SENDGRID_HOST must be an http"),
        ("SOPFLOW_PUBLIC_URL", "not-a-url", "SOPFLOW_PUBLIC_URL must be an http:// or https://"),
    ],
)
def test_a_setting_that_cannot_work_is_a_configuration_error(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(AdapterError) as refused:
        bootstrap.settings()

    assert refused.value.code == "configuration-error"
    assert says in refused.value.message


def test_senders_in_both_forms_are_accepted_and_the_timeout_is_a_number(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sender in ("no-reply@mom.example", "Ministry of Manpower <no-reply@mom.example>"):
        assert Settings(mail_from=sender).mail_from == sender
    monkeypatch.setenv("SOPFLOW_RUN_TIMEOUT", "abc")
    with pytest.raises(InvalidData) as refused:
        bootstrap.settings()
    assert refused.value.errors[0].field == "SOPFLOW_RUN_TIMEOUT"


@pytest.mark.parametrize(
    ("variable", "value"),
    [("SOPFLOW_MAX_PASSWORD_CHECKS", "many"), ("SOPFLOW_MAX_PASSWORD_CHECKS", "0"),
     ("SOPFLOW_SECURE_COOKIES", "perhaps")],
)  # fmt: skip
def test_the_web_settings_are_checked_with_the_others(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidData) as refused:
        bootstrap.settings()
    assert refused.value.errors[0].field == variable
    assert repr(value) in refused.value.errors[0].message


def test_the_web_settings_reach_the_application(
    fresh_settings: None, monkeypatch: pytest.MonkeyPatch, seeded: Services
) -> None:
    monkeypatch.setenv("SOPFLOW_SESSION_SECRET", "  a secret  ")
    monkeypatch.setenv("SOPFLOW_SECURE_COOKIES", "yes")
    monkeypatch.setenv("SOPFLOW_MAX_PASSWORD_CHECKS", "7")
    cfg = bootstrap.read_settings()
    app = create_app(seeded, cfg)

    assert (cfg.session_secret, secure_cookies(cfg)) == ("a secret", True)
    assert app.state.password_checks._value == 7
    assert session_secret(seeded, cfg) == "a secret"
    assert secure_cookies(Settings(secure_cookies=False, public_url="https://s.example")) is True
    assert secure_cookies(Settings(secure_cookies=False, public_url="http://s.example")) is False


def test_a_database_url_that_is_not_a_url_is_refused_precisely(fresh_settings: None) -> None:
    with pytest.raises(AdapterError) as refused:
        bootstrap.engine(Settings(database_url="nonsense"))
    assert refused.value.code == "adapter-error"
    assert refused.value.message == "SOPFLOW_DATABASE_URL is not a database URL: 'nonsense'"


# -- a worker's flow runs -------------------------------------------------------------------
def test_a_flow_run_on_a_worker_refuses_relative_or_missing_paths(tmp_path: Path) -> None:
    db = tmp_path / "sopflow.db"
    db.write_bytes(b"")
    good = {"SOPFLOW_DATABASE_URL": f"sqlite:///{db}", "SOPFLOW_DATA_DIR": str(tmp_path),
            "SOPFLOW_OUTBOX_DIR": str(tmp_path / "outbox")}  # fmt: skip

    assert worker_paths_problem(good) is None
    assert worker_paths_problem({**good, "SOPFLOW_NOTIFY_CHANNEL": "sendgrid",
                                 "SOPFLOW_OUTBOX_DIR": ""}) is None  # fmt: skip
    assert "not set" in str(worker_paths_problem({}))
    relative = worker_paths_problem({**good, "SOPFLOW_DATABASE_URL": "sqlite:///./sopflow.db",
                                      "SOPFLOW_OUTBOX_DIR": "outbox"})  # fmt: skip
    assert "relative path ./sopflow.db" in str(relative)
    assert "SOPFLOW_OUTBOX_DIR=outbox is a relative path" in str(relative)
    assert "sopflow worker" in str(relative)
    missing = worker_paths_problem({**good, "SOPFLOW_DATABASE_URL": f"sqlite:///{db}.gone"})
    assert "does not exist" in str(missing)


def test_a_delivery_run_on_a_worker_with_relative_paths_refuses_and_marks_nothing_sent(
    flows: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import workflows.flows as flows_module
    from workflows.flows import deliver_notifications, outcome_of

    world.submit_eg(flows)
    pending = len(flows.notices.listing("pending"))
    monkeypatch.setattr(flows_module, "_of_a_deployment", lambda: True)
    monkeypatch.setenv("SOPFLOW_DATABASE_URL", "sqlite:///./sopflow.db")
    monkeypatch.delenv("SOPFLOW_OUTBOX_DIR", raising=False)

    state = deliver_notifications(return_state=True)

    assert state.is_failed()
    error = outcome_of(state)["error"]
    assert error["code"] == "configuration-error" and "temporary folder" in error["message"]
    assert len(flows.notices.listing("pending")) == pending
    assert flows.notices.listing("sent") == []


# -- crashed runs and refusals -----------------------------------------------------------------
def _crashed(*_: Any) -> Any:
    return Crashed(message="Process exited with status code: -9")


def test_a_crashed_batch_run_in_deployments_mode_is_a_precise_error(
    seeded: Services, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    batch = tmp_path / "batch.jsonl"
    batch.write_text('{"command": "submit", "sop": "x", "as": "a@b.example"}\n')
    monkeypatch.setattr(client, "mode", lambda: "deployments")
    monkeypatch.setattr(client, "_through_deployment", _crashed)
    monkeypatch.setattr(bootstrap, "_services", seeded)

    with pytest.raises(AdapterError) as failed:
        client.run_batch(batch)

    assert failed.value.code == "flow-failed" and failed.value.retryable
    assert "status code: -9" in failed.value.message
    assert "Run the same import again" in failed.value.message


def test_a_crashed_command_run_says_its_key_and_that_it_may_be_applied(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client, "mode", lambda: "deployments")
    monkeypatch.setattr(client, "_through_deployment", _crashed)
    monkeypatch.setattr(bootstrap, "_services", seeded)
    command = {"command": "act", "reference": "EG-2026-000001", "trigger": "attest_demand",
               "as": world.email("director"), "idempotency_key": "key-42"}  # fmt: skip

    with pytest.raises(AdapterError) as failed:
        client.run_command(command)

    assert failed.value.code == "flow-failed" and failed.value.retryable
    assert "may or may not have been applied" in failed.value.message
    assert "--idempotency-key key-42" in failed.value.message


def test_a_refusal_is_a_normal_outcome_of_a_run_not_an_exception(flows: Services) -> None:
    """A worker runs the flow as Prefect's engine does (its result, not its state): a
    refusal must not come out of it as an exception (logged with a traceback)."""
    from workflows.flows import advance_request

    ref = world.submit_eg(flows).reference
    command = {"command": "act", "reference": ref, "trigger": "approve_demand",
               "as": world.email("director")}  # fmt: skip

    advance_request(command)  # raised before: the run was Failed

    state = advance_request(command, return_state=True)
    assert state.is_completed() and state.name == "Rejected"


# -- delivery -------------------------------------------------------------------------------------
def test_listing_and_requeueing_need_no_sendgrid_key_delivering_does(
    database_url: str, fresh_settings: None
) -> None:
    cfg = Settings(database_url=database_url, notify_channel="sendgrid", sendgrid_api_key=None)
    services = bootstrap.build(cfg)
    world.seed(services)

    assert services.notices.listing("dead") == []
    assert services.notices.retry(all_dead=True) == 0
    with pytest.raises(AdapterError) as refused:
        services.notices.deliver()
    assert refused.value.code == "configuration-error"
    assert "SOPFLOW_SENDGRID_API_KEY" in refused.value.message


@pytest.fixture
def sendgrid(seeded: Services, fake: FakeSendGrid) -> Services:
    use_channel(seeded, SendGridChannel("SG.bad-key", fake.url, timeout=0.5))
    world.submit_eg(seeded)
    world.submit_eg(seeded)
    assert len(seeded.notices.listing("pending")) >= 2
    return seeded


@pytest.mark.parametrize("status", ["401", "403"])
def test_an_authentication_failure_stops_the_batch_and_dead_letters_nothing(
    sendgrid: Services, fake: FakeSendGrid, status: str
) -> None:
    pending = len(sendgrid.notices.listing("pending"))
    fake.default = status

    report = sendgrid.notices.deliver()

    assert len(fake.received) == 1  # not one request per notice
    assert (report.sent, report.dead, report.retrying) == (0, 0, 1)
    assert report.stopped is not None and "SOPFLOW_SENDGRID_API_KEY" in report.stopped
    assert len(sendgrid.notices.listing("pending")) == pending
    assert sendgrid.notices.listing("dead") == []


def test_a_bad_key_for_longer_than_every_retry_dead_letters_no_notice(
    sendgrid: Services, fake: FakeSendGrid, clock: Any
) -> None:
    """The channel's fault is not the notice's: its attempts are logged but not counted,
    so no notice is given up while the operator mends the key."""
    fake.default = "401"
    for _ in range(MAX_ATTEMPTS + 2):
        clock.advance(days=2)  # past every backoff
        assert sendgrid.notices.deliver().dead == 0

    assert sendgrid.notices.listing("dead") == []
    rows = sendgrid.notices.listing("pending")
    assert {row["attempts"] for row in rows} == {0}
    assert sum(len(row["attempt_log"]) for row in rows) == MAX_ATTEMPTS + 2
    fake.default = "202"
    clock.advance(days=2)
    assert sendgrid.notices.deliver().sent == len(rows)


def test_a_429_stops_the_batch_and_every_pending_notice_waits_its_retry_after(
    sendgrid: Services, fake: FakeSendGrid
) -> None:
    fake.retry_after = "600"
    fake.answer("429")

    report = sendgrid.notices.deliver()

    assert len(fake.received) == 1
    assert report.stopped is not None and "429" in report.stopped
    soon = sendgrid.ctx.clock() + timedelta(seconds=599)
    assert all(row["next_attempt_at"] is not None and row["next_attempt_at"].replace(
        tzinfo=soon.tzinfo) > soon for row in sendgrid.notices.listing("pending"))  # fmt: skip
    assert sendgrid.notices.deliver().sent == 0  # nothing due before then
    assert len(fake.received) == 1


@pytest.mark.parametrize("host", ["localhost:{port}", "https://127.0.0.1:{port}"])
def test_a_host_that_cannot_work_is_not_an_outage(fake: FakeSendGrid, host: str) -> None:
    port = fake.url.rsplit(":", 1)[1]
    channel = SendGridChannel("SG.key", host.format(port=port), timeout=2)
    message = Message("m-1", "a@example.org", "s", "t", "<p>h</p>", "no-reply@x.example", {})

    with pytest.raises(DeliveryFailed) as failed:
        channel.send(message)

    assert not failed.value.retryable and failed.value.stops_batch
    assert "SOPFLOW_SENDGRID_HOST" in failed.value.message
