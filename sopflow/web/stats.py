"""Statistics pages for officials and auditors (``/stats/{table}``), their CSV downloads
(``/stats/{table}.csv``) and the same tables as JSON for programs (``/api/v1/stats/{table}``,
bearer token). Charts are inline SVG drawn by ``sopflow.analytics.charts``: no script, no
external URL. Others get what the other pages give for what they may not see: a sign-in
redirect, or "not found".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from sopflow.analytics import charts
from sopflow.analytics.dimensions import QueryInvalid
from sopflow.analytics.labels import Labels
from sopflow.analytics.model import Query as StatsQuery
from sopflow.analytics.model import Row, Table, format_value
from sopflow.errors import FieldError, SopflowError
from sopflow.services import Services
from sopflow.services.statistics import (
    BASES,
    PERIODS,
    TABLE_DIMENSIONS,
    TABLES,
    build_query,
    default_min_cell,
)
from sopflow.web import i18n
from sopflow.web.api import Caller, Svc
from sopflow.web.files import attachment
from sopflow.web.pages import TEMPLATES, Email, _lang, _render, _services, session_user
from sopflow.web.refusals import explain
from sopflow.web.stats_text import definition, note, table_json
from sopflow.web.stats_text import heading as _heading
from sopflow.web.validation import api_get

router = APIRouter()
DIMENSIONS = TABLE_DIMENSIONS
# a query's parameter -> the words of its label on the page's form (stats_words.yaml)
FORM_LABELS = {"from": "st_from", "to": "st_to", "period": "st_period", "by": "st_by",
               "sop": "st_d_sop", "min_cell": "st_min_cell", "basis": "st_basis"}  # fmt: skip
LANGS = ("en", "fr", "ar")
# table -> (the measure of its bar chart, the series of its line chart, the line's measure)
CHARTS: dict[str, tuple[str, str | None, str]] = {
    "placements": ("requests", "outcome", "requests"),
    "stages": ("median_days", "sop", "median_days"),
    "deadlines": ("compliance_pct", "sop", "compliance_pct"),
    "returns": ("return_rate_pct", "sop", "return_rate_pct"),
    "ageing": ("open", None, "open"),
    "workload": ("actions", "sop", "actions"),
}
MAX_BARS = 30


def stats_allowed(request: Request) -> bool:
    """Whether the signed-in user may see statistics (the navigation shows the link)."""
    email = session_user(request)
    if email is None:
        return False
    try:
        _services(request).statistics.visible_sops(str(email))
    except SopflowError:
        return False
    return True


TEMPLATES.env.globals["stats_allowed"] = stats_allowed  # base.html: the navigation link


def _query(request: Request, table: str) -> StatsQuery:
    """The query of the page's form."""
    params = request.query_params
    return _checked(table, params.get("from"), params.get("to"), params.getlist("by"),
                    params.getlist("sop"), params.get("period"), params.get("min_cell"),
                    params.get("basis"))  # fmt: skip


def _checked(table: str, start: str | None, end: str | None, by: list[str], sops: list[str],
             period: str | None, min_cell: str | None, basis: str | None,
             more: list[FieldError] | None = None) -> StatsQuery:  # fmt: skip
    """A query from the web's text input, every mistake listed (with ``more`` found by the
    caller); here the threshold may be raised, not lowered."""
    try:
        query = build_query(start, end, by, sops, period or "month", min_cell,
                            basis or "decision", table=table,
                            min_floor=default_min_cell())  # fmt: skip
    except QueryInvalid as exc:
        raise QueryInvalid([*exc.errors, *(more or [])]) from None
    if more:
        raise QueryInvalid(more)
    return query


def _said(exc: SopflowError, lang: str) -> str:
    """A refusal of a statistics page in the reader's language, naming the form's labels."""
    if exc.code == "not-found" and isinstance(exc.to_dict().get("table"), str):
        return i18n.t("no_such_page", lang)

    def choice(name: str, value: str) -> str:
        if name == "by" and value in {d for dims in TABLE_DIMENSIONS.values() for d in dims}:
            return _heading("d", value, lang)
        if (name, value) in {("period", p) for p in PERIODS} | {("basis", b) for b in BASES}:
            return i18n.t(f"st_{value}", lang)
        return value

    names = {name: i18n.t(key, lang) for name, key in FORM_LABELS.items()}
    return explain(exc.to_dict(), lang, names=names, choices=choice).summary


def _row_label(table: Table, row: Row, labels: Labels, lang: str, shown: list[int]) -> str:
    parts = [labels(table.dimensions[i], row.keys[i], lang) for i in shown]
    return " · ".join(parts) or i18n.t("st_total", lang)


