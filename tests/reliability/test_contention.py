"""Many clients, threads or processes, fire conflicting commands at the same few requests:
for every request exactly one transition per sequence number, no gap, no duplicate, the
chains verify, replay agrees with the stored state, and every loser got a ``conflict``.
On SQLite and on PostgreSQL (SOPFLOW_TEST_DATABASE_URL)."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

from sopflow.services import Services
from sopflow.settings import Settings
from tests.integration import world as w
from tests.integration.conftest import Clock
from tests.reliability.contenders import PEOPLE, Shot, contend, contend_in_process
from tests.reliability.scale import record, scaled


def check_outcome(services: Services, references: list[str], shots: list[Shot]) -> dict[str, int]:
    """The invariants, whatever the interleaving; the counts of what happened."""
    ended = Counter(s.ended for s in shots)
    assert set(ended) <= {"won", "conflict"}, f"refusals other than a conflict: {ended}"
    with services.ctx.store.read() as r:
        for reference in references:
            row = r.request(reference)
            assert row is not None
            events = r.events_of(row["id"])
            seqs = [e["seq"] for e in events]
            assert seqs == list(range(1, len(events) + 1)), f"{reference}: gap or duplicate"
            assert row["seq"] == len(events) and row["version"] == len(events) - 1
            won = sorted(s.seq or 0 for s in shots if s.reference == reference and s.ended == "won")
            # create and submit are seq 1 and 2; every later event is exactly one winner's
            assert won == seqs[2:], f"{reference}: winners {won}, events {seqs}"
            winners = {
                (s.seq, s.trigger) for s in shots if s.reference == reference and s.ended == "won"
            }
            assert winners == {(e["seq"], e["trigger"]) for e in events[2:]}
    for reference in references:
        replayed = services.audit.replay(reference, w.email("eg_auditor"))
        assert replayed["consistent"], replayed["differences"]
    report = services.audit.verify()
    assert report.intact, report.breaks
    return {"won": ended["won"], "conflicts": ended["conflict"], "events": report.events}


def fire_from_threads(
    services: Services, references: list[str], clients: int, shots: int
) -> list[Shot]:
    people = list(itertools.islice(itertools.cycle(PEOPLE), clients))
    with ThreadPoolExecutor(clients) as pool:
        runs = [
            pool.submit(contend, services, who, references, shots, seed)
            for seed, who in enumerate(people)
        ]
        return [shot for run in runs for shot in run.result(timeout=600)]


def fire_from_processes(
    settings: Settings, references: list[str], clients: int, shots: int
) -> list[Shot]:
    people = list(itertools.islice(itertools.cycle(PEOPLE), clients))
    with ProcessPoolExecutor(clients, mp_context=get_context("spawn")) as pool:
        runs = [
            pool.submit(
                contend_in_process,
                settings.database_url,
                str(settings.data_dir),
                who,
                references,
                shots,
                seed,
            )
            for seed, who in enumerate(people)
        ]
        return [shot for run in runs for shot in run.result(timeout=900)]


def test_threads_racing_on_two_requests_leave_one_transition_per_seq(seeded: Services) -> None:
    references = [w.submit_eg(seeded).reference for _ in range(2)]
    shots = fire_from_threads(seeded, references, clients=8, shots=15)
    counts = check_outcome(seeded, references, shots)
    record("contention-threads", clients=8, requests=2, **counts)
    assert counts["won"] > 0 and counts["conflicts"] > 0, counts  # it did race


def test_processes_racing_on_the_same_requests_leave_one_transition_per_seq(
    seeded: Services, settings: Settings
) -> None:
    references = [w.submit_eg(seeded).reference for _ in range(2)]
    shots = fire_from_processes(settings, references, clients=4, shots=15)
    counts = check_outcome(seeded, references, shots)
    record("contention-processes", clients=4, requests=2, **counts)
    assert counts["won"] > 0, counts


@pytest.mark.soak
def test_soak_many_threads_and_processes_racing_on_many_requests(
    seeded: Services, settings: Settings, tmp_path: Path
) -> None:
    references = [w.submit_eg(seeded).reference for _ in range(6)]
    shots = fire_from_threads(seeded, references, clients=16, shots=scaled(60, 5))
    shots += fire_from_processes(settings, references, clients=6, shots=scaled(60, 5))
    counts = check_outcome(seeded, references, shots)
    record("contention-soak", clients=22, requests=6, **counts)
    assert counts["conflicts"] > 0, counts


def test_the_first_filings_of_a_version_made_at_once_all_succeed(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    """The first filing under an SOP version registers that version: four at once must all
    succeed (on PostgreSQL two of them used to collide on the version's key: a 409)."""
    in_lockstep(4)
    with ThreadPoolExecutor(4) as pool:
        filed = list(pool.map(lambda n: w.submit_eg(seeded, workers_requested=n + 1), range(4)))
    assert sorted(r.reference for r in filed) == [f"EG-2026-{n:06d}" for n in range(1, 5)]
    assert seeded.audit.verify().intact


def test_the_first_filings_of_a_year_made_at_once_all_succeed(
    seeded: Services, in_lockstep: Callable[[int], None], clock: Clock
) -> None:
    """The first filing of a year creates the year's reference counter: four at once must all
    succeed with four distinct references (on PostgreSQL two of them used to collide on the
    counter's key: a 409 'conflict' for a filing)."""
    w.submit_eg(seeded)  # the version is registered; 2026's counter exists
    clock.now = clock.now.replace(year=2027, month=1, day=4)
    in_lockstep(4)
    with ThreadPoolExecutor(4) as pool:
        filed = list(pool.map(lambda n: w.submit_eg(seeded, workers_requested=n + 1), range(4)))
    assert sorted(r.reference for r in filed) == [f"EG-2027-{n:06d}" for n in range(1, 5)]
    assert seeded.audit.verify().intact


def test_one_key_sent_at_once_by_two_tenants_many_times_files_one_request_each(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    """Idempotency keys are each caller's own: an employer and an enterprise of another
    country both retrying, at once, under the same key file exactly one request each; every
    other attempt replays its own caller's first outcome, none is refused."""
    from sopflow.services import Command

    def egypt() -> Command:
        return Command(data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS),
                       idempotency_key="retry-1")  # fmt: skip

    def tunisia() -> Command:
        return Command(data=w.tn_data(), documents=w.docs(*w.TN_SUBMIT_DOCS),
                       idempotency_key="retry-1")  # fmt: skip

    sends = [lambda: seeded.commands.submit(w.EG, w.email("agent"), egypt()),
             lambda: seeded.commands.submit(w.TN, w.email("enterprise"), tunisia())]  # fmt: skip
    sends *= 3
    in_lockstep(len(sends))
    with ThreadPoolExecutor(len(sends)) as pool:
        results = list(pool.map(lambda send: send(), sends))

    by_prefix: dict[str, set[str]] = {}
    for result in results:
        by_prefix.setdefault(result.reference[:2], set()).add(result.reference)
    assert {k: len(v) for k, v in by_prefix.items()} == {"EG": 1, "TN": 1}
    assert sorted(r.replayed for r in results) == [False, False, True, True, True, True]
    with seeded.ctx.store.read() as r:
        keys = r.all("SELECT actor_id FROM idempotency_keys WHERE key = 'retry-1'")
        filed = r.one("SELECT count(*) AS n FROM requests")
    assert sorted(k["actor_id"] for k in keys) == sorted([w.email("agent"), w.email("enterprise")])
    assert filed is not None and filed["n"] == 2
    assert seeded.audit.verify().intact
