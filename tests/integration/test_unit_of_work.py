"""One unit of work per command: the request row (version check), the event and the outbox
rows commit together or not at all; of two conflicting commands, exactly one wins."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import pytest

from sopflow import bootstrap
from sopflow.errors import Conflict, RequirementNotMet
from sopflow.services import Command, CommandResult, Services, facts
from sopflow.store import queries
from tests.integration import world as w
from tests.integration.world import email


class Boom(Exception):
    pass


def test_a_failure_before_commit_leaves_nothing_behind(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = w.submit_eg(seeded).reference
    before = w.footprint(seeded)
    real_insert_many = queries.Writer.insert_many

    def failing_outbox(self: queries.Writer, table: str, rows: Any) -> None:
        if table == "outbox":
            raise Boom("the outbox write failed")
        real_insert_many(self, table, rows)

    monkeypatch.setattr(queries.Writer, "insert_many", failing_outbox)
    with pytest.raises(Boom):
        seeded.commands.act(
            ref, "attest_demand", email("labour_attache"), Command(documents=w.docs("attestation"))
        )
    monkeypatch.undo()

    # the event and the state change were written before the outbox: all rolled back
    assert w.footprint(seeded) == before
    assert seeded.audit.verify().intact
    # and the command can simply be run again
    done = seeded.commands.act(
        ref, "attest_demand", email("labour_attache"), Command(documents=w.docs("attestation"))
    )
    assert (done.state, done.seq, done.version) == ("demand_intake", 3, 2)


def test_a_failing_submit_creates_no_request_and_uses_no_reference(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = w.footprint(seeded)

    def failing_append(*args: Any, **kwargs: Any) -> None:
        raise Boom("disk full")

    monkeypatch.setattr(queries.Writer, "append_event", failing_append)
    with pytest.raises(Boom):
        w.submit_eg(seeded)
    monkeypatch.undo()

    assert w.footprint(seeded) == before
    assert w.submit_eg(seeded).reference == "EG-2026-000001"


def test_a_command_on_a_stale_version_is_a_conflict_naming_the_state(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.act(
        ref, "attest_demand", email("labour_attache"), Command(documents=w.docs("attestation"))
    )
    before = w.footprint(seeded)

    with pytest.raises(Conflict) as caught:
        seeded.commands.act(ref, "withdraw", email("agent"), Command(expected_version=1))
    assert "demand_intake" in str(caught.value)
    assert caught.value.details == {"state": "demand_intake", "version": 2, "expected": 1}
    assert w.footprint(seeded) == before


def _all_at_once(calls: dict[str, Callable[[], CommandResult]]) -> dict[str, Any]:
    """Run each call in its own thread; what each returned or raised."""
    outcome: dict[str, Any] = {}

    def run(name: str, call: Callable[[], CommandResult]) -> None:
        try:
            outcome[name] = call()
        except Exception as exc:
            outcome[name] = exc

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcome


@pytest.fixture
def submitted(seeded: Services) -> str:
    return w.submit_eg(seeded).reference


def test_of_conflicting_commands_exactly_one_wins_and_the_others_get_a_conflict(
    seeded: Services, submitted: str, in_lockstep: Callable[[int], None]
) -> None:
    ref = submitted
    in_lockstep(3)
    outcome = _all_at_once(
        {
            "attest_demand": lambda: seeded.commands.act(
                ref,
                "attest_demand",
                email("labour_attache"),
                Command(documents=w.docs("attestation")),
            ),
            "withdraw": lambda: seeded.commands.act(ref, "withdraw", email("agent"), Command()),
            "return_for_correction": lambda: seeded.commands.act(
                ref,
                "return_for_correction",
                email("registry_clerk"),
                Command(comment="Power of attorney unsigned", reason="incomplete_documents"),
            ),
        }
    )

    winners = {name: r for name, r in outcome.items() if isinstance(r, CommandResult)}
    assert len(winners) == 1, outcome
    ((winner, result),) = winners.items()
    stored = seeded.queries.show(ref, email("director"))
    assert (stored["state"], stored["version"], stored["seq"]) == (result.state, 2, 3)

    losers = {name: e for name, e in outcome.items() if name != winner}
    for name, error in losers.items():
        assert isinstance(error, Conflict), f"{name}: {error!r}"
        assert error.details["state"] == result.state
        assert result.state in str(error)
    history = seeded.audit.history(ref, email("director"))["events"]
    assert [e["trigger"] for e in history] == ["create", "submit", winner]
    assert seeded.audit.verify().intact


def test_concurrent_commands_on_different_requests_all_commit(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    refs = [w.submit_eg(seeded).reference for _ in range(3)]
    in_lockstep(3)
    outcome = _all_at_once(
        {
            ref: (
                lambda ref=ref: seeded.commands.act(  # type: ignore[misc]
                    ref,
                    "attest_demand",
                    email("labour_attache"),
                    Command(documents=w.docs("attestation")),
                )
            )
            for ref in refs
        }
    )

    assert {ref: r.state for ref, r in outcome.items()} == dict.fromkeys(refs, "demand_intake")
    report = seeded.audit.verify()
    assert report.intact, report.breaks
    assert report.events == 3 * 3


def test_two_steps_racing_for_one_register_number_record_it_once(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    """Both steps read "nobody holds DR-2026-0777" before either writes: the second to
    write finds it taken when it checks again under the lock, is decided again and refused
    with the rule's own reason, naming the request that holds the number."""
    refs = [w.submit_eg(seeded).reference for _ in range(2)]
    for ref in refs:
        w.run(seeded, ref, w.eg_path_to("register_demand"))
    waiting = seeded.queries.show(refs[0], email("director"))["state"]
    number = Command(data={"demand_register_number": "DR-2026-0777"})
    in_lockstep(2)
    outcome = _all_at_once({
        ref: lambda ref=ref: seeded.commands.act(  # type: ignore[misc]
            ref, "register_demand", email("registry_clerk"), number)
        for ref in refs
    })  # fmt: skip

    winners = [ref for ref, r in outcome.items() if isinstance(r, CommandResult)]
    assert len(winners) == 1, outcome
    ((loser, error),) = [(ref, e) for ref, e in outcome.items() if ref not in winners]
    assert isinstance(error, RequirementNotMet), repr(error)
    assert [u["subject"] for u in error.details["unmet"]] == ["unique_value"]
    assert winners[0] in str(error)
    holders = [ref for ref in refs
               if seeded.queries.show(ref, email("director"))["data"].get(
                   "demand_register_number") == "DR-2026-0777"]  # fmt: skip
    assert holders == winners
    assert seeded.queries.show(loser, email("director"))["state"] == waiting