def _bar(table: Table, labels: Labels, lang: str) -> str | None:
    measure = CHARTS[table.name][0]
    rows = table.rows[:MAX_BARS]
    if not rows:
        return None
    # a dimension with one key for every row says nothing on each bar: it is in the title
    shown = [i for i in range(len(table.dimensions)) if len({r.keys[i] for r in rows}) > 1]
    heading = _heading("m", measure, lang)
    gap = i18n.t("st_suppressed", lang)
    return charts.bar_chart(
        f"bar-{table.name}", f"{i18n.t('st_t_' + table.name, lang)}: {heading}",
        i18n.t("st_bar_desc", lang).format(measure=heading),
        [_row_label(table, r, labels, lang, shown or [0]) for r in rows],
        [_number(r.values.get(measure)) for r in rows], heading,
        [gap if measure in r.suppressed else "—" for r in rows])  # fmt: skip


def _line(services: Services, table: Table, email: str, labels: Labels, lang: str) -> str | None:
    _, series, measure = CHARTS[table.name]
    if series is None:
        return None
    q = table.query
    over_time = services.statistics.table(
        table.name,
        StatsQuery(q.window, q.sops, ("period", series), q.period, q.min_cell, q.basis),
        email)  # fmt: skip
    at_period = over_time.dimensions.index("period")
    periods = sorted({r.keys[at_period] for r in over_time.rows})
    if len(periods) < 2:
        return None
    # a line per key of the series, and of any dimension the table adds in front of it (the
    # placements' flow, when flows are kept apart): two flows are never one line
    named = [i for i, d in enumerate(over_time.dimensions) if i != at_period]
    lines: dict[str, list[float | None]] = {}
    for r in over_time.rows:
        name = " · ".join(labels(over_time.dimensions[i], r.keys[i], lang) for i in named)
        lines.setdefault(name, [None] * len(periods))[periods.index(r.keys[at_period])] = (
            _number(r.values.get(measure)))  # fmt: skip
    heading = _heading("m", measure, lang)
    return charts.line_chart(
        f"line-{table.name}", f"{i18n.t('st_t_' + table.name, lang)}: {heading}",
        i18n.t("st_line_desc", lang).format(measure=heading, series=_heading("d", series, lang)),
        periods, lines, heading)  # fmt: skip


def _decimal(figure: str, lang: str) -> str:
    """A figure as the page's language writes it: French with a decimal comma (40,00), as
    the request pages write amounts; the CSV keeps the point, for programs."""
    return figure.replace(".", ",") if lang == "fr" else figure


def _shown(lang: str) -> Callable[[int | float | None], str]:
    return lambda value: _decimal(format_value(value), lang)


def _number(value: int | float | None) -> float | None:
    return None if value is None else float(value)


def _summary(table: Table, labels: Labels, lang: str) -> list[str]:
    lines = []
    hidden = table.total.suppressed if table.total is not None else ()
    for name, value in table.summary.items():
        if isinstance(value, int | float) or value is None:  # from a suppressed total: said so
            shown = (_shown(lang)(value) if value is not None
                     else i18n.t("st_suppressed", lang) if name in hidden else "—")  # fmt: skip
            lines.append(f"{_heading('s', name, lang)}: {shown}")
    for each in table.summary.get("flows", []):  # flows kept apart: a headline for each
        flow = labels("flow", each["flow"], lang)
        for name in ("requests", "workers"):
            said = (i18n.t("st_suppressed", lang) if name in each["suppressed"]
                    else _shown(lang)(each[name]) if each[name] is not None else "—")  # fmt: skip
            lines.append(f"{_heading('s', name, lang)} · {flow}: {said}")
    for item in table.summary.get("bottlenecks", []):
        where = " · ".join(labels(k, v, lang) for k, v in item["keys"].items())
        days = _shown(lang)(float(item["days_total"]))
        share = _decimal(f"{item['time_share_pct']:.1f}", lang)
        lines.append(f"{i18n.t('st_bottlenecks', lang)}: {where}, {days} ({share} %)")
    for item in table.summary.get("queue_now", []):
        role, sop = labels("role", item["role"], lang), labels("sop", item["sop"], lang)
        lines.append(f"{i18n.t('st_queue_now', lang)}: {role} ({sop}): {item['open']} · "
                     f"{i18n.t('st_s_overdue', lang)} {item['overdue']}")  # fmt: skip
    return lines


def _hidden(request: Request, email: str) -> Response | None:
    """The "not found" page for a signed-in user who may not see statistics."""
    try:
        _services(request).statistics.visible_sops(email)
    except SopflowError:
        return _render(request, "error.html", 404,
                       error=i18n.t("stats_officials_only", _lang(request)))  # fmt: skip
    return None


