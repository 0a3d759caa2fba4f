"""Operations figures (time in stage, deadlines, returns, ageing, workload) on random walks
through the shipped SOPs: every figure equals a naive recount written straight from the
event lists, and the stays carry the engine's deadlines."""

from __future__ import annotations

import random
import statistics
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.deadlines import deadlines
from sopflow.analytics.model import Query, Window
from sopflow.analytics.returns import returns
from sopflow.analytics.stages import ageing, bucket, stages
from sopflow.analytics.stays import DeadlineClock, EventFact, Track, stays_of
from sopflow.analytics.workload import expected_roles, workload
from states.machine import CompiledSop
from states.model import ATTACH, BREACH, CREATE, WARNING
from tests.factories import EG, TN, compiled

EGYPT, TUNISIA = compiled(EG), compiled(TN)
START = datetime(2026, 1, 4, 9, tzinfo=UTC)
NOW = datetime(2026, 5, 1, 9, tzinfo=UTC)
RESERVED = {ATTACH, BREACH, WARNING}


def walk(sop: CompiledSop, rng: random.Random, request_id: int) -> list[EventFact]:
    """A random path through ``sop``: any transition, any gap, documents, warnings and
    breaches sprinkled in; it may stop before a final state (an open request)."""
    at = START + timedelta(hours=rng.uniform(0, 24 * 60))
    requester = next(iter(sop.requester_roles))
    events = [EventFact(request_id, 1, CREATE, None, sop.initial, "me@x", requester, None, at)]
    state = sop.initial
    while not sop.is_final(state) and len(events) < 25:
        at += timedelta(hours=rng.choice([0.5, 3, 20, 60, 200, 500]))
        if at > NOW or rng.random() < 0.05:
            break
        extra = rng.random()
        if extra < 0.25:
            kind = rng.choice([ATTACH, BREACH, WARNING])
            events.append(EventFact(request_id, len(events) + 1, kind, state, state,
                                    "sys", "system", None, at))  # fmt: skip
            continue
        tr = rng.choice(list(sop.by_state[state].values()))
        role = rng.choice(tr.roles)
        reason = rng.choice(tr.reasons) if tr.reasons else None
        actor = f"{role}-{rng.randint(1, 3)}@x"
        events.append(EventFact(request_id, len(events) + 1, tr.trigger, state, tr.to, actor,
                                role, reason, at))  # fmt: skip
        state = tr.to
    return events


def tracks_of(seed: int, n: int) -> list[Track]:
    rng, clock = random.Random(seed), DeadlineClock()
    made = []
    for i in range(n):
        sop = EGYPT if rng.random() < 0.5 else TUNISIA
        events = walk(sop, rng, i + 1)
        last = sop.states[events[-1].to_state]
        made.append(Track(i + 1, sop, f"org-{i % 3}", events[0].at, last.final, events,
                          stays_of(sop, events, clock)))  # fmt: skip
    return made


def naive_stays(track: Track) -> list[dict[str, Any]]:
    """The stays written out again from the events, without the core."""
    sop, out, current = track.sop, [], None
    for ev in track.events:
        if ev.trigger in RESERVED:
            if current is not None and ev.trigger == BREACH:
                current["breaches"] += 1
            continue
        if current is not None:
            current.update(left=ev.at, exit=ev)
        current = None
        if sop.states[ev.to_state].final is None:
            sla = sop.states[ev.to_state].sla
            current = {"state": ev.to_state, "entered": ev.at, "left": None, "exit": None,
                       "breaches": 0,
                       "deadline": sop.calendar.deadline(ev.at, sla) if sla else None}  # fmt: skip
            out.append(current)
    return out


