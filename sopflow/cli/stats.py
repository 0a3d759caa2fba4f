"""``sopflow stats``: labour-migration statistics and operations figures from the event log.

Six tables (docs/statistics.md defines every figure): ``placements`` (ICLS dimensions,
SDG 10.7.1, small cells suppressed), ``stages`` (time in stage, bottlenecks), ``deadlines``
(compliance per stage and role), ``returns`` (returns for correction, reason codes),
``ageing`` (open requests) and ``workload`` (officials). Exit status: 0 ok, 1 invalid
input (the reason on stderr), 2 usage.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from sopflow import bootstrap
from sopflow.analytics.deadlines import DEADLINE_DIMENSIONS
from sopflow.analytics.dimensions import PLACEMENT_DIMENSIONS, QueryInvalid
from sopflow.analytics.model import Labeller, Table, cells, format_value
from sopflow.analytics.returns import RETURN_DIMENSIONS
from sopflow.analytics.stages import AGEING_DIMENSIONS, STAGE_DIMENSIONS
from sopflow.analytics.workload import WORKLOAD_DIMENSIONS
from sopflow.cli.common import err, out, print_json, print_text
from sopflow.errors import FieldError
from sopflow.services.statistics import build_query

app = typer.Typer(help="Statistics and operations figures (docs/statistics.md).",
                  no_args_is_help=True)  # fmt: skip


class Period(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class Basis(StrEnum):
    decision = "decision"
    filing = "filing"


From = Annotated[str | None, typer.Option("--from", metavar="DATE", help="first day (local)")]
To = Annotated[str | None, typer.Option("--to", metavar="DATE", help="last day, included")]


def _by(allowed: tuple[str, ...]) -> Any:
    return typer.Option("--by", metavar="DIMENSION", help="break down by (repeatable, or "
                        f"comma-separated): {', '.join(allowed)}")  # fmt: skip


Sop = Annotated[list[str] | None, typer.Option("--sop", metavar="SOP", help="repeatable")]
PeriodOpt = Annotated[
    Period, typer.Option("--period", help="length of a period", case_sensitive=False)
]
FormatOpt = Annotated[Format, typer.Option("--format", case_sensitive=False)]
AsOpt = Annotated[str | None, typer.Option(
    "--as", metavar="EMAIL", help="see what this official or auditor may see")]  # fmt: skip
# labels for people instead of identifiers; codes (countries, ISCO, ISIC) keep both
READABLE = frozenset({"stage", "role", "reason", "trigger", "outcome", "waiting_on", "sex",
                      "education_level", "placement_channel"})  # fmt: skip
CODED = frozenset({"destination_country", "origin_country", "citizenship", "occupation_major",
                   "occupation_unit", "industry_section"})  # fmt: skip


# a query's parameter -> the option that gives it here
OPTIONS = {"from": "--from", "to": "--to", "by": "--by", "sop": "--sop", "period": "--period",
           "min_cell": "--min-cell", "basis": "--basis"}  # fmt: skip


def _in_options(exc: QueryInvalid) -> QueryInvalid:
    """The query's mistakes named by this command's options (``--by``, not ``by``)."""
    said = []
    for e in exc.errors:
        message, params = e.message, dict(e.params or {})
        if e.field == "to" and e.code == "out-of-range" and "limit" in params:
            message = f"--to {params['value']} is before --from {params['limit']}"
        said.append(FieldError(OPTIONS.get(e.field, e.field), e.code, message, e.params))
    return QueryInvalid(said)


def _run(name: str, start: str | None, end: str | None, by: list[str] | None,
         sops: list[str] | None, period: Period, fmt: Format, actor: str | None,
         min_cell: int | None = None, basis: Basis = Basis.decision) -> None:  # fmt: skip
    services = bootstrap.services()
    try:
        query = build_query(start, end, by or (), sops or (), period.value, min_cell,
                            basis.value, table=name)  # fmt: skip
        table = services.statistics.table(name, query, actor)
    except QueryInvalid as exc:
        raise _in_options(exc) from None
    labels = services.statistics.labels(actor)
    if fmt is Format.json:
        print_json(table.to_json(labels))
    elif fmt is Format.csv:
        print_text(table.csv(labels))
        for note in table.notes:
            err.print(f"note: {note}", markup=False)
    else:
        _print(table, labels)


def _key(dim: str, key: str, labels: Labeller) -> str:
    if dim in READABLE:
        return labels(dim, key, "en")
    if dim in CODED and labels(dim, key, "en") != key:
        return f"{key} {labels(dim, key, 'en')}"
    return key


def _total_keys(table: Table, key: str, labels: Labeller) -> list[str]:
    """The key columns of the total of ``key`` of ``table.totals_by``: its label in that
    dimension's column, ``total`` in the first other one (or with it, if none)."""
    by = table.totals_by or ""
    keys = [_key(by, key, labels) if d == by else "" for d in table.dimensions]
    other = [i for i, d in enumerate(table.dimensions) if d != by]
    if other:
        keys[other[0]] = "total"
    else:
        keys = [f"total: {k}" if k else k for k in keys]
    return keys


