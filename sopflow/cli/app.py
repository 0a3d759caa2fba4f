"""The ``sopflow`` command's commands (``sopflow.cli.main`` runs them)."""

from __future__ import annotations

import sys

import typer

from sopflow import bootstrap
from sopflow.cli import admin, audit, notify, orchestration, requests, serve, sla, sop, tokens
from sopflow.cli.common import report, run_app
from sopflow.cli.stats import app as stats_app
from sopflow.errors import FieldError, InvalidData, SopflowError

app = typer.Typer(
    name="sopflow",
    help="Recruitment requests and placement SOPs as audited state machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sop.app, name="sop")
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.org_app, name="org")
app.add_typer(admin.user_app, name="user")
app.add_typer(requests.app, name="request")
app.command("inbox")(requests.inbox)
app.add_typer(audit.app, name="audit")
app.add_typer(sla.app, name="sla")
app.add_typer(notify.app, name="notify")
app.add_typer(tokens.app, name="token")
app.add_typer(stats_app, name="stats")
app.command("serve")(serve.serve)
app.command("deploy")(orchestration.deploy)
app.command("worker")(orchestration.worker)


def main() -> None:
    from workflows.runtime import configure

    try:
        data_dir = bootstrap.settings().data_dir
        configure(data_dir)  # before anything imports prefect
    except SopflowError as exc:  # a bad SOPFLOW_* variable: said, not a traceback
        report(exc)
        sys.exit(1)
    except OSError as exc:  # a data folder that cannot be made (a file there, no rights)
        report(
            InvalidData(
                [FieldError("SOPFLOW_DATA_DIR", "unwritable", f"{data_dir}: {exc.strerror}")],
                context="settings",
            )
        )
        sys.exit(1)
    sys.exit(run_app(app))
