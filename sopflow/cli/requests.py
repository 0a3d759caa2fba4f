"""``sopflow request`` and ``sopflow inbox``: file, move, show and list requests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import ReaderOption, err, out, print_json
from sopflow.errors import FieldError, InvalidData, NotFound
from sopflow.services import CommandResult, ListFilter, Services
from sopflow.store.blobs import Upload
from sopflow.text_input import read_text, strict_json

app = typer.Typer(help="Recruitment requests.", no_args_is_help=True)

AsOption = Annotated[str, typer.Option("--as", help="the acting user's e-mail")]
DocOption = Annotated[
    list[str] | None,
    typer.Option("--document", metavar="KIND=PATH", help="attach a document; repeatable"),
]


def _a_key(value: str | None) -> str | None:
    # an empty key would turn idempotency off without a word: the retry would apply twice
    if value is not None and not value.strip():
        raise typer.BadParameter("an empty key: give a key, or leave the option out")
    if value is not None and len(value) > 200:
        raise typer.BadParameter(f"at most 200 characters ({len(value)} given)")
    return value


KeyOption = Annotated[str | None, typer.Option(help="makes a retry apply nothing twice",
                                               callback=_a_key)]  # fmt: skip


def read_json(path: Path) -> dict[str, Any]:
    text = read_text(path, "--data")
    try:
        data = strict_json(text)
    except json.JSONDecodeError as exc:
        raise InvalidData(
            [FieldError("--data", "malformed-json", f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}")]
        ) from exc
    except ValueError as exc:  # a key twice, NaN
        raise InvalidData([FieldError("--data", "malformed-json", f"{path}: {exc}")]) from exc
    if not isinstance(data, dict):
        raise InvalidData(
            [
                FieldError(
                    "--data", "malformed-json", f"{path}: expected a JSON object of field values"
                )
            ]
        )
    return data


def read_documents(specs: list[str] | None) -> list[dict[str, str]]:
    """Store each KIND=PATH file in the document store; refs for the command (the flow run,
    possibly on another machine, reads the bytes from the store)."""
    uploads, errors = [], []
    services = bootstrap.services()
    limit = services.ctx.max_document_bytes
    for spec in specs or []:
        kind, sep, name = spec.partition("=")
        if not sep or not kind or not name:
            errors.append(FieldError("--document", "usage", f"'{spec}': use KIND=PATH"))
            continue
        try:
            if Path(name).stat().st_size > limit:  # refused before it is read or stored
                errors.append(FieldError(f"document:{kind}", "document-too-large",
                                         f"{Path(name).name} exceeds {limit} bytes",
                                         {"file": Path(name).name, "limit": limit}))  # fmt: skip
                continue
            uploads.append(Upload(kind, Path(name).name, Path(name).read_bytes()))
        except OSError as exc:
            errors.append(FieldError(f"document:{kind}", "unreadable", f"{name}: {exc.strerror}"))
    try:  # the services' own checks of each file (empty, not what its name says, too large)
        services.commands.documents(uploads)
    except InvalidData as exc:
        errors.extend(exc.errors)
    if errors:  # every bad file named at once; none of the files stored
        raise InvalidData(errors, context="documents")
    refs = []
    for upload in uploads:
        stored = services.ctx.blobs.put(upload)
        refs.append({"kind": upload.kind, "file_name": stored.file_name, "sha256": stored.sha256})
    return refs


def _report(result: CommandResult) -> None:
    note = " (already applied: nothing changed)" if result.replayed else ""
    flags = f"; flagged: {'; '.join(result.flags)}" if result.flags else ""
    err.print(
        f"{result.reference}: {result.trigger} -> {result.state} (event {result.seq}, "
        f"version {result.version}, {result.notices} notice(s)){flags}{note}",
        markup=False,
    )


@app.command()
def submit(
    sop: Annotated[str, typer.Option(help="the SOP id")],
    actor: AsOption,
    data: Annotated[Path, typer.Option(help="a JSON object of field values")],
    document: DocOption = None,
    comment: Annotated[str | None, typer.Option()] = None,
    idempotency_key: KeyOption = None,
) -> None:
    """File a new request; print its reference as the last line."""
    from workflows.client import run_command  # the flows' client: only where a command runs

    result = run_command({"command": "submit", "sop": sop, "as": actor, "data": read_json(data),
                          "documents": read_documents(document), "comment": comment,
                          "idempotency_key": idempotency_key})  # fmt: skip
    _report(result)
    out.print(result.reference, markup=False)


@app.command()
def act(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    trigger: Annotated[str, typer.Argument(metavar="TRIGGER")],
    actor: AsOption,
    comment: Annotated[str | None, typer.Option()] = None,
    reason: Annotated[str | None, typer.Option(help="a reason code the SOP lists")] = None,
    data: Annotated[Path | None, typer.Option(help="a JSON object of field values")] = None,
    document: DocOption = None,
    idempotency_key: KeyOption = None,
    expected_version: Annotated[
        int | None, typer.Option(min=1, help="refuse if changed since")
    ] = None,
) -> None:
    """Move a request: fire TRIGGER as the given user."""
    from workflows.client import run_command

    result = run_command({"command": "act", "reference": reference, "trigger": trigger,
                          "as": actor, "data": read_json(data) if data else {},
                          "documents": read_documents(document), "comment": comment,
                          "reason": reason, "idempotency_key": idempotency_key,
                          "expected_version": expected_version})  # fmt: skip
    _report(result)
    out.print(result.state, markup=False)


@app.command()
def attach(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    actor: AsOption,
    document: DocOption = None,
    comment: Annotated[str | None, typer.Option()] = None,
    idempotency_key: KeyOption = None,
) -> None:
    """Add documents to a request without changing its state."""
    from workflows.client import run_command

    result = run_command({"command": "attach", "reference": reference, "as": actor,
                          "documents": read_documents(document), "comment": comment,
                          "idempotency_key": idempotency_key})  # fmt: skip
    _report(result)


@app.command("import")
def import_batch(
    path: Annotated[Path, typer.Argument(metavar="FILE.jsonl", help="one command per line")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Apply a batch of commands (one flow run); a failed line is reported, the rest go on;
    running the same file again applies nothing twice."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from workflows.client import run_batch
    from workflows.commands import batch_lines

    total = sum(1 for line in batch_lines(path) if line.strip())  # refuses what it cannot read
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:  # fmt: skip
        task = bar.add_task(f"importing {path.name}", total=total)
        summary = run_batch(path, lambda done: bar.update(task, completed=done))
    if as_json:
        print_json(summary)
    else:
        out.print(f"{summary['commands']} command(s): {summary['applied']} applied, "
                  f"{summary['already_applied']} already applied, {len(summary['failed'])} "
                  "failed", markup=False)  # fmt: skip
        for failure in summary["failed"]:
            error = failure["error"]
            err.print(f"  line {failure['line']}: error[{error['code']}] {error['message']}",
                      markup=False)  # fmt: skip
    if summary["failed"]:
        raise typer.Exit(1)


@app.command()
def show(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    actor: ReaderOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A request: state, data, documents, deadline, what each role may do next."""
    services = bootstrap.services(existing=True)
    view = services.queries.show(reference, actor)
    if as_json:
        print_json(view)
        return
    out.print(
        f"[bold]{view['reference']}[/bold]  {view['sop_id']} v{view['sop_version']}  "
        f"state [bold]{view['state']}[/bold] ({view['state_label']})"
        f"{'  OVERDUE' if view['overdue'] else ''}"
    )
    out.print(
        # the times as the lists and the inbox give them: local to the SOP's authority
        f"organisation {view['organisation_id']}, filed by {view['created_by']} on "
        f"{_local(services, view, view['created_at'])}; deadline "
        f"{_local(services, view, view['deadline']) or 'none'}",
        markup=False,
    )
    table = Table("field", "value", title="Data")
    for key, value in view["data"].items():
        table.add_row(
            key, json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
        )
    out.print(table)
    for doc in view["documents"]:
        out.print(
            f"  document {doc['kind']}: {doc['file_name']} ({doc['media_type']}, "
            f"{doc['size']} bytes, sha256 {doc['sha256'][:16]}…)",
            markup=False,
        )
    if actor is not None:
        out.print(
            f"you ({', '.join(view['your_roles']) or 'no role'}) may: "
            f"{', '.join(view['allowed_triggers']) or 'nothing now'}",
            markup=False,
        )
    elif not view["next_steps_by_role"]:
        out.print("nothing more can be done: the request is closed", markup=False)
    for role, triggers in view["next_steps_by_role"].items():
        line = f"  {role}: {', '.join(triggers)}"
        if role in view["your_roles"]:
            # a step of the reader's own role that is not theirs now is barred to this person
            # (separation of duties): the role may still do it, through someone else
            barred = [t for t in triggers if t not in view["allowed_triggers"]]
            mine = [t for t in triggers if t not in barred]
            line = f"  {role}: {', '.join(mine) or 'nothing by you'}" + (
                f" (not by you, separation of duties: {', '.join(barred)})" if barred else ""
            )
        out.print(line, markup=False)


