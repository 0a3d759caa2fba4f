"""``sopflow notify``: the outbox: list, deliver now, retry dead notices, preview a notice."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import Locale, LocaleOption, err, out, print_json, print_text
from sopflow.domain.ports import DeliveryFailed
from sopflow.errors import FieldError, InvalidData

app = typer.Typer(help="Notices: the outbox and its delivery.", no_args_is_help=True)


class Status(StrEnum):
    """What the outbox's status column holds."""

    pending = "pending"
    sent = "sent"
    dead = "dead"
    unroutable = "unroutable"


class Part(StrEnum):
    text = "text"
    html = "html"


@app.command("list")
def list_notices(
    status: Annotated[
        Status | None, typer.Option(help="pending, sent, dead or unroutable", case_sensitive=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1)] = 200,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Notices, newest first, with their delivery status and last error."""
    rows = bootstrap.services().notices.listing(status.value if status else None, limit)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "request", "template", "to", "locale", "status", "attempts", "last error")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["reference"],
            r["template"],
            r["recipient"] or "-",
            r["locale"],
            r["status"],
            str(r["attempts"]),
            (r["last_error"] or "")[:60],
        )
    out.print(table)


@app.command()
def deliver(limit: Annotated[int, typer.Option(min=1)] = 200) -> None:
    """Deliver the notices that are due now (one deliver-notifications flow run).

    Exit status 1 (``error[delivery-failed]`` on stderr) when a notice failed (to retry) or
    died, or the batch stopped (the channel refused its key, asked to slow down): cron can
    alert on it. 0 when everything due was sent."""
    from workflows.client import run_flow
    from workflows.flows import deliver_notifications

    result = run_flow(deliver_notifications, limit=limit)
    out.print(f"{result['sent']} sent, {result['retrying']} to retry, {result['dead']} dead",
              markup=False)  # fmt: skip
    for item in result["errors"]:
        err.print(f"  notice {item['id']}: {item['error']}", markup=False)
    stopped = result.get("stopped")
    if stopped:
        err.print(f"  stopped before the end of the batch: {stopped}", markup=False)
    if result["retrying"] or result["dead"] or stopped:
        raise DeliveryFailed(f"{result['retrying']} notice(s) to retry, {result['dead']} dead"
                             + ("; the rest of the batch stays pending" if stopped else "")
                             + ": 'sopflow notify list --status dead' (or pending) for their "
                             "errors", retryable=bool(result["retrying"] or stopped))  # fmt: skip


@app.command()
def retry(
    ids: Annotated[list[int] | None, typer.Argument(metavar="[ID]...")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="every dead notice")] = False,
) -> None:
    """Queue dead notices again (their attempt log is kept)."""
    if not ids and not all_dead:
        raise typer.BadParameter("give notice ids or --all-dead")
    count = bootstrap.services().notices.retry(ids, all_dead=all_dead)
    err.print(f"{count} notice(s) queued again")


@app.command()
def preview(
    sop_id: Annotated[str, typer.Argument(metavar="SOP")],
    trigger: Annotated[str, typer.Argument(metavar="TRIGGER")],
    locale: LocaleOption = Locale.en,
    part: Annotated[Part, typer.Option(help="text or html", case_sensitive=False)] = Part.text,
) -> None:
    """Render the notices a transition sends, with sample data."""
    services = bootstrap.services()
    rendered = services.notices.preview(services.sops.catalogue.get(sop_id), trigger, locale)
    if not rendered:
        raise InvalidData([FieldError("TRIGGER", "no-notice",
                                      f"'{trigger}' sends no notice in {sop_id}")],
                          context="preview")  # fmt: skip
    for to, notice in rendered:
        print_text(
            f"--- to {to}: {notice.subject}  [{notice.locale}, template {notice.template_version}]"
        )
        print_text(notice.html if part == "html" else notice.text)