def _print(table: Table, labels: Labeller) -> None:
    shown = RichTable(*table.dimensions, *(m.name for m in table.measures), title=table.title)
    for row in table.rows:
        keys = [_key(d, k, labels) for d, k in zip(table.dimensions, row.keys, strict=True)]
        shown.add_row(*keys, *cells(table.measures, row))
    if table.total is not None:
        shown.add_row("total", *[""] * (len(table.dimensions) - 1),
                      *cells(table.measures, table.total), end_section=True)  # fmt: skip
    if table.totals:  # one per flow: flows are never added up (analytics.flows)
        shown.add_section()
    for sub in table.totals:
        shown.add_row(*_total_keys(table, sub.keys[0], labels), *cells(table.measures, sub))
    out.print(shown)
    if not table.rows:
        out.print("no data in the window", markup=False)
    out.print(table.definition, markup=False)
    hidden = table.total.suppressed if table.total is not None else ()
    for name, value in table.summary.items():
        if not isinstance(value, list | dict):  # a headline taken from a suppressed total says so
            out.print(f"{name}: {format_value(value, name in hidden) or '—'}", markup=False)
    for each in table.summary.get("flows", []):  # the headlines of flows kept apart
        flow = _key("flow", each["flow"], labels)
        for name in ("requests", "workers"):
            said = format_value(each[name], name in each["suppressed"]) or "—"
            out.print(f"{name} ({flow}): {said}", markup=False)
    for rank, item in enumerate(table.summary.get("bottlenecks", []), 1):
        where = ", ".join(_key(d, k, labels) for d, k in item["keys"].items())
        out.print(f"bottleneck {rank}: {where}: {item['days_total']} days "
                  f"({item['time_share_pct']} % of the time)", markup=False)  # fmt: skip
    queue = table.summary.get("queue_now", [])
    if queue:
        waiting = RichTable("sop", "role", "open", "overdue", title="Waiting for each role now")
        for item in queue:
            waiting.add_row(item["sop"], _key("role", item["role"], labels), str(item["open"]),
                            str(item["overdue"]))  # fmt: skip
        out.print(waiting)
    for note in table.notes:
        out.print(f"note: {note}", markup=False)


@app.command()
def placements(
    start: From = None, end: To = None,
    by: Annotated[list[str] | None, _by(tuple(PLACEMENT_DIMENSIONS))] = None, sop: Sop = None,
    period: PeriodOpt = Period.month,
    min_cell: Annotated[int | None, typer.Option(
        "--min-cell", metavar="N", min=0,
        help="suppress cells under N requests (default SOPFLOW_STATS_MIN_CELL or 5)")] = None,
    basis: Annotated[Basis, typer.Option(help="date that places a request",
                                         case_sensitive=False)] = Basis.decision,
    fmt: FormatOpt = Format.table, actor: AsOpt = None,
) -> None:  # fmt: skip
    """Placements and authorisations by ICLS dimensions, with SDG 10.7.1 recruitment costs."""
    _run("placements", start, end, by, sop, period, fmt, actor, min_cell, basis)


@app.command()
def stages(start: From = None, end: To = None,
        by: Annotated[list[str] | None, _by(STAGE_DIMENSIONS)] = None, sop: Sop = None,
           period: PeriodOpt = Period.month, fmt: FormatOpt = Format.table,
           actor: AsOpt = None) -> None:  # fmt: skip
    """Time spent in each stage (median, p90), bottlenecks, requests in each stage now."""
    _run("stages", start, end, by, sop, period, fmt, actor)


@app.command()
def deadlines(start: From = None, end: To = None,
        by: Annotated[list[str] | None, _by(DEADLINE_DIMENSIONS)] = None, sop: Sop = None,
              period: PeriodOpt = Period.month, fmt: FormatOpt = Format.table,
              actor: AsOpt = None) -> None:  # fmt: skip
    """Deadline compliance and breaches per stage and role."""
    _run("deadlines", start, end, by, sop, period, fmt, actor)


@app.command()
def returns(start: From = None, end: To = None,
        by: Annotated[list[str] | None, _by(RETURN_DIMENSIONS)] = None, sop: Sop = None,
            period: PeriodOpt = Period.month, fmt: FormatOpt = Format.table,
            actor: AsOpt = None) -> None:  # fmt: skip
    """Returns for correction: rates per stage, reason codes."""
    _run("returns", start, end, by, sop, period, fmt, actor)


@app.command()
def ageing(start: From = None, end: To = None,
        by: Annotated[list[str] | None, _by(AGEING_DIMENSIONS)] = None, sop: Sop = None,
           period: PeriodOpt = Period.month, fmt: FormatOpt = Format.table,
           actor: AsOpt = None) -> None:  # fmt: skip
    """Open requests by age since filing (the window, if given, selects the filing dates)."""
    _run("ageing", start, end, by, sop, period, fmt, actor)


@app.command()
def workload(start: From = None, end: To = None,
        by: Annotated[list[str] | None, _by(WORKLOAD_DIMENSIONS)] = None, sop: Sop = None,
             period: PeriodOpt = Period.month, fmt: FormatOpt = Format.table,
             actor: AsOpt = None) -> None:  # fmt: skip
    """What each official did, how fast, and what waits for each role now."""
    _run("workload", start, end, by, sop, period, fmt, actor)