def test_a_step_whose_checked_facts_keep_changing_is_refused_as_a_conflict(
    seeded: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = w.submit_eg(seeded).reference
    w.run(seeded, ref, w.eg_path_to("register_demand"))
    before = w.footprint(seeded)
    decided = []

    def always_changed(self: facts.FactQuery, used: Any) -> Callable[[Any], None]:
        decided.append(used)

        def run(_w: Any) -> None:
            raise facts.FactsChanged(self.sop.spec.id)

        return run

    monkeypatch.setattr(facts.FactQuery, "recheck", always_changed)
    number = Command(data={"demand_register_number": "DR-2026-0778"})
    with pytest.raises(Conflict) as caught:
        seeded.commands.act(ref, "register_demand", email("registry_clerk"), number)

    assert len(decided) == 3  # decided three times, then given up
    assert "try again" in str(caught.value)
    assert w.footprint(seeded) == before


def test_two_processes_writing_in_turn_keep_one_global_chain(
    seeded: Services, settings: Any, clock: Any
) -> None:
    """Each store remembers the chain's head as it last committed it, to move it without
    reading it first; once the other process has moved it, that memory is stale and the
    head is read instead: no link is lost or forked (docs/audit.md)."""
    other = bootstrap.build(settings)
    other.ctx.clock = clock
    try:
        for _turn in range(3):  # each files after the other moved the head
            w.submit_eg(seeded)
            w.submit_eg(other)
        for svc in (seeded, other):
            assert svc.audit.verify().intact
        with seeded.ctx.store.read() as r:
            links = r.all("SELECT chain_seq, chain_prev, chain_hash FROM events ORDER BY id")
            head = r.chain_head()
        assert [e["chain_seq"] for e in links] == list(range(1, len(links) + 1))
        assert all(a["chain_hash"] == b["chain_prev"] for a, b in itertools.pairwise(links))
        assert (head["chain_seq"], head["chain_hash"]) == (
            links[-1]["chain_seq"], links[-1]["chain_hash"])  # fmt: skip
    finally:
        other.ctx.store.engine.dispose()
