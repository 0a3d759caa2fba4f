"""``sopflow audit``: history, replay, chain verification and exports for auditors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import ReaderOption, err, out, print_json
from sopflow.services import VerifyReport, check_export
from sopflow.services.export_manifest import anchor_of, read_manifest

app = typer.Typer(help="History, replay, verification and export.", no_args_is_help=True)


def _moment(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"'{text}' is not an ISO date or timestamp", param_hint=option
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@app.command()
def history(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    actor: ReaderOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every event: who, role, when, what, why, SOP version, clause, and the notices sent."""
    hist = bootstrap.services(existing=True).audit.history(reference, actor)
    if as_json:
        print_json(hist)
        return
    table = Table(title=f"{hist['reference']} ({hist['sop_id']})")
    for name in ("seq", "when (UTC)", "who", "role", "what", "why", "clause", "sop"):
        # folded, never cut: an auditor copies these (a time into --as-of, a clause); a
        # time is kept on one line
        table.add_column(name, overflow="fold", no_wrap=name == "when (UTC)",
                         min_width=26 if name == "when (UTC)" else None)  # fmt: skip
    for e in hist["events"]:
        why = "; ".join(x for x in (e["reason"], e["comment"]) if x)
        table.add_row(
            str(e["seq"]),
            # to the microsecond, as stored: the time pasted into --as-of includes the step
            e["at"].removesuffix("+00:00"),
            e["actor"] + (f" (for {e['acting_for']})" if e["acting_for"] else ""),
            e["role"],
            f"{e['trigger']}: {e['from_state'] or '-'} -> {e['to_state']}",
            why,
            e["legal_clause"] or "",
            f"v{e['sop_version']}",
        )
    out.print(table)
    # each clause's citation once, under the table (the column keeps its id, to copy)
    cited = {e["legal_clause"]: e["legal_citation"] for e in hist["events"]
             if e["legal_clause"] and e.get("legal_citation")}  # fmt: skip
    for clause, citation in cited.items():
        out.print(f"  clause {clause}: {citation}", markup=False)
    # what a rule relied on from outside the request (the directory's licence record, the
    # register's counts), as recorded with the step: the record of its day
    for e in hist["events"]:
        for g in (e["payload"] or {}).get("grounds", []):
            values = ", ".join(f"{k} {g[k]}" for k in sorted(set(g) - {"rule"}, key=_in_order))
            out.print(f"  seq {e['seq']}: {g['rule']} relied on {values}", markup=False)
    for e in hist["events"]:
        for n in e["notices"]:
            sent = (
                f"sent {n['sent_at'].removesuffix('+00:00')}, provider id "
                f"{n['provider_message_id']}"
                if n["sent_at"]
                else f"{n['status']} ({n['attempts']} attempt(s))"
            )
            out.print(
                f"  seq {e['seq']}: {n['recipient_kind']} {n['recipient'] or '-'} notified "
                f"with '{n['template']}' [{n['locale']}]: {sent}",
                markup=False,
            )


_GROUNDS_ORDER = ("licence", "agency", "status", "expires", "latest")


def _in_order(key: str) -> tuple[int, str]:
    """A licence's number first, then whose it is and its state, then the rest by name."""
    return (_GROUNDS_ORDER.index(key) if key in _GROUNDS_ORDER else len(_GROUNDS_ORDER), key)


