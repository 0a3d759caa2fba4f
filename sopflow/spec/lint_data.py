"""The linter's checks of an SOP's data declarations: its calendar, its fields' bounds and
currencies, who fills in which field, its statistics mapping and its translations.

Pure. Each check reports through ``add``, the linter's own locating reporter, so that the
graph and transition checks (``linter.py``) and these share one list of issues.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections.abc import Iterable
from typing import Any, Protocol

import holidays as holiday_calendars
import pycountry

from sopflow.spec.models import SopSpec
from sopflow.spec.yamlsource import Path, describe

STATISTICS_DIMENSIONS = frozenset(
    {
        "sex", "birth_date", "age", "citizenship", "origin_country", "destination_country",
        "occupation", "industry", "placement_channel", "workers_count", "monthly_wage",
        "worker_paid_costs", "education_level", "contract_start", "contract_end",
        "contract_months", "office",
    }
)  # fmt: skip


class Report(Protocol):
    def __call__(self, path: Path, code: str, message: str, hint: str | None = None,
                 severity: str = "error") -> None: ...  # fmt: skip


def hint(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def check_data(spec: SopSpec, add: Report) -> None:
    calendar(spec, add)
    officials_fields(spec, add)
    field_bounds(spec, add)
    statistics(spec, add)
    translations(spec, add)


def calendar(spec: SopSpec, add: Report) -> None:
    cal = spec.calendar
    try:
        zoneinfo.ZoneInfo(cal.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        add(
            ("calendar", "timezone"),
            "unknown-timezone",
            f"'{cal.timezone}' is not an IANA time zone",
            "e.g. Africa/Cairo",
        )
    if cal.holidays is not None:
        try:
            holiday_calendars.country_holidays(cal.holidays)
        except NotImplementedError:
            add(
                ("calendar", "holidays"),
                "unknown-holiday-calendar",
                f"no public-holiday calendar for country '{cal.holidays}'",
            )
    if len(set(cal.weekend)) != len(cal.weekend):
        add(("calendar", "weekend"), "duplicate-id", "a weekday is listed twice")


def officials_fields(spec: SopSpec, add: Report) -> None:
    """A field that only officials' steps set is not the requester's to fill in (the
    engine refuses it at filing); required, it would stop every file at hand-over."""
    theirs = spec.officials_fields()
    for i, field in enumerate(spec.fields):
        if field.required and field.id in theirs:
            add(
                ("fields", i, "required"),
                "officials-field-required",
                f"field '{field.id}' is set only by officials' steps, so the requester "
                "may not fill it in; as 'required: true' it would stop every request when "
                "it leaves the requester: drop 'required' and name it in the "
                "'requires.fields' of the step that needs it",
            )


def field_bounds(spec: SopSpec, add: Report) -> None:
    """Bounds no value can meet, and currencies that do not exist: a field that would
    refuse every request, found when the SOP is written rather than when it is used."""
    for i, field in enumerate(spec.fields):
        for low, high in (("min", "max"), ("min_length", "max_length")):
            lo, hi = getattr(field, low, None), getattr(field, high, None)
            if lo is not None and hi is not None and lo > hi:
                add(("fields", i, low), "empty-range",
                    f"field '{field.id}': {low} {lo} is above {high} {hi}, so no value "
                    "can be valid")  # fmt: skip
        for j, code in enumerate(getattr(field, "currencies", None) or ()):
            if pycountry.currencies.get(alpha_3=code) is None:
                why = f"field '{field.id}': '{code}' is not an ISO 4217 currency"
                add(("fields", i, "currencies", j), "unknown-currency", why)


def statistics(spec: SopSpec, add: Report) -> None:
    fields = {f.id for f in spec.fields}
    for dimension, name in spec.statistics.items():
        if dimension not in STATISTICS_DIMENSIONS:
            add(
                ("statistics", dimension),
                "unknown-statistics-dimension",
                f"'{dimension}' is not a statistics dimension",
                hint(dimension, STATISTICS_DIMENSIONS),
            )
        if name not in fields:
            add(("statistics", dimension), "unknown-field", f"unknown field '{name}'",
                hint(name, fields))  # fmt: skip


def translations(spec: SopSpec, add: Report) -> None:
    def walk(node: Any, path: Path) -> None:
        if isinstance(node, dict):
            if "en" in node and set(node) <= {"en", "fr", "ar"}:
                missing = [lang for lang in ("fr", "ar") if not node.get(lang)]
                if missing:
                    add(path, "missing-translation",
                        f"{describe(path)}: no {' or '.join(missing)} text",
                        severity="warning")  # fmt: skip
                return
            for key, value in node.items():
                walk(value, (*path, key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, (*path, i))

    walk(spec.model_dump(by_alias=True, exclude_none=True), ())
