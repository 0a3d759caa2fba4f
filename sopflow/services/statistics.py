"""Statistics and operations insight: rows read from the store in bulk, fed to the pure
core (``sopflow.analytics``), returned as typed tables.

Reading is streamed in keyset pages of raw tuples (never an ORM object per event), so
memory stays flat and a million events take seconds. Dates are prefiltered in SQL on UTC
times with a margin and filtered exactly by the core on the SOP's local dates. Who may see
what: an official or auditor sees the SOPs of their authority; employers and agencies see
none (``forbidden``); an operator at the command line (no ``--as``) sees every SOP, and so
both migration flows, which the placement table then keeps apart (``analytics.flows``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from functools import partial
from typing import Any

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from sopflow.analytics.deadlines import DEADLINE_DIMENSIONS, Compliance
from sopflow.analytics.dimensions import PLACEMENT_DIMENSIONS, QueryInvalid, dimension_errors
from sopflow.analytics.flows import flow_of
from sopflow.analytics.grouping import Tally
from sopflow.analytics.labels import Labels
from sopflow.analytics.model import Query, Table, Window
from sopflow.analytics.placements import Placements
from sopflow.analytics.returns import RETURN_DIMENSIONS, Returns
from sopflow.analytics.stages import AGEING_DIMENSIONS, STAGE_DIMENSIONS, Ageing, TimeInStage
from sopflow.analytics.workload import WORKLOAD_DIMENSIONS, Workload
from sopflow.domain.access import effective_roles
from sopflow.errors import CommandRejected, FieldError, InvalidData, NotFound
from sopflow.services.context import Context
from sopflow.services.directory import Directory
from sopflow.services.stats_reading import Plan, tally_log
from states.model import ATTACH, BREACH, WARNING

TABLES = ("placements", "stages", "deadlines", "returns", "ageing", "workload")
# the operations tables: their tally, the optional event columns it reads and the reserved
# triggers it never looks at (a fifth of a log's events: documents, warnings, breaches)
QUIET = frozenset({ATTACH, WARNING, BREACH})
TALLIES: dict[str, tuple[type[Tally], frozenset[str], frozenset[str]]] = {
    "stages": (TimeInStage, frozenset({"role"}), QUIET),
    "deadlines": (Compliance, frozenset({"role"}), QUIET - {BREACH}),
    "returns": (Returns, frozenset({"from_state", "role", "reason"}), QUIET),
    "ageing": (Ageing, frozenset(), QUIET),
    "workload": (Workload, frozenset({"from_state", "actor_id", "role"}), QUIET - {ATTACH}),
}
# the dimensions each table may be broken down by (``--by``), in the order they are offered
TABLE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "placements": tuple(PLACEMENT_DIMENSIONS), "stages": STAGE_DIMENSIONS,
    "deadlines": DEADLINE_DIMENSIONS, "returns": RETURN_DIMENSIONS,
    "ageing": AGEING_DIMENSIONS, "workload": WORKLOAD_DIMENSIONS,
}  # fmt: skip
READER_KINDS = frozenset({"official", "auditor"})
PERIODS = ("month", "quarter", "year")
BASES = ("decision", "filing")


class StatsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOPFLOW_STATS_", extra="ignore")

    min_cell: int = Field(default=5, ge=0)


def default_min_cell() -> int:
    """The suppression threshold: SOPFLOW_STATS_MIN_CELL, else 5."""
    try:
        return StatsSettings().min_cell
    except ValidationError as exc:
        raise InvalidData([FieldError("SOPFLOW_STATS_MIN_CELL", "wrong-type",
                                      "must be a whole number, 0 or more")],
                          context="settings") from exc  # fmt: skip


def build_query(start: str | None = None, end: str | None = None, by: Iterable[str] = (),
                sops: Iterable[str] = (), period: str = "month",
                min_cell: int | str | None = None, basis: str = "decision", *,
                table: str | None = None, min_floor: int = 0) -> Query:  # fmt: skip
    """A query from text input (command line, web form, API), every mistake listed at once
    (``QueryInvalid``: each error names the query's parameter, ``from``, ``to``, ``by``,
    ``period``, ``min_cell`` or ``basis``, with its values in ``params``). ``by`` and
    ``sops`` items may also be comma-separated lists; ``by`` is checked against ``table``'s
    dimensions when it is given. ``min_cell`` may be text (the web's), at least
    ``min_floor``."""
    errors: list[FieldError] = []

    def day(text: str | None, name: str) -> date | None:
        if not text or not text.strip():
            return None
        try:  # YYYY-MM-DD only: Python also reads 20261206 and 2026-W49-1
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
                raise ValueError(text)
            return date.fromisoformat(text.strip())
        except ValueError:
            errors.append(FieldError(name, "wrong-type", f"'{text}' is not a date (YYYY-MM-DD)",
                                     {"expected": "date", "value": text}))  # fmt: skip
            return None

    window = Window(day(start, "from"), day(end, "to"))
    if window.start and window.end and window.end < window.start:
        first, last = window.start.isoformat(), window.end.isoformat()
        said = f"{last} is before the first day, {first}"
        bound = {"bound": "not-before", "value": last, "limit": first}
        errors.append(FieldError("to", "out-of-range", said, bound))
    chosen = tuple(_split(by))
    if table in TABLE_DIMENSIONS:
        errors += dimension_errors(chosen, TABLE_DIMENSIONS[table], table)
    if period not in PERIODS:
        errors.append(FieldError("period", "not-in-enum", f"'{period}' is not a period; use "
                                 f"{', '.join(PERIODS)}",
                                 {"value": period, "allowed": list(PERIODS)}))  # fmt: skip
    if basis not in BASES:
        errors.append(FieldError("basis", "not-in-enum", f"'{basis}' is not a basis; use "
                                 f"{', '.join(BASES)}",
                                 {"value": basis, "allowed": list(BASES)}))  # fmt: skip
    threshold = _threshold(min_cell, min_floor, errors)
    if errors:
        raise QueryInvalid(errors)
    return Query(window=window, sops=frozenset(_split(sops)) or None, by=chosen,
                 period=period, basis=basis,  # type: ignore[arg-type]  # checked above
                 min_cell=default_min_cell() if threshold is None else threshold)  # fmt: skip


def _threshold(min_cell: int | str | None, floor: int, errors: list[FieldError]) -> int | None:
    """The suppression threshold asked for (None: the installation's), at least ``floor``."""
    if isinstance(min_cell, str):
        text = min_cell.strip()
        if not text:
            return None
        if not (text.isascii() and text.lstrip("+-").isdigit()):
            errors.append(FieldError("min_cell", "wrong-type",
                                     f"'{min_cell}' is not a whole number",
                                     {"expected": "integer", "value": min_cell}))  # fmt: skip
            return None
        min_cell = int(text)
    if min_cell is not None and min_cell < floor:
        said = f"the threshold is at least {floor} here" if floor else "must be 0 or more"
        errors.append(FieldError("min_cell", "out-of-range", said,
                                 {"bound": "min", "limit": floor, "value": min_cell}))  # fmt: skip
    return min_cell


def _split(items: Iterable[str]) -> list[str]:
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


class Statistics:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- who sees what -------------------------------------------------------------------
    def visible_sops(self, email: str | None) -> frozenset[str] | None:
        """The SOP ids ``email`` may see statistics of (None: all, for the operator)."""
        if email is None:
            return None
        member = Directory(self.ctx).member(email)
        seen = set()
        for sop in self.ctx.sops.catalogue.versions.values():
            kinds = {sop.roles[r].kind for r in effective_roles(member, sop.spec, None)}
            if kinds & READER_KINDS:
                seen.add(sop.spec.id)
        if not seen:
            raise CommandRejected(
                f"{member.email} holds no official or auditor role of an authority: "
                "statistics are for officials and auditors", code="forbidden")  # fmt: skip
        return frozenset(seen)

    def _scope(self, query: Query, email: str | None) -> frozenset[str]:
        visible = self.visible_sops(email)
        known = {s.spec.id for s in self.ctx.sops.catalogue.versions.values()}
        allowed = known if visible is None else visible
        for sop_id in sorted(query.sops or ()):
            if sop_id not in allowed:
                raise NotFound(f"no statistics for SOP '{sop_id}' (known to you: "
                               f"{', '.join(sorted(allowed)) or 'none'})",
                               details={"sop": sop_id})  # fmt: skip
        return query.sops or frozenset(allowed)

    def labels(self, email: str | None = None) -> Labels:
        visible = self.visible_sops(email)
        return Labels(s for s in self.ctx.sops.catalogue.versions.values()
                      if visible is None or s.spec.id in visible)  # fmt: skip

    # -- the tables ----------------------------------------------------------------------
    def table(self, name: str, query: Query, email: str | None = None) -> Table:
        """A statistics table (``TABLES``) for ``query``, as ``email`` may see it (None: the
        operator at the command line, who sees every SOP)."""
        if name not in TABLES:
            raise NotFound(f"no statistics table '{name}' (use one of: {', '.join(TABLES)})",
                           details={"table": name})  # fmt: skip
        scope = self._scope(query, email)
        now = self.ctx.clock()
        make: Callable[[], Any]
        if name == "placements":
            # the flows of every SOP in scope, so that whether the table keeps flows apart
            # depends on who reads it and what they asked for, not on the window's requests
            flows = frozenset(flow_of(s.spec) for s in self.ctx.sops.catalogue.versions.values()
                              if s.spec.id in scope)  # fmt: skip
            make = partial(Placements, query, flows)
            plan = Plan(True, scope, query)
        else:
            tally, needs, skip = TALLIES[name]
            make = partial(tally, query, now)
            margin = self._sla_days(scope) if name == "deadlines" else 0
            plan = Plan(False, scope, query, needs, margin, skip)
        make()  # checks the dimensions asked for before anything is read
        texts = {
            s.content_hash: (s.text, s.file) for s in self.ctx.sops.catalogue.versions.values()
        }
        result: Any = tally_log(self.ctx.store, self.ctx.sops.pinned, texts, make, plan)
        table: Table = result.table()
        return table

    def placements(self, query: Query, email: str | None = None) -> Table:
        return self.table("placements", query, email)

    def stages(self, query: Query, email: str | None = None) -> Table:
        return self.table("stages", query, email)

    def deadlines(self, query: Query, email: str | None = None) -> Table:
        return self.table("deadlines", query, email)

    def returns(self, query: Query, email: str | None = None) -> Table:
        return self.table("returns", query, email)

    def ageing(self, query: Query, email: str | None = None) -> Table:
        return self.table("ageing", query, email)

    def workload(self, query: Query, email: str | None = None) -> Table:
        return self.table("workload", query, email)

    def _sla_days(self, sops: frozenset[str]) -> int:
        """How far before the window a stay may have ended and still have its deadline in
        it: the longest SLA of these SOPs, in calendar days, generously."""
        longest = 0
        for sop in self.ctx.sops.catalogue.versions.values():
            if sop.spec.id in sops:
                for state in sop.spec.states:
                    if state.sla is not None:
                        days = (state.sla.hours or 0) // 24 + 1 + 2 * (state.sla.working_days or 0)
                        longest = max(longest, days + 31)
        return longest