seeds = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_time_in_stage_equals_a_naive_recount(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    table = stages(tracks, Query(), NOW)

    done: dict[tuple[str, str], list[float]] = defaultdict(list)
    still: Counter[tuple[str, str]] = Counter()
    for track in tracks:
        for stay in naive_stays(track):
            key = (track.sop.spec.id, stay["state"])
            if stay["left"] is None:
                still[key] += 1
            else:
                done[key].append((stay["left"] - stay["entered"]).total_seconds() / 86400)
    rows = {r.keys: r.values for r in table.rows}
    assert set(rows) == set(done) | set(still)
    for key, days in done.items():
        assert rows[key]["stays"] == len(days)
        assert rows[key]["median_days"] == pytest.approx(statistics.median(days), abs=0.006)
        if len(days) > 1:
            p90 = statistics.quantiles(days, n=10, method="inclusive")[8]
            assert rows[key]["p90_days"] == pytest.approx(p90, abs=0.006)
        assert rows[key]["max_days"] == pytest.approx(max(days), abs=0.006)
    for key, n in still.items():
        assert rows[key]["open_now"] == n
    assert table.total is not None
    assert table.total.values["stays"] == sum(map(len, done.values()))


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_deadline_compliance_equals_a_naive_recount(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    window = Window(START.date() + timedelta(days=20), NOW.date())
    table = deadlines(tracks, Query(window=window), NOW)

    expected: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for track in tracks:
        for stay in naive_stays(track):
            deadline = stay["deadline"]
            if deadline is None or not window.contains(track.sop.calendar.local_date(deadline)):
                continue
            c = expected[(track.sop.spec.id, stay["state"])]
            if stay["left"] is not None:
                c["met" if stay["left"] <= deadline else "missed"] += 1
            else:
                c["open_overdue" if deadline < NOW else "pending"] += 1
            c["breaches_recorded"] += stay["breaches"]
    rows = {r.keys: r.values for r in table.rows}
    assert set(rows) == set(expected)
    for key, c in expected.items():
        for name in ("met", "missed", "open_overdue", "pending", "breaches_recorded"):
            assert rows[key][name] == c[name], (key, name)
        due = c["met"] + c["missed"] + c["open_overdue"]
        assert rows[key]["due"] == due
        if due:
            assert rows[key]["compliance_pct"] == pytest.approx(100 * c["met"] / due, abs=0.006)


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_returns_equal_a_naive_recount_of_return_for_correction(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    table = returns(tracks, Query(by=("sop", "stage", "reason")))

    returnable = {(sop.spec.id, src) for sop in (EGYPT, TUNISIA) for tr in sop.spec.transitions
                  if tr.trigger == "return_for_correction" for src in tr.source}  # fmt: skip
    exits: Counter[tuple[str, str]] = Counter()
    back: Counter[tuple[str, str, str]] = Counter()
    for track in tracks:
        for stay in naive_stays(track):
            key = (track.sop.spec.id, stay["state"])
            if stay["exit"] is None or key not in returnable:
                continue
            exits[key] += 1
            if stay["exit"].trigger == "return_for_correction":
                back[(*key, stay["exit"].reason)] += 1
    rows = {r.keys: r.values for r in table.rows}
    assert set(rows) == set(back)
    for key, n in back.items():
        assert rows[key]["returns"] == n
        assert rows[key]["exits"] == exits[key[:2]]
    assert table.total is not None
    assert table.total.values["exits"] == sum(exits.values())


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_workload_equals_a_naive_recount_of_officials_events(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    table = workload(tracks, Query(by=("actor", "role")), NOW)

    actions: Counter[tuple[str, str]] = Counter()
    requests: dict[tuple[str, str], set[int]] = defaultdict(set)
    finals: Counter[tuple[str, str]] = Counter()
    for track in tracks:
        for ev in track.events:
            if track.sop.roles[ev.role].kind != "official":
                continue
            actions[(ev.actor_id, ev.role)] += 1
            requests[(ev.actor_id, ev.role)].add(track.request_id)
            finals[(ev.actor_id, ev.role)] += track.sop.states[ev.to_state].final is not None
    rows = {r.keys: r.values for r in table.rows}
    assert set(rows) == set(actions)
    for key, n in actions.items():
        assert rows[key]["actions"] == n
        assert rows[key]["requests"] == len(requests[key])
        assert rows[key]["final_decisions"] == finals[key]


@settings(max_examples=40, deadline=None)
@given(seeds)
def test_ageing_equals_a_naive_recount_of_open_requests(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    table = ageing(tracks, Query(), NOW)

    by_stage: dict[tuple[str, str], list[float]] = defaultdict(list)
    for track in tracks:
        stays = naive_stays(track)
        if track.outcome is None and stays and stays[-1]["left"] is None:
            age = (NOW - track.events[0].at).total_seconds() / 86400
            by_stage[(track.sop.spec.id, stays[-1]["state"])].append(age)
    rows = {r.keys: r.values for r in table.rows}
    assert set(rows) == set(by_stage)
    for key, ages in by_stage.items():
        assert rows[key]["open"] == len(ages)
        buckets = Counter(bucket(a) for a in ages)
        for name in ("age_0_7", "age_8_30", "age_31_90", "age_91_180", "age_over_180"):
            assert rows[key][name] == buckets[name]


@settings(max_examples=60, deadline=None)
@given(st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                    timezones=st.just(UTC)))  # fmt: skip
def test_the_memoised_deadline_is_the_engines(entered: datetime) -> None:
    clock = DeadlineClock()
    for sop in (EGYPT, TUNISIA):
        for state in sop.spec.states:
            if state.sla is not None:
                assert clock(sop, state.id, entered) == sop.calendar.deadline(entered, state.sla)
                assert clock(sop, state.id, entered) == sop.calendar.deadline(entered, state.sla)


def test_a_stay_ends_at_a_step_not_at_a_document_a_warning_or_a_breach() -> None:
    t = [START + timedelta(days=d) for d in range(8)]
    events = [
        EventFact(1, 1, CREATE, None, "draft", "a", "enterprise", None, t[0]),
        EventFact(1, 2, "submit", "draft", "filing_check", "a", "enterprise", None, t[0]),
        EventFact(1, 3, ATTACH, "filing_check", "filing_check", "a", "enterprise", None, t[1]),
        EventFact(1, 4, WARNING, "filing_check", "filing_check", "s", "system", None, t[2]),
        EventFact(1, 5, BREACH, "filing_check", "filing_check", "s", "system", None, t[3]),
        EventFact(1, 6, "accept_filing", "filing_check", "examination", "e", "examiner", None,
                  t[4]),
        EventFact(1, 7, "return_for_correction", "examination", "returned_for_correction",
                  "e", "examiner", "incomplete_file", t[5]),
    ]  # fmt: skip

    stays = stays_of(TUNISIA, events, DeadlineClock())

    assert [(s.state, s.breaches, s.warnings) for s in stays] == [
        ("draft", 0, 0), ("filing_check", 1, 1), ("examination", 0, 0),
        ("returned_for_correction", 0, 0)]  # fmt: skip
    assert stays[1].left_at == t[4] and stays[1].days(NOW) == 4.0
    assert stays[-1].left_at is None and stays[-1].exit is None
    assert stays[2].exit is events[-1]


@pytest.mark.parametrize(("sop", "state", "roles"), [
    (EGYPT, "demand_intake", {"registry_clerk"}),  # not the director, who may only close it
    (EGYPT, "demand_under_review", {"employment_officer", "director"}),  # both may approve
    (EGYPT, "selection_in_progress", {"selection_committee"}),
    (EGYPT, "medical_and_visa", set()),  # waits on the destination side
    (EGYPT, "returned_for_correction", set()),  # waits on the agency
    (TUNISIA, "awaiting_signature", {"minister_signatory"}),  # only decisions left
])  # fmt: skip
def test_a_stage_waits_for_the_roles_that_move_it_on(sop, state, roles) -> None:
    assert expected_roles(sop, state) == roles


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_the_queue_counts_each_open_request_for_each_role_it_waits_for(seed: int) -> None:
    tracks = tracks_of(seed, 25)
    table = workload(tracks, Query(), NOW)

    expected: Counter[tuple[str, str]] = Counter()
    for track in tracks:
        stays = naive_stays(track)
        if track.outcome is None and stays and stays[-1]["left"] is None:
            for role in expected_roles(track.sop, stays[-1]["state"]):
                expected[(track.sop.spec.id, role)] += 1
    got = {(q["sop"], q["role"]): q["open"] for q in table.summary["queue_now"]}
    assert got == dict(expected)
