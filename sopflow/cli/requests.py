"""``sopflow request`` and ``sopflow inbox``: file, move, show and list requests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import err, out, print_json
from sopflow.errors import FieldError, InvalidData
from sopflow.services import Command, CommandResult, ListFilter
from sopflow.store.blobs import Upload

app = typer.Typer(help="Recruitment requests.", no_args_is_help=True)

AsOption = Annotated[str, typer.Option("--as", help="the acting user's e-mail")]
DocOption = Annotated[
    list[str] | None,
    typer.Option("--document", metavar="KIND=PATH", help="attach a document; repeatable"),
]
KeyOption = Annotated[str | None, typer.Option(help="makes a retry apply nothing twice")]


def read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidData([FieldError("--data", "unreadable", f"{path}: {exc.strerror}")]) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidData(
            [FieldError("--data", "malformed-json", f"{path}:{exc.lineno}:{exc.colno}: {exc.msg}")]
        ) from exc
    if not isinstance(data, dict):
        raise InvalidData(
            [
                FieldError(
                    "--data", "malformed-json", f"{path}: expected a JSON object of field values"
                )
            ]
        )
    return data


def read_documents(specs: list[str] | None) -> list[Upload]:
    uploads, errors = [], []
    for spec in specs or []:
        kind, sep, name = spec.partition("=")
        if not sep or not kind or not name:
            errors.append(FieldError("--document", "usage", f"'{spec}': use KIND=PATH"))
            continue
        try:
            uploads.append(Upload(kind, Path(name).name, Path(name).read_bytes()))
        except OSError as exc:
            errors.append(FieldError(f"document:{kind}", "unreadable", f"{name}: {exc.strerror}"))
    if errors:
        raise InvalidData(errors, context="documents")
    return uploads


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
    result = bootstrap.services().commands.submit(sop, actor, Command(
        data=read_json(data), documents=read_documents(document), comment=comment,
        idempotency_key=idempotency_key))  # fmt: skip
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
    expected_version: Annotated[int | None, typer.Option(help="refuse if changed since")] = None,
) -> None:
    """Move a request: fire TRIGGER as the given user."""
    result = bootstrap.services().commands.act(reference, trigger, actor, Command(
        data=read_json(data) if data else {}, documents=read_documents(document),
        comment=comment, reason=reason, idempotency_key=idempotency_key,
        expected_version=expected_version))  # fmt: skip
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
    result = bootstrap.services().commands.attach(
        reference,
        actor,
        Command(
            documents=read_documents(document), comment=comment, idempotency_key=idempotency_key
        ),
    )
    _report(result)


@app.command()
def show(
    reference: Annotated[str, typer.Argument(metavar="REF")],
    actor: AsOption,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A request: state, data, documents, deadline, what each role may do next."""
    view = bootstrap.services().queries.show(reference, actor)
    if as_json:
        print_json(view)
        return
    out.print(
        f"[bold]{view['reference']}[/bold]  {view['sop_id']} v{view['sop_version']}  "
        f"state [bold]{view['state']}[/bold] ({view['state_label'].get('en')})"
        f"{'  OVERDUE' if view['overdue'] else ''}"
    )
    out.print(
        f"organisation {view['organisation_id']}, filed by {view['created_by']} on "
        f"{view['created_at']}; deadline {view['deadline'] or 'none'}",
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
    out.print(
        f"you ({', '.join(view['your_roles']) or 'no role'}) may: "
        f"{', '.join(view['allowed_triggers']) or 'nothing now'}",
        markup=False,
    )
    for role, triggers in view["next_steps_by_role"].items():
        out.print(f"  {role}: {', '.join(triggers)}", markup=False)


def _table(rows: list[dict[str, Any]], extra: str | None = None) -> Table:
    table = Table(
        "reference", "sop", "organisation", "state", "deadline", *([extra] if extra else [])
    )
    for r in rows:
        table.add_row(
            r["reference"],
            f"{r['sop_id']} v{r['sop_version']}",
            r["organisation_id"],
            r["state"],
            (r["deadline"] or "")[:16],
            *([", ".join(r[extra])] if extra else []),
        )
    return table


@app.command("list")
def list_requests(
    actor: AsOption,
    state: Annotated[str | None, typer.Option()] = None,
    sop: Annotated[str | None, typer.Option()] = None,
    org: Annotated[str | None, typer.Option()] = None,
    overdue: Annotated[bool, typer.Option("--overdue")] = False,
    text: Annotated[str | None, typer.Option(help="search reference and organisation")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Requests visible to the user, newest first."""
    rows = bootstrap.services().queries.search(actor, ListFilter(state, sop, org, overdue, text))
    if as_json:
        print_json(rows)
    else:
        out.print(_table(rows))


def inbox(actor: AsOption, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What this user may act on now, oldest deadline first."""
    rows = bootstrap.services().queries.inbox(actor)
    if as_json:
        print_json(rows)
    else:
        out.print(_table(rows, "allowed_triggers"))
