"""Dimensions: what a statistic is broken down by, and how each is derived from a request.

The person-level dimensions read the request's data through the SOP's ``statistics``
mapping (dimension -> field), so that any SOP declaring the mapping feeds the same tables.
A dimension the SOP does not map is ``NOT_IN_SOP`` ("not recorded by this SOP"); a mapped
field without a value is ``NOT_RECORDED``. Nothing is inferred from elsewhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED, Period
from sopflow.errors import FieldError, InvalidData
from sopflow.spec.classifications import is_isco08, isco08_major_group, isic4_section
from states.machine import CompiledSop

# dimension -> the statistics key (docs/sop-language.md, "statistics") it is read from
FROM_SOP_FIELD = {
    "destination_country": "destination_country", "origin_country": "origin_country",
    "citizenship": "citizenship", "sex": "sex", "education_level": "education_level",
    "occupation_major": "occupation", "occupation_unit": "occupation",
    "industry_section": "industry", "placement_channel": "placement_channel",
    "office": "office",
}  # fmt: skip

PLACEMENT_DIMENSIONS = {
    "period": "month, quarter or year (--period) of the date that places the request",
    "sop": "the SOP (all its versions)",
    "outcome": "approved, rejected, withdrawn, expired (and open, on the filing basis)",
    "organisation": "the organisation that filed the request (agency or employer)",
    "flow": "migration flow: outflow (workers placed abroad) or inflow (foreign workers admitted)",
    "destination_country": "country of destination (ISO 3166-1 alpha-2)",
    "origin_country": "country of origin (ISO 3166-1 alpha-2)",
    "citizenship": "citizenship (ISO 3166-1 alpha-2)",
    "sex": "sex of the worker",
    "age_band": "age band at the date that places the request (from the date of birth)",
    "education_level": "level of education",
    "occupation_major": "ISCO-08 major group (1 digit)",
    "occupation_unit": "ISCO-08 unit group (4 digits)",
    "industry_section": "ISIC Rev.4 section (letter)",
    "placement_channel": "placement channel (public office, licensed agency, ...)",
    "office": "the office handling the request",
}
AGE_BANDS = ((15, "<15"), (25, "15-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"),
             (65, "55-64"))  # fmt: skip
OLDEST_BAND = "65+"
NOT_UNIT_GROUP = "not coded to unit group"


def period_key(day: date, period: Period) -> str:
    """``2026-03`` (month), ``2026-Q1`` (quarter) or ``2026`` (year)."""
    if period == "month":
        return f"{day.year:04d}-{day.month:02d}"
    if period == "quarter":
        return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
    return f"{day.year:04d}"


def age_on(birth: date, day: date) -> int:
    """Completed years of age on ``day``."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def age_band(age: int) -> str:
    for upper, band in AGE_BANDS:
        if age < upper:
            return band
    return OLDEST_BAND


def value_of(sop: CompiledSop, data: Mapping[str, Any], key: str) -> Any:
    """The raw value of the field mapped to statistics ``key``; NOT_IN_SOP if unmapped,
    NOT_RECORDED if the request has no value."""
    name = sop.spec.statistics.get(key)
    if name is None:
        return NOT_IN_SOP
    value = data.get(name)
    return NOT_RECORDED if value is None or value == "" else value


def derive(sop: CompiledSop, data: Mapping[str, Any], dimension: str, on: date) -> str:
    """The key of a person-level ``dimension`` for a request of ``sop`` with ``data``,
    ``on`` being the date that places it (the age is taken on that date)."""
    if dimension == "age_band":
        return _age_band(sop, data, on)
    raw = value_of(sop, data, FROM_SOP_FIELD[dimension])
    if raw in (NOT_IN_SOP, NOT_RECORDED):
        return str(raw)
    text = str(raw).strip()
    if dimension == "occupation_major":
        return isco08_major_group(text) or NOT_RECORDED
    if dimension == "occupation_unit":
        return text if len(text) == 4 and is_isco08(text) else NOT_UNIT_GROUP
    if dimension == "industry_section":
        return isic4_section(text.upper()) or NOT_RECORDED
    if dimension in ("destination_country", "origin_country", "citizenship"):
        return text.upper()
    return text


def _age_band(sop: CompiledSop, data: Mapping[str, Any], on: date) -> str:
    age = value_of(sop, data, "age")
    if age not in (NOT_IN_SOP, NOT_RECORDED):
        return age_band(int(age)) if isinstance(age, int) else NOT_RECORDED
    birth = value_of(sop, data, "birth_date")
    if birth in (NOT_IN_SOP, NOT_RECORDED):
        return str(age if birth == NOT_IN_SOP else birth)
    try:
        return age_band(age_on(date.fromisoformat(str(birth)), on))
    except ValueError:
        return NOT_RECORDED


def missing_from(sop: CompiledSop, dimensions: Iterable[str]) -> list[str]:
    """The person-level dimensions among ``dimensions`` that ``sop`` does not record."""
    missing = []
    for dim in dimensions:
        if dim == "age_band":
            if not {"age", "birth_date"} & set(sop.spec.statistics):
                missing.append(dim)
        elif dim in FROM_SOP_FIELD and FROM_SOP_FIELD[dim] not in sop.spec.statistics:
            missing.append(dim)
    return missing


class QueryInvalid(InvalidData):
    """Mistakes in a statistics query, every one listed. Each error's ``field`` is the
    query's parameter (``from``, ``to``, ``by``, ``sop``, ``period``, ``min_cell``,
    ``basis``: the API's names), its ``params`` what it says (``value``, ``expected``,
    ``allowed``, ``bound``, ``limit``...), so that the command line can name its options
    and a page its form's labels, in the reader's language."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__(errors, context="statistics query")


def dimension_errors(by: Iterable[str], allowed: Mapping[str, str] | Sequence[str],
                     table: str) -> list[FieldError]:  # fmt: skip
    """An ``unknown-dimension`` error for each of ``by`` that ``table`` does not know."""
    names = list(allowed)
    errors = []
    for name in by:
        if name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        errors.append(FieldError("by", "unknown-dimension",
                                 f"'{name}' is not a dimension of {table}{hint}; allowed: "
                                 f"{', '.join(names)}",
                                 {"value": name, "table": table, "allowed": names,
                                  "closest": close[0] if close else None}))  # fmt: skip
    return errors


def check_by(by: Iterable[str], allowed: Mapping[str, str], table: str) -> tuple[str, ...]:
    """The dimensions asked for, in order and once each; an unknown one is refused with the
    allowed ones listed (``unknown-dimension``)."""
    by = tuple(by)
    errors = dimension_errors(by, allowed, table)
    if errors:
        raise QueryInvalid(errors)
    return tuple(dict.fromkeys(by))
