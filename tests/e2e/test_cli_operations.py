"""The operator's commands around the service: misconfiguration said precisely (exit 1,
never an internal error), a consistent backup of a serving database, and a delivery that
tells cron when notices failed."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import SOPFLOW, Run, Sopflow, _reset_process_wide_services
from tests.e2e.test_cli_lifecycle import cli, submit  # noqa: F401  (fixture and helper)
from tests.integration import world

UNREACHABLE = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


class Fresh(Sopflow):
    """``sopflow`` with its settings and services read afresh for each command (as each
    command of a shell is a new process)."""

    def __call__(self, *args: str) -> Run:
        _reset_process_wide_services()
        try:
            return super().__call__(*args)
        finally:
            _reset_process_wide_services()


def variant(sopflow: Sopflow, **env: str | None) -> Sopflow:
    return Fresh({**sopflow.env, **env}, sopflow.folder)  # type: ignore[dict-item]


def installed(sopflow: Sopflow, *args: str, **env: str | None) -> Run:
    """The console script in its own process (Prefect reads its settings once per process)."""
    environ = {**os.environ, **sopflow.env, **env}
    done = subprocess.run([str(SOPFLOW), *args], env={k: v for k, v in environ.items() if v},
                          cwd=sopflow.folder, capture_output=True, text=True, timeout=120,
                          check=False)  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


def refused(run: Run, code: str) -> str:
    assert run.code == 1, run.err
    assert run.err.startswith(f"error[{code}] "), run.err
    assert "internal error" not in run.err
    return " ".join(run.err.split())


def test_a_database_url_that_is_not_a_url_is_a_precise_error(sopflow: Sopflow) -> None:
    run = variant(sopflow, SOPFLOW_DATABASE_URL="nonsense")("notify", "list")
    assert refused(run, "adapter-error") == (
        "error[adapter-error] SOPFLOW_DATABASE_URL is not a database URL: 'nonsense'"
    )


@pytest.mark.parametrize("command", [("deploy",), ("worker",)])
def test_deploy_and_worker_without_a_prefect_server_are_precise_errors(
    sopflow: Sopflow, command: tuple[str, ...]
) -> None:
    unset = refused(installed(sopflow, *command, PREFECT_API_URL=None), "orchestrator-error")
    down = refused(installed(sopflow, *command, PREFECT_API_URL=UNREACHABLE), "orchestrator-error")

    assert f"sopflow {command[0]} needs PREFECT_API_URL" in unset  # the tag is not eaten
    assert f"the Prefect server at {UNREACHABLE} is not answering" in down


def test_serve_in_deployments_mode_without_prefect_api_url_refuses_at_start(
    sopflow: Sopflow,
) -> None:
    run = installed(sopflow, "serve", "--port", "8791", SOPFLOW_PREFECT_MODE="deployments",
                    PREFECT_API_URL=None)  # fmt: skip
    assert "SOPFLOW_PREFECT_MODE=deployments needs PREFECT_API_URL" in refused(
        run, "orchestrator-error"
    )


def test_a_run_timeout_that_is_not_a_number_is_a_settings_error(sopflow: Sopflow) -> None:
    run = variant(sopflow, SOPFLOW_RUN_TIMEOUT="abc")("notify", "list")
    assert "SOPFLOW_RUN_TIMEOUT" in refused(run, "invalid-data")


def test_a_sender_that_is_not_an_address_is_refused(sopflow: Sopflow) -> None:
    run = variant(sopflow, SOPFLOW_MAIL_FROM="not an address")("notify", "deliver")
    assert "SOPFLOW_MAIL_FROM must be an e-mail address" in refused(run, "configuration-error")


def test_dead_notices_are_listed_and_requeued_without_the_sendgrid_key(cli: Sopflow) -> None:
    no_key = variant(cli, SOPFLOW_NOTIFY_CHANNEL="sendgrid", SOPFLOW_SENDGRID_API_KEY=None)

    assert no_key.ok("notify", "list", "--status", "dead", "--json").json() == []
    no_key.ok("notify", "retry", "--all-dead")
    assert "SOPFLOW_SENDGRID_API_KEY" in refused(no_key("notify", "deliver"),
                                                 "configuration-error")  # fmt: skip


def test_deliver_exits_1_when_notices_die_so_that_cron_can_alert(
    cli: Sopflow, tmp_path: Path
) -> None:
    submit(cli, world.EG, "agent", world.eg_data())
    (tmp_path / "not-a-folder").write_text("", encoding="utf-8")

    run = variant(cli, SOPFLOW_OUTBOX_DIR=str(tmp_path / "not-a-folder"))("notify", "deliver")

    assert run.code == 1, run.err
    assert "error[delivery-failed] 0 notice(s) to retry," in run.err
    assert "dead" in run.out


def test_backup_copies_every_acknowledged_command_while_the_database_serves(
    cli: Sopflow, tmp_path: Path, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the SQLite backup; PostgreSQL's is pg_dump")
    refs = [submit(cli, world.EG, "agent", world.eg_data()) for _ in range(2)]
    source = database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(source)  # a serving process keeps the database (and WAL) open
    holder.execute("PRAGMA wal_autocheckpoint=0")
    try:
        refs.append(submit(cli, world.EG, "agent", world.eg_data()))
        target = tmp_path / "backups" / "sopflow-backup.db"

        done = cli.ok("db", "backup", str(target))

        assert f"wrote {target}" in done.err
        copy = sqlite3.connect(target)
        with_events = {row[0] for row in copy.execute("SELECT reference FROM requests")}
        copy.close()
        assert with_events == set(refs)
        again = cli("db", "backup", str(target))
        assert "exists" in refused(again, "backup-failed")
    finally:
        holder.close()
    restored = variant(cli, SOPFLOW_DATABASE_URL=f"sqlite:///{target}")
    assert restored.ok("audit", "verify").out.startswith("intact")
