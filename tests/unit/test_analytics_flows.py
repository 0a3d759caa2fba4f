"""Two migration flows are never added: Egyptian workers placed abroad (an outflow, counted
by the country of origin) and foreign workers authorised in Tunisia (an inflow, counted by
the country of destination) are kept apart in every cell, total and headline of a placement
table whose scope holds both; a table of one flow is as it always was."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import date

from sopflow.analytics.flows import flow_of
from sopflow.analytics.labels import Labels
from sopflow.analytics.model import Query
from sopflow.analytics.placements import PlacementFact, Placements, placements
from tests.factories import EG, TN, compiled
from tests.integration.world import eg_data, money, tn_data

EGYPT, TUNISIA = compiled(EG), compiled(TN)
MARCH = date(2026, 3, 10)


def eg(outcome: str = "approved", workers: int = 20, fee: str = "10") -> PlacementFact:
    data = eg_data(workers_selected=workers, monthly_wage=money("500", "USD"),
                   worker_fee=money(fee, "USD"))  # fmt: skip
    return PlacementFact(EGYPT, "nile", outcome, data, MARCH)


def tn(outcome: str = "approved") -> PlacementFact:
    return PlacementFact(TUNISIA, "carthage", outcome, tn_data(), MARCH)


BOTH = [eg() for _ in range(6)] + [eg("rejected")] * 5 + [tn() for _ in range(7)]


def test_the_shipped_sops_flows_are_told_by_their_statistics_mappings() -> None:
    assert flow_of(EGYPT.spec) == "outflow"  # it records where the workers go
    assert flow_of(TUNISIA.spec) == "inflow"  # it records the worker's citizenship


def test_both_flows_by_default_lead_with_the_flow_and_have_no_grand_total() -> None:
    table = placements(BOTH, Query(min_cell=5))

    assert table.dimensions == ("flow", "period", "outcome")
    assert [(r.keys, r.values["requests"], r.values["workers"]) for r in table.rows] == [
        (("inflow", "2026-03", "approved"), 7, 7),  # one named worker per Tunisian request
        (("outflow", "2026-03", "approved"), 6, 120),
        (("outflow", "2026-03", "rejected"), 5, 100),
    ]  # fmt: skip
    assert table.total is None and table.totals_by == "flow"
    assert [(t.keys, t.values["requests"], t.values["workers"]) for t in table.totals] == [
        (("inflow",), 7, 7), (("outflow",), 11, 220)]  # fmt: skip
    assert "requests" not in table.summary and "workers" not in table.summary
    assert table.summary["flows"] == [
        {"flow": "inflow", "requests": 7, "workers": 7, "suppressed": []},
        {"flow": "outflow", "requests": 11, "workers": 220, "suppressed": []}]  # fmt: skip
    assert "flows-apart" in [n.code for n in table.notes]


def test_sdg_10_7_1_is_given_per_flow_never_over_both() -> None:
    table = placements(BOTH, Query(by=("outcome",), min_cell=5))

    by_flow = {t.keys[0]: t.values for t in table.totals}
    assert by_flow["outflow"]["cost_ratio_pct"] == 2.0  # 10 USD of a 500 USD wage
    assert by_flow["inflow"]["cost_ratio_pct"] == 0.0  # Tunisia: no fee to the worker
    assert by_flow["outflow"]["cost_workers"] == 120 and by_flow["inflow"]["cost_workers"] == 7


def test_an_explicit_breakdown_without_the_flow_gets_it_in_front_with_a_note() -> None:
    table = placements(BOTH, Query(by=("occupation_major",), min_cell=1))

    assert table.dimensions == ("flow", "occupation_major")
    assert {r.keys[0] for r in table.rows} == {"inflow", "outflow"}
    assert "the table is broken down by flow (put first when not asked for)" in " ".join(
        map(str, table.notes))  # fmt: skip


def test_a_flow_asked_for_anywhere_is_not_added_twice() -> None:
    table = placements(BOTH, Query(by=("outcome", "flow"), min_cell=1))

    assert table.dimensions == ("outcome", "flow")
    assert {r.keys for r in table.rows} == {("approved", "inflow"), ("approved", "outflow"),
                                            ("rejected", "outflow")}  # fmt: skip
    assert [t.keys for t in table.totals] == [("inflow",), ("outflow",)]


def test_one_flow_is_as_it_always_was() -> None:
    table = placements([eg() for _ in range(6)], Query(min_cell=5))

    assert table.dimensions == ("period", "outcome")
    assert table.total is not None and table.total.values["requests"] == 6
    assert table.totals == [] and table.totals_by is None
    assert (table.summary["requests"], table.summary["workers"]) == (6, 120)
    assert "flows-apart" not in [n.code for n in table.notes]


def test_the_scope_decides_not_the_window_holding_requests_of_one_flow() -> None:
    tally = Placements(Query(min_cell=1), flows={"outflow", "inflow"})
    for fact in [eg() for _ in range(3)]:
        tally.add(fact)

    table = tally.table()

    assert table.dimensions == ("flow", "period", "outcome")
    assert [(t.keys, t.values["requests"]) for t in table.totals] == [
        (("inflow",), 0), (("outflow",), 3)]  # fmt: skip


def test_small_cells_are_suppressed_flow_by_flow() -> None:
    # three Tunisian requests: hidden, and the Tunisian total with them; no margin across
    # flows is published, so nothing Egyptian needs hiding to protect them
    items = [eg() for _ in range(8)] + [tn() for _ in range(3)]

    table = placements(items, Query(by=("sop",), min_cell=5))

    rows = {r.keys: r for r in table.rows}
    assert rows[("outflow", "eg-mom-international-placement")].values["requests"] == 8
    assert rows[("inflow", "tn-dgpemoe-foreign-worker-contract")].values["requests"] is None
    totals = {t.keys[0]: t for t in table.totals}
    assert totals["inflow"].values["requests"] is None and totals["outflow"].values["requests"] == 8
    assert table.summary["flows"][0]["suppressed"] == ["requests", "workers"]


def test_an_sop_whose_mapping_does_not_tell_its_flow_is_a_flow_of_its_own() -> None:
    statistics = {**EGYPT.spec.statistics, "citizenship": "destination_country"}
    both = dataclasses.replace(EGYPT, content_hash="sha256:mixed", spec=EGYPT.spec.model_copy(
        update={"id": "eg-mixed", "statistics": statistics}))  # fmt: skip
    items = [eg() for _ in range(5)] + [PlacementFact(both, "nile", "approved", eg().data, MARCH)]

    table = placements(items, Query(by=("outcome",), min_cell=1))

    assert flow_of(both.spec) == "sop:eg-mixed"
    assert [(t.keys, t.values["requests"]) for t in table.totals] == [
        (("outflow",), 5), (("sop:eg-mixed",), 1)]  # fmt: skip
    assert any(n.code == "flow-undetermined" and n.params == {"sop": "eg-mixed"}
               for n in table.notes)  # fmt: skip
    assert Labels([both])("flow", "sop:eg-mixed", "en").startswith("flow not determined: ")


def test_the_csv_and_json_give_one_total_per_flow_and_none_over_both() -> None:
    table = placements(BOTH, Query(min_cell=5))
    labels = Labels([EGYPT, TUNISIA])

    lines = list(csv.reader(io.StringIO(table.csv(labels, "fr", total="Total"))))
    as_json = table.to_json(labels)

    assert lines[0][:6] == ["flow", "flow_label", "period", "period_label", "outcome",
                            "outcome_label"]  # fmt: skip
    assert [line[:6] for line in lines[-2:]] == [
        ["inflow", "flux entrant : travailleurs étrangers admis (pays de destination)",
         "total", "Total", "total", "Total"],
        ["outflow", "flux sortant : travailleurs placés à l'étranger (pays d'origine)",
         "total", "Total", "total", "Total"]]  # fmt: skip
    assert [line[6] for line in lines[-2:]] == ["7", "11"]
    assert not [line for line in lines if line[0] == "total"]  # no line adds the two flows
    assert as_json["total"] is None and as_json["totals_by"] == "flow"
    assert [(t["flow"], t["requests"]) for t in as_json["totals"]] == [("inflow", 7),
                                                                       ("outflow", 11)]  # fmt: skip
    assert as_json["totals"][1]["flow_label"].startswith("outflow: workers placed abroad")
