"""Statistics of placements and authorisations (20th ICLS guidelines, SDG indicator 10.7.1).

The unit is the request: each request decided in the window (``basis="decision"``: the
date of the event that closed it) or filed in it (``basis="filing"``: the date of its
first event), in the SOP's own time zone. Workers are the SOP's ``workers_count`` field
where it maps one, else one per request (an SOP filed for one named worker). Requests of
different migration flows (``flows``: workers placed abroad, foreign workers admitted) are
never added together: not in a cell, a total or a headline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sopflow.analytics.aggregate import share, suppress
from sopflow.analytics.dimensions import (
    PLACEMENT_DIMENSIONS,
    check_by,
    derive,
    missing_from,
    period_key,
    value_of,
)
from sopflow.analytics.flows import FLOW, flow_of, undetermined
from sopflow.analytics.model import NOT_IN_SOP, Column, Query, Row, Table, rounded
from sopflow.analytics.notes import Note, note
from states.machine import CompiledSop


@dataclass(frozen=True, slots=True)
class PlacementFact:
    """One request as the placement statistics see it."""

    sop: CompiledSop
    organisation: str
    outcome: str  # approved | rejected | withdrawn | expired | open
    data: Mapping[str, Any]
    day: date  # the local date that places it (decision or filing)


MEASURES = (
    Column("requests", "count", "requests in the cell"),
    Column("workers", "count", "workers covered: the SOP's workers_count field where it has "
           "one (summed over the requests that record it), else one per request"),
    Column("workers_not_recorded", "count", "requests whose SOP has a workers_count field "
           "that this request does not fill (e.g. a demand refused before selection)"),
    Column("cost_workers", "count", "SDG 10.7.1 base: workers of approved requests whose "
           "recruitment costs and monthly wage are both recorded, in the same currency"),
    Column("paid_share_pct", "percent", "share of the cost_workers who paid any "
           "recruitment cost"),
    Column("cost_ratio_pct", "percent", "SDG 10.7.1: mean recruitment cost paid by a "
           "worker, as a percentage of the monthly wage (cost_workers; zero costs count)"),
    Column("cost_ratio_payers_pct", "percent", "the same mean over the workers who paid"),
)  # fmt: skip
SDG_MEASURES = frozenset({"cost_workers", "paid_share_pct", "cost_ratio_pct",
                          "cost_ratio_payers_pct"})  # fmt: skip
DEFAULT_BY = ("period", "outcome")


class _Cell:
    __slots__ = ("cost_workers", "paid_workers", "payer_ratio", "ratio", "requests",
                 "sdg_requests", "workers", "workers_not_recorded")  # fmt: skip

    def __init__(self) -> None:
        self.requests = self.workers = self.workers_not_recorded = 0
        self.sdg_requests = self.cost_workers = self.paid_workers = 0
        self.ratio = self.payer_ratio = 0.0

    def add(self, fact: PlacementFact) -> None:
        self.requests += 1
        workers = _workers(fact)
        if workers is None:
            self.workers_not_recorded += 1
        else:
            self.workers += workers
        cost = _cost_ratio(fact) if fact.outcome == "approved" and workers else None
        if cost is not None and workers:
            self.sdg_requests += 1
            self.cost_workers += workers
            self.ratio += workers * cost
            if cost > 0:
                self.paid_workers += workers
                self.payer_ratio += workers * cost

    def merge(self, other: _Cell) -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def values(self) -> dict[str, int | float | None]:
        return rounded({
            "requests": self.requests, "workers": self.workers,
            "workers_not_recorded": self.workers_not_recorded,
            "cost_workers": self.cost_workers,
            "paid_share_pct": share(self.paid_workers, self.cost_workers),
            "cost_ratio_pct": share(self.ratio, self.cost_workers),
            "cost_ratio_payers_pct": share(self.payer_ratio, self.paid_workers),
        })  # fmt: skip


def _workers(fact: PlacementFact) -> int | None:
    raw = value_of(fact.sop, fact.data, "workers_count")
    if raw == NOT_IN_SOP:
        return 1
    return raw if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0 else None


def _amount(raw: Any) -> tuple[Decimal, str] | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return Decimal(str(raw["amount"])), str(raw["currency"])
    except (KeyError, InvalidOperation):
        return None


def _cost_ratio(fact: PlacementFact) -> float | None:
    """Recruitment cost paid by the worker / monthly wage, when both are comparable."""
    cost = _amount(value_of(fact.sop, fact.data, "worker_paid_costs"))
    wage = _amount(value_of(fact.sop, fact.data, "monthly_wage"))
    if cost is None or wage is None or cost[1] != wage[1] or wage[0] <= 0:
        return None
    return float(cost[0] / wage[0])


def key_of(fact: PlacementFact, by: tuple[str, ...], query: Query) -> tuple[str, ...]:
    keys = []
    for dim in by:
        if dim == "period":
            keys.append(period_key(fact.day, query.period))
        elif dim == "sop":
            keys.append(fact.sop.spec.id)
        elif dim == FLOW:
            keys.append(flow_of(fact.sop.spec))
        elif dim == "outcome":
            keys.append(fact.outcome)
        elif dim == "organisation":
            keys.append(fact.organisation)
        else:
            keys.append(derive(fact.sop, fact.data, dim, fact.day))
    return tuple(keys)


class Placements:
    """Accumulates the placement table, one request at a time (``add``); tallies of slices
    of the log read in parallel are merged (``merge``) before the table is made.

    ``flows``: the migration flows of the SOPs in the query's scope (``flows.flow_of``),
    whether or not the window holds requests of each, so that the table's shape follows
    what the reader may see, not what a month happened to hold; the flows of the requests
    offered (``add``), in the window or not, are added to them. Every cell is kept under
    its flow, so that two flows are never added even where the scope was not given."""

    def __init__(self, query: Query, flows: Iterable[str] = ()) -> None:
        self.query = query
        self.by = check_by(query.by or DEFAULT_BY, PLACEMENT_DIMENSIONS, "placements")
        self.flows = set(flows)
        self._flow_of: dict[str, str] = {}  # SOP version (content hash) -> its flow
        self.cells: dict[tuple[str, ...], _Cell] = {}  # (flow, *the keys of by) -> cell
        self.gaps: dict[str, list[Note]] = {}  # SOP id -> what it does not record

    def add(self, fact: PlacementFact) -> None:
        flow = self._flow_of.get(fact.sop.content_hash)
        if flow is None:
            flow = self._flow_of[fact.sop.content_hash] = flow_of(fact.sop.spec)
            self.flows.add(flow)
        if not self.query.window.contains(fact.day):
            return
        sop_id = fact.sop.spec.id
        if sop_id not in self.gaps:
            self.gaps[sop_id] = _gaps(fact.sop, self.by)
        key = (flow, *key_of(fact, self.by, self.query))
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = _Cell()
        cell.add(fact)

    def merge(self, other: Placements) -> None:
        for key, cell in other.cells.items():
            self.cells.setdefault(key, _Cell()).merge(cell)
        self.gaps.update(other.gaps)
        self.flows |= other.flows

    def table(self) -> Table:
        query = self.query
        flows = sorted(self.flows)
        # Two flows are two populations (20th ICLS: outflows counted by the country of
        # origin, inflows by the country of destination): their sum, or an SDG 10.7.1 mean
        # over both, means nothing. So the table then leads with the flow (added in front
        # when the query did not ask for it, as the operations tables add the SOP in front
        # of a stage), has one total and one headline per flow and none over all, and is
        # suppressed flow by flow, since no margin across flows is published. The flow is
        # added rather than the query refused: every figure asked for is there, split
        # where it must be, and a note says why.
        apart = len(flows) > 1
        lead = apart and FLOW not in self.by
        by = (FLOW, *self.by) if lead else self.by
        rows: list[Row] = []
        totals: list[tuple[Row, _Cell]] = []
        hidden = 0
        for flow in flows or [""]:
            keys = sorted(k for k in self.cells if k[0] == flow)
            cells = [self.cells[k] for k in keys]
            part = [Row(k if lead else k[1:], c.values()) for k, c in zip(keys, cells, strict=True)]
            hidden += _suppress(part, cells, query.min_cell)
            rows += part
            total = _Cell()
            for cell in cells:
                total.merge(cell)
            row = Row((flow,) if apart else ("total",), total.values())
            _total_suppression(row, total, query.min_cell)
            totals.append((row, total))
        rows.sort(key=lambda r: r.keys)
        what = "decided" if query.basis == "decision" else "filed"
        notes = [note for _, gaps in sorted(self.gaps.items()) for note in gaps]
        if apart:
            notes.append(note("flows-apart"))
        if FLOW in by:
            notes += [note("flow-undetermined", sop=sop_id) for flow in flows
                      if (sop_id := undetermined(flow))]  # fmt: skip
        if not sum(cell.requests for _, cell in totals):
            notes.append(note(f"nothing-{what}"))
        notes += _notes(query, hidden, len(rows))
        return Table(
            name="placements",
            title=f"Placements and authorisations ({what})",
            definition=f"Requests {what} in the window, by the local date (SOP time zone) of "
            f"{'the event that closed them' if query.basis == 'decision' else 'their filing'}."
            " Cells of fewer than min_cell requests are suppressed (docs/statistics.md)."
            + (" Requests of different migration flows are never added together: one total "
               "per flow." if apart else ""),
            dimensions=by, measures=MEASURES, rows=rows,
            total=None if apart else totals[0][0],
            totals_by=FLOW if apart else None,
            totals=[row for row, _ in totals] if apart else [],
            summary=_summary([row for row, _ in totals], apart, hidden, query.min_cell),
            notes=notes, query=query,
        )  # fmt: skip


def placements(facts: Iterable[PlacementFact], query: Query) -> Table:
    """The placement table for ``query``: one row per combination of ``query.by``, the
    flow first when the facts are of SOPs of more than one flow (their scope)."""
    tally = Placements(query)
    for fact in facts:
        tally.add(fact)
    return tally.table()


def _summary(totals: list[Row], apart: bool, hidden: int, k: int) -> dict[str, Any]:
    """The headline figures: the total row's (suppressed, None, when it is), or, for flows
    kept apart, each flow's under ``flows``, and no requests or workers over them all."""
    heads: dict[str, Any] = {}
    if apart:
        heads["flows"] = [{"flow": r.keys[0], "requests": r.values["requests"],
                           "workers": r.values["workers"],
                           "suppressed": sorted(r.suppressed & {"requests", "workers"})}
                          for r in totals]  # fmt: skip
    else:
        heads = {"requests": totals[0].values["requests"], "workers": totals[0].values["workers"]}
    return {**heads, "suppressed_rows": hidden, "min_cell": k}


