"""Statistics over a generated data set: requests of both shipped SOPs moved through the
real services (returns, resubmissions, refusals, withdrawals, escalations and expiries by
the SLA sweep, requests left open), then every table compared with a naive recount
computed here straight from the rows of the database."""

from __future__ import annotations

import random
import shutil
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from sopflow import bootstrap
from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED, Query
from sopflow.errors import CommandRejected, InvalidData, NotFound
from sopflow.services import Command, Services
from sopflow.services.statistics import build_query
from sopflow.settings import Settings
from sopflow.store.db import make_engine
from tests.integration import world as w
from tests.integration.conftest import PG_URL, TABLES, Clock

RESERVED = {"attach", "breach", "deadline_warning"}
# Egyptians placed abroad, foreigners hired in Tunisia: two populations, never added
FLOW = {w.EG: "outflow", w.TN: "inflow"}
START = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


# -- the data set ------------------------------------------------------------------------
def _step(services: Services, clock: Clock, rng: random.Random, ref: str, step: w.Step) -> None:
    clock.advance(hours=rng.choice([1, 5, 26, 50, 75, 120]))
    w.run(services, ref, [step])


def _eg(services: Services, clock: Clock, rng: random.Random, n: int) -> None:
    scenarios = ["placed", "returned", "rejected", "withdrawn", "open", "escalated"]
    scenario = scenarios[n // 2 % len(scenarios)]  # each at least twice
    ref = w.submit_eg(
        services,
        destination_country=rng.choice(["SA", "AE", "QA"]),
        occupation=rng.choice(["7112", "9313", "2221"]),
        worker_fee=w.money(rng.choice(["0", "0", "60"]), "USD"),
    ).reference
    path = list(w.EG_PATH)
    if scenario == "returned":
        path = [
            w.step(
                "labour_attache",
                "return_for_correction",
                comment="attest it",
                reason="attestation_invalid",
            ),
            w.step("agent", "resubmit"),
            *path,
        ]
    elif scenario == "rejected":
        path = [*path[:2], w.step("employment_officer", "reject", comment="no",
                                  reason="fee_above_legal_cap")]  # fmt: skip
    elif scenario == "withdrawn":
        path = [w.step("agent", "withdraw")]
    elif scenario == "open":
        path = path[: rng.randint(0, 5)]
    elif scenario == "escalated":
        for s in path[:2]:
            _step(services, clock, rng, ref, s)
        clock.advance(days=20)  # past the 10 working days of demand_under_review
        services.deadlines.sweep()  # breach + escalate to the director
        path = [w.step("director", "approve_demand")]
    for s in path:
        _step(services, clock, rng, ref, s)


def _tn(services: Services, clock: Clock, rng: random.Random, n: int) -> None:
    scenarios = ["granted", "returned", "refused", "expired", "open"]
    scenario = scenarios[n // 2 % len(scenarios)]
    dates = w.tn_dates(clock.now)
    ref = w.submit_tn(services, passport_number=f"P{n:07d}", sex=rng.choice(["female", "male"]),
                      birth_date=rng.choice(["1960-05-01", "1990-04-12", "2001-12-31"]),
                      citizenship=rng.choice(["SN", "CI", "FR"]), **dates).reference  # fmt: skip
    back = w.step("examiner", "return_for_correction", comment="fix", reason="incomplete_file")
    path = list(w.TN_PATH)
    if scenario == "returned":
        path = [back, w.step("enterprise", "resubmit"), *path]
    elif scenario == "refused":
        path = [*path[:3], w.step("signatory", "refuse_visa", comment="no",
                                  reason="tunisian_candidates_available")]  # fmt: skip
    elif scenario == "expired":
        _step(services, clock, rng, ref, back)
        clock.advance(days=50)  # past the 30 working days of returned_for_correction
        services.deadlines.sweep()  # breach + expire
        path = []
    elif scenario == "open":
        path = path[: rng.randint(0, 2)]
    for s in path:
        _step(services, clock, rng, ref, s)


def _empty_database(tmp: Path, template: str) -> str:
    if PG_URL:
        engine = make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
            conn.execute(sa.text("INSERT INTO chain_head (id, chain_seq, chain_hash) "
                                 "VALUES (1, 0, :h), (2, 0, :h)"), {"h": "0" * 64})  # fmt: skip
        engine.dispose()
        return PG_URL
    shutil.copy(template, tmp / "stats.db")
    return f"sqlite:///{tmp / 'stats.db'}"


@pytest.fixture(scope="module")
def data(_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """One generated data set for the whole module (building it is the slow part)."""
    tmp = tmp_path_factory.mktemp("stats")
    url = _empty_database(tmp, _template)
    services = bootstrap.build(Settings(database_url=url, data_dir=tmp / "data",
                                        outbox_dir=tmp / "outbox"))  # fmt: skip
    clock = Clock(START)
    services.ctx.clock = clock
    w.seed(services)
    rng = random.Random(8)
    for n in range(26):
        (_eg if n % 2 else _tn)(services, clock, rng, n)
        services.deadlines.sweep()
        clock.advance(hours=rng.choice([2, 30, 100]))
    clock.advance(days=3)
    services.deadlines.sweep()
    clock.advance(days=4)  # some deadlines pass after the last sweep: computed, not recorded
    yield services
    services.ctx.store.engine.dispose()


# -- the naive recount, straight from the rows -------------------------------------------
class Log:
    def __init__(self, services: Services) -> None:
        with services.ctx.store.read() as r:
            self.requests = r.all("SELECT * FROM requests ORDER BY id")
            events = r.all("SELECT request_id, seq, trigger, from_state, to_state, actor_id, "
                           "role, reason, at FROM events ORDER BY request_id, seq")  # fmt: skip
        self.events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in events:
            self.events[e["request_id"]].append(e)
        self.sops = {
            row["id"]: services.sops.pinned(row["sop_id"], row["sop_version"], row["sop_hash"])
            for row in self.requests
        }
        self.now = services.ctx.clock()

    def local(self, request_id: int, moment: datetime) -> Any:
        return moment.astimezone(ZoneInfo(self.sops[request_id].spec.calendar.timezone)).date()

    def stays(self, request_id: int) -> list[dict[str, Any]]:
        sop, out, current = self.sops[request_id], [], None
        for ev in self.events[request_id]:
            if ev["trigger"] in RESERVED:
                if current is not None and ev["trigger"] == "breach":
                    current["breaches"] += 1
                continue
            if current is not None:
                current.update(left=ev["at"], exit=ev)
            current = None
            state = sop.states[ev["to_state"]]
            if state.final is None:
                current = {
                    "state": state.id,
                    "entered": ev["at"],
                    "left": None,
                    "exit": None,
                    "breaches": 0,
                    "deadline": sop.calendar.deadline(ev["at"], state.sla) if state.sla else None,
                }
                out.append(current)
        return out


@pytest.fixture(scope="module")
def log(data: Services) -> Log:
    return Log(data)


def field(sop: Any, data: dict[str, Any], key: str) -> str:
    name = sop.spec.statistics.get(key)
    return NOT_IN_SOP if name is None else str(data.get(name) or NOT_RECORDED)


# -- the tables against the recount ------------------------------------------------------
def test_the_data_set_covers_every_kind_of_outcome_and_step(log: Log) -> None:
    outcomes = Counter(r["outcome"] for r in log.requests)
    triggers = Counter(e["trigger"] for es in log.events.values() for e in es)

    assert {"approved", "rejected", "withdrawn", "expired", None} <= set(outcomes)
    assert {"return_for_correction", "resubmit", "breach", "escalate", "expire"} <= set(triggers)


def test_placements_equal_a_recount_of_the_decided_requests(data: Services, log: Log) -> None:
    # the operator sees both SOPs: each row counts the requests of one flow only
    table = data.statistics.placements(
        Query(by=("period", "sop", "outcome", "destination_country", "sex"), min_cell=1)
    )

    expected: Counter[tuple[str, ...]] = Counter()
    workers: Counter[tuple[str, ...]] = Counter()
    for row in log.requests:
        if row["outcome"] is None:
            continue
        sop, rid = log.sops[row["id"]], row["id"]
        day = log.local(rid, log.events[rid][-1]["at"])  # the event that closed it
        values = row["snapshot"]["data"]
        key = (FLOW[row["sop_id"]], f"{day:%Y-%m}", row["sop_id"], row["outcome"],
               field(sop, values, "destination_country"), field(sop, values, "sex"))  # fmt: skip
        expected[key] += 1
        count = values.get("workers_selected") if row["sop_id"] == w.EG else 1
        workers[key] += count or 0
    got = {r.keys: r.values for r in table.rows}
    assert {k: v["requests"] for k, v in got.items()} == dict(expected)
    assert {k: v["workers"] for k, v in got.items()} == dict(workers)
    assert table.dimensions[0] == "flow" and table.total is None  # no total over both flows
    for sub in table.totals:
        mine = [k for k in expected if k[0] == sub.keys[0]]
        assert sub.values["requests"] == sum(expected[k] for k in mine)
        assert sub.values["workers"] == sum(workers[k] for k in mine)
    assert {t.keys[0] for t in table.totals} == {"outflow", "inflow"}


def test_placements_of_one_authority_keep_the_one_total(data: Services, log: Log) -> None:
    table = data.statistics.placements(Query(min_cell=1), w.email("eg_auditor"))

    decided = [r for r in log.requests if r["outcome"] and r["sop_id"] == w.EG]
    assert table.dimensions == ("period", "outcome") and table.totals == []
    assert table.total is not None and table.total.values["requests"] == len(decided)
    assert table.summary["requests"] == len(decided)


def test_small_cells_are_suppressed_by_default(data: Services, log: Log) -> None:
    table = data.statistics.placements(Query(by=("sop", "outcome"), min_cell=5))

    decided = Counter((r["sop_id"], r["outcome"]) for r in log.requests if r["outcome"])
    hidden = [r for r in table.rows if r.values["requests"] is None]
    assert hidden, "the data set should have small cells"
    for row in table.rows:
        if row.values["requests"] is not None:
            assert row.values["requests"] == decided[row.keys[1:]] >= 5
    for flow in FLOW.values():  # each flow's total is a margin of its own rows only
        under = [r for r in table.rows if r.keys[0] == flow]
        gone = [r for r in under if r.values["requests"] is None]
        if gone and len(gone) < len(under):
            assert len(gone) >= 2 and sum(decided[r.keys[1:]] for r in gone) >= 5


def test_time_in_stage_equals_a_recount_of_the_stays(data: Services, log: Log) -> None:
    table = data.statistics.stages(Query(by=("sop", "stage")))

    done: dict[tuple[str, str], list[float]] = defaultdict(list)
    still: Counter[tuple[str, str]] = Counter()
    for row in log.requests:
        for stay in log.stays(row["id"]):
            key = (row["sop_id"], stay["state"])
            if stay["left"] is None:
                still[key] += 1
            else:
                done[key].append((stay["left"] - stay["entered"]).total_seconds() / 86400)
    got = {r.keys: r.values for r in table.rows}
    assert set(got) == set(done) | set(still)
    for key, days in done.items():
        assert got[key]["stays"] == len(days)
        assert got[key]["median_days"] == pytest.approx(statistics.median(days), abs=0.006)
    assert {k: v["open_now"] for k, v in got.items() if v["open_now"]} == dict(still)


def test_deadlines_are_the_engines_and_compliance_equals_a_recount(data, log) -> None:
    table = data.statistics.deadlines(Query(by=("sop", "stage")))

    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for row in log.requests:
        stays = log.stays(row["id"])
        if row["outcome"] is None:  # the engine's deadline of the current stay is stored
            assert stays[-1]["deadline"] == row["deadline"], row["reference"]
        for stay in stays:
            if stay["deadline"] is None:
                continue
            c = expected[(row["sop_id"], stay["state"])]
            if stay["left"] is not None:
                c["met" if stay["left"] <= stay["deadline"] else "missed"] += 1
            else:
                c["open_overdue" if stay["deadline"] < log.now else "pending"] += 1
            c["breaches_recorded"] += stay["breaches"]
    got = {r.keys: r.values for r in table.rows}
    assert set(got) == set(expected)
    for key, c in expected.items():
        for name in ("met", "missed", "open_overdue", "pending", "breaches_recorded"):
            assert got[key][name] == c[name], (key, name)
    triggers = Counter(e["trigger"] for es in log.events.values() for e in es)
    assert table.total is not None
    assert table.total.values["breaches_recorded"] == triggers["breach"]
    assert table.total.values["escalated"] == triggers["escalate"] + triggers["expire"]


def test_returns_equal_a_recount_of_the_return_steps(data: Services, log: Log) -> None:
    table = data.statistics.returns(Query(by=("sop", "stage", "reason")))

    returned = Counter((log.sops[rid].spec.id, e["from_state"], e["reason"])
                       for rid, es in log.events.items() for e in es
                       if e["trigger"] == "return_for_correction")  # fmt: skip
    got = {r.keys: r.values["returns"] for r in table.rows}
    assert got == dict(returned)
    ever = {rid for rid, es in log.events.items()
            if any(e["trigger"] == "return_for_correction" for e in es)}  # fmt: skip
    decided = [r["id"] for r in log.requests if r["outcome"]]
    assert table.summary["decided"] == len(decided)
    assert table.summary["returned_at_least_once"] == len(set(decided) & ever)


def test_workload_equals_a_recount_of_the_officials_events(data: Services, log: Log) -> None:
    table = data.statistics.workload(Query(by=("actor", "role")))

    official = {r.id for sop in log.sops.values() for r in sop.spec.roles
                if r.kind == "official"}  # fmt: skip
    actions = Counter((e["actor_id"], e["role"]) for es in log.events.values() for e in es
                      if e["role"] in official)  # fmt: skip
    assert {r.keys: r.values["actions"] for r in table.rows} == dict(actions)


def test_ageing_equals_the_open_request_rows(data: Services, log: Log) -> None:
    table = data.statistics.ageing(Query(by=("sop", "stage")))

    open_rows = [r for r in log.requests if r["outcome"] is None]
    assert {r.keys: r.values["open"] for r in table.rows} == dict(
        Counter((r["sop_id"], r["state"]) for r in open_rows))  # fmt: skip
    overdue = sum(1 for r in open_rows if r["deadline"] and r["deadline"] < log.now)
    assert table.summary == {"open": len(open_rows), "overdue": overdue}


# -- who sees what -----------------------------------------------------------------------
def test_officials_and_auditors_see_their_authoritys_sops_only(data: Services) -> None:
    eg = data.statistics.placements(Query(by=("sop",), min_cell=1), w.email("eg_auditor"))
    tn = data.statistics.stages(Query(by=("sop",)), w.email("examiner"))
    everything = data.statistics.placements(Query(by=("sop",), min_cell=1))

    assert {r.keys[0] for r in eg.rows} == {w.EG}
    assert {r.keys[0] for r in tn.rows} == {w.TN}
    assert {r.keys for r in everything.rows} == {("outflow", w.EG), ("inflow", w.TN)}


@pytest.mark.parametrize("who", ["agent", "enterprise", "foreign_examiner"])
def test_requesters_and_outsiders_see_no_statistics(data: Services, who: str) -> None:
    with pytest.raises(CommandRejected) as refused:
        data.statistics.placements(Query(), w.email(who))

    assert refused.value.code == "forbidden"


def test_an_official_asking_for_another_authoritys_sop_is_told_it_is_not_found(data) -> None:
    with pytest.raises(NotFound, match="no statistics for SOP 'eg-mom-international-placement'"):
        data.statistics.placements(Query(sops=frozenset({w.EG})), w.email("examiner"))


def test_an_unknown_sop_is_named_in_the_refusals_details(data: Services) -> None:
    with pytest.raises(NotFound) as refused:
        data.statistics.stages(Query(sops=frozenset({"nope"})), w.email("examiner"))

    assert refused.value.to_dict()["sop"] == "nope"


# -- the query ---------------------------------------------------------------------------
def test_a_query_lists_every_mistake_by_parameter_with_its_values() -> None:
    with pytest.raises(InvalidData) as refused:
        build_query("2026-02-30", "2026-13-01", ["stage", "sexx,period"], (), "decade", "abc",
                    "whim", table="ageing")  # fmt: skip

    errors = {e.field: e for e in refused.value.errors}
    assert {f: e.code for f, e in errors.items()} == {
        "from": "wrong-type", "to": "wrong-type", "by": "unknown-dimension",
        "period": "not-in-enum", "basis": "not-in-enum", "min_cell": "wrong-type"}  # fmt: skip
    # ageing has no period (it is as of now): 'sexx' and 'period', each said
    by = [e.params["value"] for e in refused.value.errors if e.field == "by"]
    assert by == ["sexx", "period"]
    assert errors["from"].params == {"expected": "date", "value": "2026-02-30"}
    assert errors["min_cell"].params == {"expected": "integer", "value": "abc"}
    assert errors["period"].params == {"value": "decade", "allowed": ["month", "quarter", "year"]}
    assert refused.value.message.startswith("invalid statistics query: from: '2026-02-30'")


def test_a_query_refuses_a_window_backwards_and_a_threshold_below_the_floor() -> None:
    with pytest.raises(InvalidData) as refused:
        build_query("2026-03-01", "2026-02-01", min_cell="2", min_floor=5, table="placements")

    to, min_cell = refused.value.errors
    assert (to.field, to.code, to.params) == ("to", "out-of-range", {
        "bound": "not-before", "value": "2026-02-01", "limit": "2026-03-01"})  # fmt: skip
    assert (min_cell.field, min_cell.code) == ("min_cell", "out-of-range")
    assert min_cell.params == {"bound": "min", "limit": 5, "value": 2}
    assert build_query(min_cell=" 7 ", min_floor=5).min_cell == 7


def test_statistics_change_nothing(data: Services) -> None:
    before = w.footprint(data)
    for name in ("placements", "stages", "deadlines", "returns", "ageing", "workload"):
        data.statistics.table(name, Query())
    assert w.footprint(data) == before


def test_a_window_keeps_the_stays_that_ended_in_it(data: Services, log: Log) -> None:
    first = START.date() + timedelta(days=20)
    last = first + timedelta(days=30)
    table = data.statistics.stages(Query(window=w_window(first, last), by=("sop",)))

    ended = sum(
        1
        for row in log.requests
        for s in log.stays(row["id"])
        if s["left"] is not None and first <= log.local(row["id"], s["left"]) <= last
    )
    assert table.total is not None and table.total.values["stays"] == ended > 0


def w_window(first: Any, last: Any) -> Any:
    from sopflow.analytics.model import Window

    return Window(first, last)


def test_the_sweep_and_a_command_still_work_after_reading(data: Services) -> None:
    ref = w.submit_tn(data, passport_number="Z9999999", **w.tn_dates(data.ctx.clock())).reference
    data.statistics.stages(Query())
    result = data.commands.act(ref, "accept_filing", w.email("examiner"), Command())
    assert result.state == "examination"


def test_a_step_an_hour_before_its_deadline_is_met_and_an_hour_after_is_missed(
    seeded: Services, clock: Clock
) -> None:
    timely, late = (
        w.submit_tn(seeded, passport_number=p).reference for p in ("T1111111", "T2222222")
    )
    deadline = datetime.fromisoformat(seeded.queries.show(timely, w.email("examiner"))["deadline"])
    clock.now = deadline - timedelta(hours=1)
    seeded.commands.act(timely, "accept_filing", w.email("examiner"), Command())
    clock.now = deadline + timedelta(hours=1)  # no sweep ran: nothing recorded, still late
    seeded.commands.act(late, "accept_filing", w.email("examiner"), Command())

    table = seeded.statistics.deadlines(Query(by=("stage", "role")))

    row = {r.keys: r.values for r in table.rows}[(w.TN, "filing_check", "examiner")]
    assert (row["met"], row["missed"], row["breaches_recorded"]) == (1, 1, 0)
    assert row["compliance_pct"] == 50.0
    assert row["median_days_late"] == pytest.approx(1 / 24, abs=0.006)


def test_reading_in_parallel_slices_gives_the_same_tables(data: Services, monkeypatch) -> None:
    from sopflow.services import stats_reading

    queries = {"stages": Query(by=("sop", "stage", "role")),
               "deadlines": Query(by=("stage", "role")),
               "workload": Query(by=("actor", "role"))}  # fmt: skip
    alone = {name: data.statistics.table(name, q).to_json() for name, q in queries.items()}
    pools: list[int] = []

    class Counted(stats_reading.ProcessPoolExecutor):
        def map(self, *args: Any, **kwargs: Any) -> Any:
            pools.append(len(args[-1]))
            return super().map(*args, **kwargs)

    monkeypatch.setattr(stats_reading, "ProcessPoolExecutor", Counted)
    monkeypatch.setattr(stats_reading, "PARALLEL_FROM", 0)  # this small log, in 4 processes
    monkeypatch.setattr(stats_reading.os, "cpu_count", lambda: 4)

    together = {name: data.statistics.table(name, q).to_json() for name, q in queries.items()}

    assert pools == [4, 4, 4]
    assert together == alone
