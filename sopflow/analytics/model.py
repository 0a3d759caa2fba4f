"""The values of the statistics core: what is asked (``Query``) and what comes out (``Table``).

A table is a list of rows, one per combination of the dimensions asked for (``by``), each
with its measures; a total row over all of them, or, where the rows count populations that
must not be added (``totals_by``: the placements' migration flows), one total per key of
that dimension (``totals``) and none over all; headline figures (``summary``) and notes
(``Note``: what an SOP does not record, what was suppressed). Values are plain numbers; a
suppressed value is ``None`` and named in ``Row.suppressed``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sopflow.analytics.notes import Note

Period = Literal["month", "quarter", "year"]
Basis = Literal["decision", "filing"]
Unit = Literal["count", "days", "percent", "number"]

NOT_RECORDED = "not recorded"  # the SOP declares the field, the request has no value
NOT_IN_SOP = "not recorded by this SOP"  # the SOP's statistics mapping lacks the dimension
TOTAL = "total"  # the total row's key, in the CSV's code columns
SUPPRESSED = "suppressed"  # a hidden value, where no language is asked for

# (dimension, key, lang) -> a label for people; the default is the key itself
Labeller = Callable[[str, str, str], str]


def _plain(dimension: str, key: str, lang: str) -> str:
    return key


def _english(measure: Column) -> str:
    return measure.description


@dataclass(frozen=True, slots=True)
class Window:
    """Local calendar dates, both ends included (``None``: open-ended)."""

    start: date | None = None
    end: date | None = None

    @property
    def unbounded(self) -> bool:
        return self.start is None and self.end is None

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    @property
    def end_exclusive(self) -> date | None:
        return self.end + timedelta(days=1) if self.end else None

    def to_json(self) -> dict[str, str | None]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
        }


@dataclass(frozen=True, slots=True)
class Query:
    """What a statistics command asks: the window, the SOPs, the dimensions, the period
    length, the suppression threshold and (placements) which date places a request."""

    window: Window = Window()
    sops: frozenset[str] | None = None  # None: every SOP the caller may see
    by: tuple[str, ...] = ()
    period: Period = "month"
    min_cell: int = 5
    basis: Basis = "decision"

    def to_json(self) -> dict[str, Any]:
        return {**self.window.to_json(), "sops": sorted(self.sops) if self.sops else None,
                "by": list(self.by), "period": self.period, "min_cell": self.min_cell,
                "basis": self.basis}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Column:
    """A measure: its name (a stable identifier), unit and definition."""

    name: str
    unit: Unit
    description: str


@dataclass(slots=True)
class Row:
    keys: tuple[str, ...]
    values: dict[str, int | float | None]
    suppressed: frozenset[str] = frozenset()  # measures hidden by small-cell suppression

    @property
    def hidden(self) -> bool:
        """Every measure of the row is suppressed."""
        return bool(self.suppressed) and self.suppressed >= set(self.values)


@dataclass
class Table:
    name: str
    title: str
    definition: str
    dimensions: tuple[str, ...]
    measures: tuple[Column, ...]
    rows: list[Row]
    total: Row | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    query: Query = Query()
    # the dimension whose keys are never added up: ``total`` is then None and ``totals``
    # holds one total row per key of it (keys: that key alone)
    totals_by: str | None = None
    totals: list[Row] = field(default_factory=list)

    def measure(self, name: str) -> Column:
        return next(m for m in self.measures if m.name == name)

    def to_json(self, label: Labeller = _plain, lang: str = "en",
                describe: Callable[[Column], str] = _english,
                say: Callable[[Note], str] = str) -> dict[str, Any]:  # fmt: skip
        """The table for programs; ``label``, ``describe`` (a measure's definition) and
        ``say`` (a note) put the words of ``lang`` (English by default); codes stay codes."""

        def row(r: Row, dims: tuple[str, ...] = self.dimensions) -> dict[str, Any]:
            keys: dict[str, Any] = {}
            for dim, key in zip(dims, r.keys, strict=True):
                keys[dim] = key
                keys[f"{dim}_label"] = label(dim, key, lang)
            return {**keys, **r.values, "suppressed": sorted(r.suppressed)}

        return {
            "table": self.name, "title": self.title, "definition": self.definition,
            "query": self.query.to_json(), "dimensions": list(self.dimensions),
            "measures": [{"name": m.name, "unit": m.unit, "description": describe(m)}
                         for m in self.measures],
            "rows": [row(r) for r in self.rows],
            "total": ({**dict(r.values), "suppressed": sorted(r.suppressed)}
                      if (r := self.total) else None),
            "totals_by": self.totals_by,
            # a total of ``totals_by`` is keyed by that dimension alone
            "totals": [row(t, (self.totals_by,)) for t in self.totals if self.totals_by],
            "summary": self.summary, "notes": [say(n) for n in self.notes],
        }  # fmt: skip

    def csv(self, label: Labeller = _plain, lang: str = "en", suppressed: str = SUPPRESSED,
            total: str = TOTAL) -> str:  # fmt: skip
        """One line per row, then the total (or the totals: one per key of ``totals_by``, that
        key and its label in its columns); a suppressed value is written as ``suppressed``
        and the total row's labels as ``total`` (the web passes the words of the page's
        language). The header line is the columns' codes (each dimension, its ``_label``, the
        measures' names), the same in every language, and so are the code columns: the total
        row's are ``total``. Programs read them."""
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        head = [c for d in self.dimensions for c in (d, f"{d}_label")]
        out.writerow(head + [m.name for m in self.measures])
        for r in self.rows:
            keys = [c for d, k in zip(self.dimensions, r.keys, strict=True)
                    for c in (k, label(d, k, lang))]  # fmt: skip
            out.writerow(keys + cells(self.measures, r, suppressed))
        if self.total is not None:
            keys = [c for _ in self.dimensions for c in (TOTAL, total)]
            out.writerow(keys + cells(self.measures, self.total, suppressed))
        for sub in self.totals:
            keys = [c for d in self.dimensions
                    for c in ((sub.keys[0], label(d, sub.keys[0], lang)) if d == self.totals_by
                              else (TOTAL, total))]  # fmt: skip
            out.writerow(keys + cells(self.measures, sub, suppressed))
        return buffer.getvalue()


def cells(measures: Sequence[Column], row: Row, suppressed: str = SUPPRESSED) -> list[str]:
    """The measures of ``row`` as text, in column order (``suppressed`` for a hidden one)."""
    return [format_value(row.values.get(m.name), m.name in row.suppressed, suppressed)
            for m in measures]  # fmt: skip


def format_value(value: int | float | None, hidden: bool = False, word: str = SUPPRESSED) -> str:
    """A value as text: ``word`` if it is suppressed (``hidden``), else two decimals for a
    float, nothing for no value."""
    if hidden:
        return word
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def rounded(values: Mapping[str, int | float | None]) -> dict[str, int | float | None]:
    """Floats to two decimals (days, percentages): the precision every output shows."""
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in values.items()}
