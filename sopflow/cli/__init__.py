"""The ``sopflow`` command. Exit status: 0 success, 1 rejected or invalid input, 2 usage."""

from __future__ import annotations

import sys

import typer

from sopflow.cli import sop
from sopflow.cli.common import run_app

app = typer.Typer(
    name="sopflow",
    help="Recruitment requests and placement SOPs as audited state machines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sop.app, name="sop")


def main() -> None:
    sys.exit(run_app(app))
