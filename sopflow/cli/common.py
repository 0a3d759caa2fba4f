"""Shared CLI plumbing: error reporting and exit codes, JSON output."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click
import typer
from rich.console import Console

from sopflow.errors import SopDefinitionError, SopflowError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def fail(error: SopflowError) -> NoReturn:
    """Report a rejected command or invalid input on stderr and exit 1."""
    if isinstance(error, SopDefinitionError):
        for issue in error.issues:
            err.print(issue.format(), markup=False)
    else:
        err.print(f"error[{error.code}] {error.message}", markup=False)
    raise typer.Exit(1)


def run_app(app: typer.Typer) -> int:
    """Run the typer app; our errors exit 1 with their message, usage errors exit 2."""
    try:
        result = app(standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        return 2
    except click.exceptions.Abort:
        err.print("aborted")
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SopflowError as exc:
        try:
            fail(exc)
        except click.exceptions.Exit as done:
            return done.exit_code
    return result if isinstance(result, int) else 0
