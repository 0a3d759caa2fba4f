"""``sopflow stats``: the six tables as a user runs them (table, CSV, JSON), the options,
the exit statuses and the messages of every refusal."""

from __future__ import annotations

import csv
import io

import pytest

from sopflow.services import Command, Services
from tests.e2e.conftest import Sopflow, _reset_process_wide_services
from tests.integration import world as w
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    clock,
    seeded,
    services,
    settings,
)

TABLES = ("placements", "stages", "deadlines", "returns", "ageing", "workload")


@pytest.fixture
def log(seeded: Services, clock) -> Services:
    """Six Egyptian demands placed, two Tunisian contracts (one visa'd, one returned and
    left waiting), a little time between the steps."""
    for _ in range(6):
        ref = w.submit_eg(seeded).reference
        for step in w.EG_PATH:
            clock.advance(hours=20)
            w.run(seeded, ref, [step])
    granted = w.submit_tn(seeded, passport_number="G1234567", **w.tn_dates(clock.now)).reference
    w.run(seeded, granted, w.TN_PATH)
    returned = w.submit_tn(seeded, passport_number="R1234567", **w.tn_dates(clock.now)).reference
    seeded.commands.act(
        returned,
        "return_for_correction",
        w.email("examiner"),
        Command(comment="the CNSS list is missing", reason="incomplete_file"),
    )
    clock.advance(days=3)
    _reset_process_wide_services()  # the CLI builds its own services on the same database
    return seeded


@pytest.mark.parametrize("table", TABLES)
def test_every_table_prints_as_a_table_csv_and_json(sopflow: Sopflow, log, table: str) -> None:
    shown = sopflow.ok("stats", table)
    as_csv = sopflow.ok("stats", table, "--format", "csv")
    as_json = sopflow.ok("stats", table, "--format", "json").json()

    assert as_json["table"] == table and as_json["rows"]
    header = next(csv.reader(io.StringIO(as_csv.out)))
    assert header[: 2 * len(as_json["dimensions"])] == [
        c for d in as_json["dimensions"] for c in (d, f"{d}_label")]  # fmt: skip
    assert [m["name"] for m in as_json["measures"]] == header[2 * len(as_json["dimensions"]) :]
    assert as_json["title"] in shown.out and "total" in shown.out


def test_placements_are_suppressed_below_the_threshold(sopflow: Sopflow, log) -> None:
    default = sopflow.ok("stats", "placements", "--by", "sop", "--format", "json").json()
    lowered = sopflow.ok("stats", "placements", "--by", "sop", "--min-cell", "1", "--format",
                         "json").json()  # fmt: skip

    by_sop = {r["sop"]: r for r in lowered["rows"]}
    assert by_sop[w.EG]["requests"] == 6 and by_sop[w.EG]["workers"] == 6 * 18
    assert by_sop[w.TN]["requests"] == 1  # the returned one is not decided
    hidden = {r["sop"]: r for r in default["rows"]}
    # one Tunisian decision is under 5: hidden, with its flow's total. The Egyptian cell
    # stays: the two flows are never added, so no total over both could give it away
    assert hidden[w.TN]["requests"] is None and hidden[w.EG]["requests"] == 6
    assert default["total"] is None and default["dimensions"] == ["flow", "sop"]
    assert [(t["flow"], t["requests"]) for t in default["totals"]] == [
        ("inflow", None), ("outflow", 6)]  # fmt: skip
    assert "suppressed" in sopflow.ok("stats", "placements", "--by", "sop", "--format",
                                      "csv").out  # fmt: skip


def test_a_suppressed_total_is_said_so_in_the_headline_too(sopflow: Sopflow, log) -> None:
    shown = sopflow.ok("stats", "placements", "--min-cell", "50").out
    one_flow = sopflow.ok("stats", "placements", "--min-cell", "50", "--sop", w.EG).out

    # the operator sees both flows: a headline for each, none over both
    assert "requests (outflow): suppressed" in shown and "workers (inflow): suppressed" in shown
    assert "\nrequests: " not in shown and "None" not in shown
    assert "requests: suppressed" in one_flow and "workers: suppressed" in one_flow


def test_the_operator_sees_each_flow_apart_with_its_own_total(sopflow: Sopflow, log) -> None:
    shown = sopflow.ok("stats", "placements", "--min-cell", "1").out
    as_csv = list(csv.reader(io.StringIO(sopflow.ok(
        "stats", "placements", "--min-cell", "1", "--format", "csv").out)))  # fmt: skip

    assert "Requests of different migration flows are never added together" in shown
    assert "note: the SOPs of this query record different migration flows" in shown
    assert as_csv[0][:2] == ["flow", "flow_label"]
    # the last lines are each flow's total: the flow in its columns, total in the others
    assert [(line[0], line[2], line[4], line[6]) for line in as_csv[-2:]] == [
        ("inflow", "total", "total", "1"), ("outflow", "total", "total", "6")]  # fmt: skip
    assert not [line for line in as_csv if line[0] == "total"]


