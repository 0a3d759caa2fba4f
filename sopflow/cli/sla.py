"""``sopflow sla sweep``: record passed deadlines and apply the SOPs' breach actions now, or
(``--dry-run``) say what a sweep would do, now or at another moment, recording nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from sopflow.cli.common import err, out, print_json

app = typer.Typer(help="Deadlines (SLA) of requests.", no_args_is_help=True)


def _moment(value: str | None) -> datetime | None:
    """``--at``: ISO 8601; without an offset (a date alone: its midnight), a local time read
    on each request's SOP calendar."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time (2026-12-04, 2026-12-04T17:00, "
            "2026-12-04T17:00+02:00, 2026-12-04T15:00Z)",
            param_hint="'--at'",
        ) from None


DryRun = Annotated[bool, typer.Option(
    "--dry-run", help="say what a sweep would warn, breach and escalate; record and send "
    "nothing")]  # fmt: skip
At = Annotated[str | None, typer.Option(
    "--at", metavar="TIMESTAMP", help="with --dry-run: the moment of the sweep (default now), "
    "ISO 8601; without an offset (2026-12-04T17:00; a date alone: its start) the time on each "
    "SOP's calendar, in its authority's time zone")]  # fmt: skip


@app.command()
def sweep(
    limit: Annotated[int, typer.Option(min=1, help="at most this many requests")] = 500,
    dry_run: DryRun = False,
    at: At = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Warn of every near deadline once (a deadline_warning event and its notices) and breach
    every overdue request once: a breach event, its notices, its escalation. With --dry-run,
    only say what a sweep at --at would do."""
    if at is not None and not dry_run:
        # a sweep records its events now: never dated at another moment
        raise typer.BadParameter("only with --dry-run: a sweep records what is due now, "
                                 "never events dated at another moment",
                                 param_hint="'--at'")  # fmt: skip
    if dry_run:
        _preview(_moment(at), limit, as_json)
        return
    from workflows.client import run_flow
    from workflows.flows import sla_sweep

    # one sla-sweep flow run, as the server's schedule runs it: its events record the run
    report = run_flow(sla_sweep, limit=limit)
    if as_json:
        print_json(report)
    else:
        out.print(
            f"{report['checked']} overdue, {len(report['breached'])} breach(es) recorded, "
            f"{len(report['escalated'])} escalated, {len(report['warned'])} deadline "
            "warning(s) recorded",
            markup=False,
        )
        for reference in report["warned"]:
            out.print(f"  {reference}: deadline warning", markup=False)
        for item in report["escalated"]:
            out.print(f"  {item['reference']}: {item['trigger']} -> {item['state']}", markup=False)
        for item in report["failed"]:
            err.print(f"  {item['reference']}: {item['error']}", markup=False)
    if report["failed"]:
        raise typer.Exit(1)


def _preview(at: datetime | None, limit: int, as_json: bool) -> None:
    """What a sweep at ``at`` would do, from the services directly: no flow run, no event,
    no notice (a flow run would be recorded by Prefect for nothing)."""
    from sopflow import bootstrap

    report = bootstrap.services(existing=True).deadlines.preview(at, limit).to_dict()
    if as_json:
        print_json(report)
        return
    when = report["at"] if at is None or at.tzinfo else f"{report['at']} on each SOP's calendar"
    said: dict[str, Any] = report["requests"]
    out.print(f"Dry run of a sweep at {when}: {report['checked']} overdue, "
              f"{len(report['breached'])} breach(es), {len(report['escalated'])} escalated, "
              f"{len(report['warned'])} deadline warning(s) would be recorded",
              markup=False)  # fmt: skip
    for kind, references in (("deadline warning", report["warned"]),
                             ("breach", report["breached"])):  # fmt: skip
        for reference in references:
            item = said[reference]
            out.print(f"  {reference}: {kind} ({item['sop']}, {item['state']}, deadline "
                      f"{_local(item['deadline'])})", markup=False)  # fmt: skip
    for item in report["escalated"]:
        out.print(f"  {item['reference']}: {item['trigger']} -> {item['state']}", markup=False)
    for item in report["failed"]:
        out.print(f"  {item['reference']}: would fail: {item['error']}", markup=False)
    out.print("Nothing was recorded or sent.", markup=False)


def _local(deadline: str) -> str:
    """A deadline, on its SOP's calendar, to the minute with its offset (the JSON keeps it
    whole): '2026-12-14 23:59+01:00', not '2026-12-14T23:59:59.999999+01:00'."""
    return datetime.fromisoformat(deadline).isoformat(" ", "minutes") if deadline else "-"