def _deadline(services: Services, row: dict[str, Any]) -> str:
    return _local(services, row, row["deadline"])


def _local(services: Services, row: dict[str, Any], when: str | None) -> str:
    """A moment of a request as its SOP's officials read it: local time in the SOP's time
    zone, the zone named (in UTC, said so, if the SOP version is not at hand)."""
    if not when:
        return ""
    moment = datetime.fromisoformat(when)
    try:
        sop = services.sops.catalogue.get(row["sop_id"], row["sop_version"])
    except NotFound:
        return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return f"{moment.astimezone(sop.calendar.zone):%Y-%m-%d %H:%M} ({sop.spec.calendar.timezone})"


def _table(services: Services, rows: list[dict[str, Any]], extra: str | None = None) -> Table:
    table = Table(
        "reference", "sop", "organisation", "state", "deadline", *([extra] if extra else [])
    )
    for r in rows:
        table.add_row(
            r["reference"],
            f"{r['sop_id']} v{r['sop_version']}",
            r["organisation_id"],
            r["state"],
            _deadline(services, r),
            *([", ".join(r[extra])] if extra else []),
        )
    return table


def _check_filters(services: Services, state: str | None, sop: str | None,
                   org: str | None) -> None:  # fmt: skip
    """A filter that names nothing that exists is a mistake to point out, not an empty list."""
    catalogue = services.sops.catalogue
    if sop:
        catalogue.get(sop)  # an unknown SOP is not found, naming the known ones
    if state:
        ids = [sop] if sop else catalogue.ids()
        states = sorted({s for i in ids for v in catalogue.all_versions(i) for s in v.states})
        if state not in states:
            where = f"SOP '{sop}' has no state" if sop else "no SOP has a state"
            raise typer.BadParameter(f"{where} '{state}'; states: {', '.join(states)}",
                                     param_hint="--state")  # fmt: skip
    if org and services.directory.organisation(org) is None:
        raise typer.BadParameter(f"no organisation '{org}'", param_hint="--org")


@app.command("list")
def list_requests(
    actor: ReaderOption = None,
    state: Annotated[str | None, typer.Option()] = None,
    sop: Annotated[str | None, typer.Option()] = None,
    org: Annotated[str | None, typer.Option()] = None,
    overdue: Annotated[bool, typer.Option("--overdue")] = False,
    text: Annotated[str | None, typer.Option(help="search reference and organisation")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Requests visible to the user (without --as: every request), newest first."""
    services = bootstrap.services(existing=True)
    _check_filters(services, state, sop, org)
    rows = services.queries.search(actor, ListFilter(state, sop, org, overdue, text))
    if as_json:
        print_json(rows)
    else:
        out.print(_table(services, rows))


def inbox(actor: AsOption, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What this user may act on now, oldest deadline first."""
    services = bootstrap.services(existing=True)
    rows = services.queries.inbox(actor)
    if as_json:
        print_json(rows)
    else:
        out.print(_table(services, rows, "allowed_triggers"))