@app.command()
def replay(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    actor: ReaderOption = None,
    as_of: Annotated[str | None, typer.Option(metavar="TIMESTAMP")] = None,
    at_seq: Annotated[int | None, typer.Option(metavar="N")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Rebuild the request from its events; report any difference from the stored state.
    --as-of: an ISO date or time (without a zone: UTC; a date alone: its start, 00:00 UTC)."""
    if as_of is not None and at_seq is not None:
        raise typer.BadParameter("give --as-of or --at-seq, not both", param_hint="--as-of")
    if as_of is not None and not as_of.strip():
        raise typer.BadParameter("an empty moment: give a date or a time", param_hint="--as-of")
    result = bootstrap.services(existing=True).audit.replay(
        reference, actor, at_seq=at_seq, as_of=_moment(as_of, "--as-of") if as_of else None
    )
    if as_json:
        print_json(result)
    else:
        moment = (
            f"as of {result['as_of']}"
            if result["as_of"]
            else f"at event {result['at_seq']}"
            if result["at_seq"]
            else "now"
        )
        if result["state"] is None:  # a moment before its first event
            out.print(f"{reference} {moment}: not filed yet (its first event is at "
                      f"{result['first_event_at']})", markup=False)  # fmt: skip
        else:
            out.print(f"{reference} {moment}: state {result['state']} after "
                      f"{result['events_applied']} of {result['last_seq']} event(s)",
                      markup=False)  # fmt: skip
        out.print(json.dumps(result["data"], indent=2, ensure_ascii=False), markup=False)
        for diff in result["differences"]:
            err.print(f"difference: {diff}", markup=False)
    if not result["consistent"]:
        raise typer.Exit(1)


def _print_report(report: VerifyReport, as_json: bool, notes: list[str] | None = None) -> None:
    """The verdict; ``notes``: what was not there to check (already in an export report's
    JSON), said after it."""
    if as_json:
        print_json(report.to_dict())
    elif report.intact:
        n = report.directory_entries
        directory = "" if n is None else f"; directory log: {n} entr{'y' if n == 1 else 'ies'}"
        out.print(f"intact: {report.events} event(s) in {report.requests} request(s) "
                  f"verified{directory}")  # fmt: skip
    else:
        err.print(
            f"NOT INTACT: {len(report.breaks)} problem(s); first: {report.breaks[0].message}",
            markup=False,
        )
        for b in report.breaks[1:20]:
            err.print(f"  {b.code}: {b.message}", markup=False)
    for note in [] if as_json else notes or []:
        err.print(f"note: {note}", markup=False)
    if not report.intact:
        raise typer.Exit(1)


@app.command()
def verify(
    reference: Annotated[str | None, typer.Argument(metavar="[REF]")] = None,
    anchor: Annotated[
        Path | None,
        typer.Option(
            metavar="MANIFEST", help="an earlier export's manifest: its head must still be there"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check the hash chains (exit 0 intact, 1 not) and name the first broken link."""
    held = anchor_of(read_manifest(anchor)) if anchor is not None else None
    audit = bootstrap.services(existing=True).audit
    _print_report(audit.verify(reference, held), as_json)


@app.command()
def directory(
    org: Annotated[
        str | None,
        typer.Option(metavar="ORG", help="only this organisation's entries and its users'"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The directory log, oldest first: when, who, what (organisations added, licences
    changed, users added) and the change (a licence's status and expiry before -> after)."""
    entries = bootstrap.services(existing=True).directory_log.entries(org)
    if as_json:
        print_json([{**e, "at": e["at"].isoformat()} for e in entries])
        return
    for e in entries:
        when = e["at"].astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        out.print(f"{when}  {e['by']}  {e['action']}  {e['subject']}  {e['summary']}",
                  markup=False, soft_wrap=True)  # fmt: skip


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"


@app.command()
def export(
    start: Annotated[
        str | None,
        typer.Option("--from", metavar="DATE", help="from this day or moment (UTC unless it says)"),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option("--to", metavar="DATE", help="to the end of this day, or up to this moment"),
    ] = None,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", case_sensitive=False)
    ] = ExportFormat.jsonl,
    output: Annotated[Path | None, typer.Option(help="default: sopflow-events.<format>")] = None,
    sop: Annotated[
        list[str] | None,
        typer.Option(
            "--sop",
            metavar="ID",
            help="only this SOP's events in full (repeatable); the others' are redacted to "
            "their hashes, so the chain can still be checked",
        ),
    ] = None,
) -> None:
    """Write the event log, the whole directory log beside it (--from/--to select events
    only) and a manifest (counts, both chains' heads, the files' SHA-256)."""
    first = _moment(start, "--from") if start else None
    last = _moment(end, "--to") if end else None
    if last is not None and end is not None and len(end.strip()) == len("YYYY-MM-DD"):
        last += timedelta(days=1)  # a date names a whole day, as on the web and in stats
    if first and last and last <= first:
        said = "is --from itself: the window is empty" if last == first else "is before --from"
        raise typer.BadParameter(f"'{end}' {said} '{start}'", param_hint="--to")
    target = output or Path(f"sopflow-events.{fmt.value}")
    services = bootstrap.services(existing=True)
    scope = frozenset(sop) if sop else None
    for sop_id in sorted(scope or ()):
        services.sops.catalogue.get(sop_id)  # an unknown SOP id is an error, not an empty file
    manifest = services.audit.export(target, fmt.value, first, last, scope=scope)
    redacted = manifest.get("redacted_events") or 0
    note = f" ({redacted} of other SOPs redacted to their hashes)" if redacted else ""
    directory, n = manifest["directory_log"], manifest["directory_log"]["entries"]
    withheld = directory["redacted_entries"]
    users = f" ({withheld} of users redacted to their hashes)" if withheld else ""
    err.print(f"wrote {manifest['events']} event(s) to {target}{note}, {n} directory log "
              f"entr{'y' if n == 1 else 'ies'}{users} to {target.with_name(directory['file'])} "
              f"and {target}.manifest.json")  # fmt: skip
    out.print(str(target), markup=False)


@app.command("check-export")
def check_export_cmd(
    path: Annotated[Path, typer.Argument(metavar="FILE")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Verify an exported file (JSONL or CSV) and the directory log beside it against their
    manifest, without the database."""
    report = check_export(path)
    _print_report(report, as_json, report.notes)
