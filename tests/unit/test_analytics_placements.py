"""Placement statistics: every cell equals a naive recount of the requests, the SDG 10.7.1
figures are the textbook ratios, and suppression hides exactly what it must."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED, Query, Window
from sopflow.analytics.placements import PlacementFact, placements
from tests.factories import EG, TN, compiled
from tests.integration.world import eg_data, money, tn_data

EGYPT, TUNISIA = compiled(EG), compiled(TN)
OUTCOMES = ("approved", "rejected", "withdrawn", "expired")


@st.composite
def facts(draw: st.DrawFn) -> PlacementFact:
    day = draw(st.dates(min_value=date(2025, 11, 1), max_value=date(2026, 4, 30)))
    outcome = draw(st.sampled_from(OUTCOMES))
    if draw(st.booleans()):
        data: dict[str, Any] = eg_data(
            destination_country=draw(st.sampled_from(["SA", "AE", "QA"])),
            occupation=draw(st.sampled_from(["7112", "9313", "2221"])),
            monthly_wage=money(str(draw(st.integers(300, 2000))), "USD"),
            worker_fee=money(str(draw(st.sampled_from([0, 0, 5, 40]))),
                             draw(st.sampled_from(["USD", "USD", "EGP"]))),
        )  # fmt: skip
        workers = draw(st.one_of(st.none(), st.integers(1, 60)))
        if workers is not None:
            data["workers_selected"] = workers
        return PlacementFact(EGYPT, draw(st.sampled_from(["nile", "delta"])), outcome, data, day)
    data = tn_data(sex=draw(st.sampled_from(["female", "male"])),
                   occupation=draw(st.sampled_from(["2512", "7112"])))  # fmt: skip
    if draw(st.booleans()):
        del data["sex"]
    return PlacementFact(TUNISIA, "carthage", outcome, data, day)


def naive_key(fact: PlacementFact) -> tuple[str, ...]:
    """Written out again, plainly: month, SOP, outcome, sex, ISCO major group, destination."""
    data, stats = fact.data, fact.sop.spec.statistics
    sex = (data.get("sex") or NOT_RECORDED) if "sex" in stats else NOT_IN_SOP
    dest = data.get("destination_country", NOT_RECORDED) if "destination_country" in stats \
        else NOT_IN_SOP  # fmt: skip
    return (f"{fact.day.year}-{fact.day.month:02d}", fact.sop.spec.id, fact.outcome, sex,
            data["occupation"][0], dest)  # fmt: skip


BY = ("period", "sop", "outcome", "sex", "occupation_major", "destination_country")
# Egyptians placed abroad, foreigners hired in Tunisia: written out plainly again
FLOW_OF = {"eg-mom-international-placement": "outflow",
           "tn-dgpemoe-foreign-worker-contract": "inflow"}  # fmt: skip


def flow(fact: PlacementFact) -> str:
    return FLOW_OF[fact.sop.spec.id]


def apart(items: list[PlacementFact]) -> bool:
    """Whether the facts are of both flows: then every key starts with the flow."""
    return len({flow(f) for f in items}) > 1


def recount(items: list[PlacementFact], window: Window) -> dict[tuple[str, ...], dict[str, Any]]:
    cells: dict[tuple[str, ...], dict[str, Any]] = defaultdict(lambda: defaultdict(Decimal))
    for fact in items:
        if not window.contains(fact.day):
            continue
        cell = cells[((flow(fact),) if apart(items) else ()) + naive_key(fact)]
        cell["requests"] += 1
        per_request = fact.sop is TUNISIA  # one named worker per Tunisian request
        workers = 1 if per_request else fact.data.get("workers_selected")
        if workers is None:
            cell["workers_not_recorded"] += 1
            continue
        cell["workers"] += workers
        fee, wage = fact.data["worker_fee"], fact.data["monthly_wage"]
        if fact.outcome == "approved" and fee["currency"] == wage["currency"]:
            ratio = Decimal(fee["amount"]) / Decimal(wage["amount"])
            cell["cost_workers"] += workers
            cell["ratio_sum"] += workers * ratio
            if ratio > 0:
                cell["paid"] += workers
                cell["payer_ratio_sum"] += workers * ratio
    return cells


@settings(max_examples=120, deadline=None)
@given(st.lists(facts(), max_size=60), st.integers(0, 6),
       st.sampled_from([Window(), Window(date(2026, 1, 1), date(2026, 2, 28))]))  # fmt: skip
def test_every_published_cell_equals_a_naive_recount(items, k, window) -> None:
    table = placements(items, Query(window=window, by=BY, min_cell=k))
    expected = recount(items, window)

    assert sorted(r.keys for r in table.rows) == sorted(expected)
    for row in table.rows:
        want = expected[row.keys]
        if "requests" in row.suppressed:
            assert row.values["requests"] is None
            continue
        assert row.values["requests"] == want["requests"]
        assert row.values["workers"] == want["workers"]
        assert row.values["workers_not_recorded"] == want["workers_not_recorded"]
        if "cost_ratio_pct" in row.suppressed or not want["cost_workers"]:
            continue
        assert row.values["cost_workers"] == want["cost_workers"]
        assert row.values["paid_share_pct"] == pytest.approx(
            float(100 * want["paid"] / want["cost_workers"]), abs=0.006)  # fmt: skip
        assert row.values["cost_ratio_pct"] == pytest.approx(
            float(100 * want["ratio_sum"] / want["cost_workers"]), abs=0.006)  # fmt: skip
    if not apart(items):
        total = sum(c["requests"] for c in expected.values())
        assert table.total is not None and not table.totals
        # a total is hidden below k, except a total of none (docs/statistics.md)
        assert table.total.values["requests"] == (total if total >= k or not total else None)
        assert table.summary["requests"] == table.total.values["requests"]  # no leak
        return
    # two flows: never added; one total and one headline per flow, none over both
    assert table.total is None and "requests" not in table.summary
    assert table.dimensions == ("flow", *BY)
    for sub, head in zip(table.totals, table.summary["flows"], strict=True):
        total = sum(c["requests"] for key, c in expected.items() if key[0] == sub.keys[0])
        assert sub.values["requests"] == (total if total >= k or not total else None)
        assert (head["flow"], head["requests"]) == (sub.keys[0], sub.values["requests"])
    assert [t.keys for t in table.totals] == [("inflow",), ("outflow",)]


@settings(max_examples=120, deadline=None)
@given(st.lists(facts(), max_size=60), st.integers(2, 8))
def test_no_published_cell_counts_fewer_requests_than_the_threshold(items, k) -> None:
    table = placements(items, Query(by=("sop", "sex", "occupation_major"), min_cell=k))
    counts: dict[tuple[str, ...], int] = defaultdict(int)
    for fact in items:
        key = naive_key(fact)
        counts[(key[1], key[3], key[4])] += 1

    published = [r for r in table.rows if r.values["requests"] is not None]
    assert all(r.values["requests"] >= k for r in published)
    assert not [r for r in published if counts[r.keys[-3:]] < k]
    # each published total (one, or one per flow) gives no hidden cell or small group away
    for sub in table.totals or [table.total]:
        assert sub is not None
        under = [r for r in table.rows if not table.totals or r.keys[0] == sub.keys[0]]
        hidden = [r for r in under if r.values["requests"] is None]
        if hidden and len(hidden) < len(under):
            assert len(hidden) >= 2 and sum(counts[r.keys[-3:]] for r in hidden) >= k


def test_sdg_10_7_1_figures_on_a_worked_example() -> None:
    def eg(fee: str, workers: int, outcome: str = "approved") -> PlacementFact:
        data = eg_data(monthly_wage=money("1000", "USD"), worker_fee=money(fee, "USD"),
                       workers_selected=workers)  # fmt: skip
        return PlacementFact(EGYPT, "nile", outcome, data, date(2026, 3, 1))

    # 30 workers paid 100 (10% of a month), 10 paid nothing; the refused demand is left out
    items = [eg("100", 10), eg("100", 20), eg("0", 10), eg("500", 40, "rejected")]
    table = placements(items, Query(by=("sop",), min_cell=1))

    row = table.rows[0].values
    assert row["requests"] == 4 and row["workers"] == 80
    assert row["cost_workers"] == 40
    assert row["paid_share_pct"] == 75.0
    assert row["cost_ratio_pct"] == 7.5  # (30 x 10% + 10 x 0%) / 40
    assert row["cost_ratio_payers_pct"] == 10.0


def test_cost_figures_on_too_few_requests_are_suppressed_even_in_a_published_row() -> None:
    items = [PlacementFact(TUNISIA, "c", "rejected", tn_data(), date(2026, 3, 1))] * 6
    items += [PlacementFact(TUNISIA, "c", "approved", tn_data(), date(2026, 3, 1))]

    table = placements(items, Query(by=("sop",), min_cell=5))

    row = table.rows[0]
    assert row.values["requests"] == 7
    assert row.values["cost_ratio_pct"] is None and "cost_ratio_pct" in row.suppressed


def test_no_request_at_all_is_a_total_of_zero_not_a_suppressed_one() -> None:
    table = placements([], Query(by=("sop",), min_cell=5))

    assert table.rows == []
    assert (table.total.values["requests"], table.total.values["workers"]) == (0, 0)
    assert not table.total.suppressed
    assert "no request was decided in the window of this query" in map(str, table.notes)


def test_a_total_below_the_threshold_is_suppressed() -> None:
    items = [PlacementFact(TUNISIA, "c", "approved", tn_data(), date(2026, 3, 1))] * 4

    table = placements(items, Query(by=("sop",), min_cell=5))

    assert table.total.values["requests"] is None and "requests" in table.total.suppressed


def test_notes_say_what_an_sop_does_not_record() -> None:
    items = [PlacementFact(EGYPT, "nile", "approved", eg_data(workers_selected=3),
                           date(2026, 3, 1))]  # fmt: skip

    table = placements(items, Query(by=("sex", "age_band"), min_cell=1))

    assert table.rows[0].keys == (NOT_IN_SOP, NOT_IN_SOP)
    assert any(str(n).startswith("sex is not recorded by eg-mom-international-placement")
               for n in table.notes)  # fmt: skip


def test_the_filing_basis_counts_open_requests_too() -> None:
    items = [PlacementFact(TUNISIA, "c", "open", tn_data(), date(2026, 3, 1))]

    table = placements(items, Query(by=("outcome",), min_cell=1, basis="filing"))

    assert [r.keys for r in table.rows] == [("open",)]
    assert table.title == "Placements and authorisations (filed)"