def test_the_threshold_comes_from_the_environment(sopflow: Sopflow, log) -> None:
    sopflow.env["SOPFLOW_STATS_MIN_CELL"] = "1"
    opened = sopflow.ok("stats", "placements", "--by", "sop", "--format", "json").json()
    sopflow.env["SOPFLOW_STATS_MIN_CELL"] = "many"
    broken = sopflow.fails(1, "stats", "placements")

    assert opened["query"]["min_cell"] == 1 and opened["rows"][0]["requests"] is not None
    assert "SOPFLOW_STATS_MIN_CELL: must be a whole number" in broken.err


def test_dimensions_periods_and_windows(sopflow: Sopflow, log) -> None:
    quarterly = sopflow.ok("stats", "placements", "--by", "period,sop", "--period", "quarter",
                           "--min-cell", "1", "--format", "json").json()  # fmt: skip
    nothing = sopflow.ok("stats", "stages", "--from", "2031-01-01", "--to", "2031-12-31",
                         "--format", "json").json()  # fmt: skip
    one_sop = sopflow.ok("stats", "returns", "--sop", w.TN, "--by", "reason", "--format",
                         "json").json()  # fmt: skip

    assert {r["period"] for r in quarterly["rows"]} <= {"2026-Q4", "2027-Q1"}
    assert nothing["total"]["stays"] == 0
    assert [(r["sop"], r["reason"], r["returns"]) for r in one_sop["rows"]] == [
        (w.TN, "incomplete_file", 1)]  # fmt: skip
    assert one_sop["dimensions"] == ["sop", "reason"]  # a reason code is only unique per SOP


def test_an_unknown_dimension_is_refused_with_the_allowed_ones(sopflow: Sopflow, log) -> None:
    refused = sopflow.fails(1, "stats", "deadlines", "--by", "stagee")

    assert refused.err.startswith("error[invalid-data] invalid statistics query: --by: "
                                  "'stagee' is not a dimension of deadlines (did you mean "
                                  "'stage'?); allowed: sop, stage, waiting_on, role, office, "
                                  "period")  # fmt: skip


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "2026-02-30"), "--from: '2026-02-30' is not a date (YYYY-MM-DD)"),
    (("--from", "2027-02-01", "--to", "2027-01-01"), "--to 2027-01-01 is before --from"),
    (("--sop", "nope"), "error[not-found] no statistics for SOP 'nope'"),
])  # fmt: skip
def test_bad_input_exits_1_with_a_precise_message(sopflow, log, args, message) -> None:
    assert message in sopflow.fails(1, "stats", "stages", *args).err


def test_every_mistake_is_listed_by_its_option(sopflow: Sopflow, log) -> None:
    refused = sopflow.fails(1, "stats", "stages", "--from", "2026-02-30", "--to", "2026-13-01",
                            "--by", "stage,sexx")  # fmt: skip

    assert refused.err.startswith("error[invalid-data] invalid statistics query: --from: "
                                  "'2026-02-30' is not a date (YYYY-MM-DD); --to: '2026-13-01' "
                                  "is not a date (YYYY-MM-DD); --by: 'sexx' is not a dimension "
                                  "of stages")  # fmt: skip


@pytest.mark.parametrize("args", [("--period", "week"), ("--format", "xml"),
                                  ("--min-cell", "-1"), ("--bogus",)])  # fmt: skip
def test_usage_errors_exit_2(sopflow: Sopflow, log, args: tuple[str, ...]) -> None:
    sopflow.fails(2, "stats", "placements", *args)


def test_as_an_official_or_an_auditor_only_their_sops(sopflow: Sopflow, log) -> None:
    examiner = sopflow.ok("stats", "stages", "--as", w.email("examiner"), "--by", "sop",
                          "--format", "json").json()  # fmt: skip
    agent = sopflow.fails(1, "stats", "stages", "--as", w.email("agent"))

    assert {r["sop"] for r in examiner["rows"]} == {w.TN}
    assert "error[forbidden]" in agent.err and "officials and auditors" in agent.err


def test_the_installed_command_runs_too(sopflow: Sopflow, log) -> None:
    done = sopflow.installed("stats", "workload", "--format", "csv")

    assert done.code == 0, done.err
    assert "examiner@dgpemoe.example" in done.out
