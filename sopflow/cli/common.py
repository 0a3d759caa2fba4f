"""Shared CLI plumbing: error reporting and exit codes, JSON output."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

from sopflow.errors import SopDefinitionError, SopflowError

# wide tables when piped (rich would assume 80 columns)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Locale(StrEnum):
    """The languages of the SOPs' words and of the notices (a str: usable as a key)."""

    ar = "ar"
    fr = "fr"
    en = "en"


LocaleOption = Annotated[Locale, typer.Option(help="the language: ar, fr or en",
                                              case_sensitive=False)]  # fmt: skip
# reading needs no user: without --as, the operator's view (they hold the database itself)
ReaderOption = Annotated[str | None, typer.Option(
    "--as", help="read as this user (what they may see and do); default: the operator, "
    "who sees every request")]  # fmt: skip


def print_text(text: str) -> None:
    """Machine-readable text (diagrams, schemas) exactly as it is: no wrapping, no markup."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def report(error: SopflowError) -> None:
    """Print a rejected command or invalid input on stderr (SOP issues one per line)."""
    if isinstance(error, SopDefinitionError):
        for issue in error.issues:
            err.print(issue.format(), markup=False)
    else:
        err.print(f"error[{error.code}] {error.message}", markup=False)


def run_app(app: typer.Typer) -> int:
    """Run the app: usage errors exit 2 (typer's standalone mode), our errors exit 1."""
    try:
        app()
    except SopflowError as exc:
        report(exc)
        return 1
    except Exception as exc:
        if os.environ.get("SOPFLOW_DEBUG"):
            raise
        err.print(
            f"internal error: {type(exc).__name__}: {exc} (set SOPFLOW_DEBUG=1 for the traceback)",
            markup=False,
        )
        return 3
    return 0