def _suppress(rows: list[Row], cells: list[_Cell], k: int) -> int:
    """Hide small cells (whole rows), then small SDG bases; return the rows hidden. The rows
    are those under one published total (all of them, or one flow's)."""
    keys = [r.keys for r in rows]
    hidden = suppress(keys, [c.requests for c in cells], k)
    for i in hidden:
        rows[i].values = dict.fromkeys(rows[i].values)
        rows[i].suppressed = frozenset(rows[i].values)
    # cost figures rest on fewer requests than the row: they get their own threshold
    with_costs = [i for i, c in enumerate(cells) if c.sdg_requests]
    already = {j for j, i in enumerate(with_costs) if i in hidden}
    sdg_hidden = suppress([keys[i] for i in with_costs],
                          [cells[i].sdg_requests for i in with_costs], k, already)  # fmt: skip
    for j in sdg_hidden:
        row = rows[with_costs[j]]
        row.values.update(dict.fromkeys(SDG_MEASURES))
        row.suppressed = row.suppressed | SDG_MEASURES
    return len(hidden)


def _total_suppression(row: Row, total: _Cell, k: int) -> None:
    # a total of no request at all protects no one: it is shown as zero, not hidden
    if 0 < total.requests < k:
        row.values = dict.fromkeys(row.values)
        row.suppressed = frozenset(row.values)
    elif total.sdg_requests and total.sdg_requests < k:
        row.values.update(dict.fromkeys(SDG_MEASURES))
        row.suppressed = SDG_MEASURES


def _gaps(sop: CompiledSop, by: tuple[str, ...]) -> list[Note]:
    sop_id = sop.spec.id
    notes = [note("not-in-sop", dimension=dim, sop=sop_id) for dim in missing_from(sop, by)]
    if not {"worker_paid_costs", "monthly_wage"} <= set(sop.spec.statistics):
        notes.append(note("no-sdg-mapping", sop=sop_id))
    return notes


def _notes(query: Query, hidden: int, count: int) -> list[Note]:
    notes = []
    if hidden:
        notes.append(note("rows-suppressed", hidden=hidden, count=count,
                          min_cell=query.min_cell))  # fmt: skip
    notes.append(note("not-recorded"))
    return notes