@router.get("/stats/{table}.csv", include_in_schema=False, response_model=None)
def stats_csv(request: Request, table: str, email: Email) -> Response:
    """The table of the page as CSV (labels in the page's language; UTF-8 with a BOM, which
    spreadsheet programs need to read Arabic and French letters right)."""
    hidden = _hidden(request, email)
    if hidden is not None:
        return hidden
    services, lang = _services(request), _lang(request)
    if table not in TABLES:
        return _render(request, "error.html", 404, error=i18n.t("no_such_page", lang))
    try:
        result = services.statistics.table(table, _query(request, table), email)
    except SopflowError as exc:
        return _render(request, "error.html", 404 if exc.code == "not-found" else 422,
                       error=_said(exc, lang))  # fmt: skip
    # the values in the page's language (labels, the words of a suppressed cell and of the
    # total); the header line and the code columns stay codes, which programs read
    body = "\ufeff" + result.csv(services.statistics.labels(email), lang,
                                 suppressed=i18n.t("st_suppressed", lang),
                                 total=i18n.t("st_total", lang))  # fmt: skip
    return Response(body, media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": attachment(f"sopflow-{result.name}.csv")})  # fmt: skip


@router.get("/stats", include_in_schema=False, response_model=None)
def stats_home(request: Request, email: Email) -> Response:
    return stats_page(request, "placements", email)


@router.get("/stats/{table}", include_in_schema=False, response_model=None)
def stats_page(request: Request, table: str, email: Email) -> Response:
    hidden = _hidden(request, email)
    if hidden is not None:
        return hidden
    services, lang = _services(request), _lang(request)
    if table not in TABLES:
        return _render(request, "error.html", 404, error=i18n.t("no_such_page", lang))
    visible = services.statistics.visible_sops(email) or frozenset()
    context: dict[str, Any] = {"table_name": table, "tables": TABLES, "dims": DIMENSIONS[table],
                               "params": request.query_params, "min_cell": default_min_cell(),
                               "sops": sorted(visible), "heading": _heading,
                               "definition": definition}  # fmt: skip
    try:
        result = services.statistics.table(table, _query(request, table), email)
        labels = services.statistics.labels(email)
        charted = [c for c in (_line(services, result, email, labels, lang),
                               _bar(result, labels, lang)) if c]  # fmt: skip
    except SopflowError as exc:
        return _render(request, "stats.html", 404 if exc.code == "not-found" else 422,
                       error=_said(exc, lang), result=None, **context)  # fmt: skip
    return _render(request, "stats.html", result=result, labels=labels, charts=charted,
                   summary=_summary(result, labels, lang), cell=_shown(lang),
                   notes=[note(n, labels, lang) for n in result.notes],
                   csv_link=f"/stats/{table}.csv?{request.url.query}",
                   more_rows=len(result.rows) > MAX_BARS, max_bars=MAX_BARS,
                   **context)  # fmt: skip


Text = Annotated[str | None, Query(max_length=200)]
Texts = Annotated[list[str], Query(max_length=200)]


def _words(*words: str) -> Any:
    """A text parameter that takes one of ``words``: checked by the query, so that a wrong
    one is ``not-in-enum`` with the others of the query's mistakes; listed in the schema."""
    return Query(max_length=200, json_schema_extra={"enum": list(words)})


@api_get(router, "/api/v1/stats/{table}", tags=["statistics"])
def stats_api(
    table: str, member: Caller, services: Svc,
    start: Annotated[str | None, Query(alias="from", max_length=200)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=200)] = None,
    by: Texts = [],  # noqa: B006 - FastAPI copies the default
    sop: Texts = [],  # noqa: B006
    period: Annotated[str, _words(*PERIODS)] = "month",
    min_cell: Text = None,
    basis: Annotated[str, _words(*BASES)] = "decision",
    lang: Annotated[str, _words(*LANGS)] = "en",
) -> dict[str, Any]:  # fmt: skip
    """A statistics table as JSON (``table``: placements, stages, deadlines, returns, ageing
    or workload), for officials and auditors; ``from`` and ``to`` are local dates
    (YYYY-MM-DD, both included), ``by`` and ``sop`` repeatable; docs/statistics.md defines
    every figure. ``lang`` (en, fr or ar; English by default) is the language of the words:
    the keys' ``_label``s, the measures' ``description``s, the notes and (fr, ar) the title
    and definition; codes (``table``, dimensions, keys, measures' ``name``s, ``summary``)
    are the same in every language. A bad query is refused (``invalid-data``) with every
    mistake listed, each naming its parameter."""
    more = [] if lang in LANGS else [
        FieldError("lang", "not-in-enum", f"'{lang}' is not a language; use {', '.join(LANGS)}",
                   {"value": lang, "allowed": list(LANGS)})]  # fmt: skip
    query = _checked(table, start, end, by, sop, period, min_cell, basis, more)
    result = services.statistics.table(table, query, member.email)
    return table_json(result, services.statistics.labels(member.email), lang)
