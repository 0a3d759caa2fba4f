"""``sopflow sla sweep``: record passed deadlines and apply the SOPs' breach actions now."""

from __future__ import annotations

from typing import Annotated

import typer

from sopflow.cli.common import err, out, print_json

app = typer.Typer(help="Deadlines (SLA) of requests.", no_args_is_help=True)


@app.command()
def sweep(
    limit: Annotated[int, typer.Option(min=1, help="at most this many requests")] = 500,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Warn of every near deadline once (a deadline_warning event and its notices) and breach
    every overdue request once: a breach event, its notices, its escalation."""
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
