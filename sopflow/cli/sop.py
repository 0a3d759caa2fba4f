"""``sopflow sop``: validate, list, show, draw and publish SOP definitions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sopflow import bootstrap
from sopflow.cli.common import Locale, LocaleOption, err, out, print_json, print_text
from sopflow.errors import SopDefinitionError
from sopflow.sop_files import SopCatalogue, check_file, compile_file, shipped_sop_dir
from sopflow.spec.schema import SCHEMA_FILE, sop_json_schema_text
from states.diagram import Format, diagram
from states.machine import CompiledSop

app = typer.Typer(
    help="SOP definitions: validate, publish, list, show, graph, schema.", no_args_is_help=True
)


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="SOP files to check", show_default=False)],
    strict: Annotated[bool, typer.Option(help="treat warnings as errors")] = False,
) -> None:
    """Check SOP files; print every problem as PATH:LINE:COL: error[CODE] MESSAGE."""
    errors = warnings = 0
    together = SopCatalogue()  # two files of one id and version must hold the same text
    for path in paths:
        issues = check_file(path)
        if not any(i.severity == "error" for i in issues):
            try:
                together.add(compile_file(path))
            except SopDefinitionError as exc:
                issues = issues + exc.issues
        for issue in issues:
            err.print(issue.format(), markup=False)
        errors += sum(1 for i in issues if i.severity == "error")
        warnings += sum(1 for i in issues if i.severity == "warning")
    summary = f"{len(paths)} file(s): {errors} error(s), {warnings} warning(s)"
    err.print(summary, markup=False)
    if errors or (strict and warnings):
        raise typer.Exit(1)


@app.command("list")
def list_sops(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every SOP version known to this installation."""
    catalogue = bootstrap.catalogue()
    rows = [_summary(s) for s in sorted(catalogue.versions.values(), key=lambda s: s.key)]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "version", "effective from", "authority", "title", "states", "transitions")
    for row in rows:
        table.add_row(
            row["id"],
            str(row["version"]),
            row["effective_from"],
            row["authority"],
            row["title"],
            str(row["states"]),
            str(row["transitions"]),
        )
    out.print(table)
    for issue in catalogue.problems:
        err.print(issue.format(), markup=False)


def _summary(sop: CompiledSop) -> dict[str, Any]:
    spec = sop.spec
    return {
        "id": spec.id, "version": spec.version, "effective_from": spec.effective_from.isoformat(),
        "authority": spec.authority.id, "title": spec.title.en, "states": len(spec.states),
        "transitions": len(spec.transitions), "content_hash": sop.content_hash,
    }  # fmt: skip


def normalised(sop: CompiledSop) -> dict[str, Any]:
    """The spec as plain JSON, so that other tools can drive any SOP."""
    spec = sop.spec.model_dump(mode="json", by_alias=True)
    return {"content_hash": sop.content_hash, "file": sop.file, **spec}


@app.command()
def show(
    sop_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[int | None, typer.Option(min=1, help="default: the latest")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="the normalised spec")] = False,
    locale: LocaleOption = Locale.en,
) -> None:
    """One SOP version: its roles, fields, documents, states and transitions."""
    sop = bootstrap.catalogue().get(sop_id, version)
    if as_json:
        print_json(normalised(sop))
        return
    spec = sop.spec
    out.print(
        f"[bold]{spec.title.get(locale)}[/bold]  {spec.id} v{spec.version} "
        f"(effective {spec.effective_from}) {sop.content_hash[:19]}"
    )
    out.print(
        f"authority: {spec.authority.name.get(locale)} ({spec.authority.id}), "
        f"jurisdiction {spec.jurisdiction}"
    )
    roles = Table("role", "kind", "scope", "title", title="Roles")
    for r in spec.roles:
        roles.add_row(r.id, r.kind, r.scope, r.title.get(locale))
    out.print(roles)
    fields = Table("field", "type", "required", "label", title="Fields")
    for f in spec.fields:
        fields.add_row(f.id, f.type, "yes" if f.required else "", f.label.get(locale))
    out.print(fields)
    states = Table("state", "final", "waiting on", "deadline", "label", title="States")
    for s in spec.states:
        sla = s.sla
        due = (
            f"{sla.working_days} working days"
            if sla and sla.working_days
            else f"{sla.hours} h"
            if sla
            else ""
        )
        states.add_row(
            s.id + (" (initial)" if s.initial else ""),
            s.final or "",
            s.waiting_on,
            due,
            s.label.get(locale),
        )
    out.print(states)
    trans = Table("trigger", "from", "to", "roles", "requires", "clause", title="Transitions")
    for t in spec.transitions:
        req = t.requires
        needs = [
            *req.fields,
            *(f"doc:{d}" for d in req.documents),
            *(f"rule:{r.rule}" for r in req.rules),
            *(["comment"] if req.comment else []),
            *(["reason"] if req.reason else []),
            *(f"if {c.expr}" for c in req.conditions),
        ]
        trans.add_row(
            t.trigger,
            ", ".join(t.source),
            t.to,
            ", ".join(t.roles),
            "; ".join(needs),
            t.legal_clause or "",
        )
    out.print(trans)


@app.command()
def graph(
    sop_id: Annotated[str, typer.Argument(metavar="ID")],
    version: Annotated[int | None, typer.Option(min=1)] = None,
    fmt: Annotated[str, typer.Option("--format", help="mermaid or dot")] = "mermaid",
    locale: Annotated[
        Locale | None,
        typer.Option(
            help="name states and steps in this language (ar, fr or en)", case_sensitive=False
        ),
    ] = None,
) -> None:
    """A state diagram: ids with the roles on the edges, or with --locale the SOP's own
    names of states and steps in that language. Final states are marked."""
    if fmt not in ("mermaid", "dot"):
        raise typer.BadParameter("use mermaid or dot", param_hint="--format")
    sop = bootstrap.catalogue().get(sop_id, version)
    shape: Format = "mermaid" if fmt == "mermaid" else "dot"
    print_text(diagram(sop, shape, locale or "en", labels=locale is not None))


@app.command()
def schema(
    write: Annotated[bool, typer.Option(help=f"write sop_definitions/{SCHEMA_FILE}")] = False,
    check: Annotated[bool, typer.Option(help="fail if the shipped schema is out of date")] = False,
) -> None:
    """The JSON Schema of the SOP language."""
    text = sop_json_schema_text()
    target = shipped_sop_dir() / SCHEMA_FILE
    if write:
        target.write_text(text, encoding="utf-8")
        err.print(f"wrote {target}")
    elif check:
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if current != text:
            err.print(f"{target} is out of date: run 'make schema'")
            raise typer.Exit(1)
        err.print(f"{target} is up to date")
    else:
        print_text(text)


@app.command()
def publish(path: Annotated[Path, typer.Argument(metavar="PATH")]) -> None:
    """Register an SOP version (refused if that version exists with other content).

    The file is checked as ``sop validate`` checks it: its warnings are printed, an error
    refuses it."""
    issues = check_file(path)
    if any(i.severity == "error" for i in issues):
        raise SopDefinitionError(issues)
    for issue in issues:
        err.print(issue.format(), markup=False)
    services = bootstrap.services()
    sop, new = services.sops.publish(path, services.ctx.clock())  # the services' clock
    state = "registered" if new else "already registered (identical)"
    err.print(f"{sop.spec.id} v{sop.spec.version} {state}; {sop.content_hash}")
