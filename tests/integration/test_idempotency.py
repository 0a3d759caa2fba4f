"""A command given with an idempotency key applies once: the same key again returns the
first outcome and changes nothing; the key cannot be spent on another command. Keys are
each caller's own: another user's key of the same name is neither spent nor revealed."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from sopflow.errors import CommandRejected
from sopflow.services import Command, CommandResult, Services
from tests.integration import world as w
from tests.integration.world import email


def _attest(key: str, **extra: Any) -> Command:
    return Command(documents=w.docs("attestation"), idempotency_key=key, **extra)


def test_a_repeated_submit_returns_the_first_outcome_and_files_nothing_new(
    seeded: Services,
) -> None:
    command = Command(
        data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS), idempotency_key="submit-1"
    )
    first = seeded.commands.submit(w.EG, email("agent"), command)
    after_first = w.footprint(seeded)

    again = seeded.commands.submit(w.EG, email("agent"), command)

    assert again.replayed and not first.replayed
    assert {**again.to_dict(), "replayed": False} == first.to_dict()
    assert w.footprint(seeded) == after_first


def test_a_repeated_step_returns_the_first_outcome_and_changes_nothing(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    first = seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1"))
    after_first = w.footprint(seeded)

    # a retry after, say, a lost HTTP response: same key, same command
    again = seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1"))

    assert again == CommandResult(**{**first.to_dict(), "flags": first.flags, "replayed": True})
    assert w.footprint(seeded) == after_first
    # even though the request has moved on, the retry is not refused as 'not allowed'
    seeded.commands.act(
        ref,
        "register_demand",
        email("registry_clerk"),
        Command(data={"demand_register_number": "DR-1"}),
    )
    assert (
        seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1")).state
        == "demand_intake"
    )


def test_a_repeated_attach_adds_the_documents_once(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    command = Command(documents=w.docs("demand_letter"), idempotency_key="attach-1")
    seeded.commands.attach(ref, email("agent"), command)
    after_first = w.footprint(seeded)

    assert seeded.commands.attach(ref, email("agent"), command).replayed
    assert w.footprint(seeded) == after_first
    assert len(seeded.queries.show(ref, email("agent"))["documents"]) == 3


@pytest.mark.parametrize(
    "reuse",
    ["another trigger", "another request", "a submit"],
)
def test_a_key_reused_for_another_command_is_refused(seeded: Services, reuse: str) -> None:
    ref = w.submit_eg(seeded).reference
    other_ref = w.submit_eg(seeded).reference
    seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1"))
    before = w.footprint(seeded)

    attempts = {
        "another trigger": lambda: seeded.commands.act(
            ref,
            "register_demand",
            email("labour_attache"),
            Command(data={"demand_register_number": "DR-1"}, idempotency_key="k-1"),
        ),
        "another request": lambda: seeded.commands.act(
            other_ref, "attest_demand", email("labour_attache"), _attest("k-1")
        ),
        "a submit": lambda: seeded.commands.submit(
            w.EG,
            email("labour_attache"),
            Command(data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS), idempotency_key="k-1"),
        ),
    }
    with pytest.raises(CommandRejected) as caught:
        attempts[reuse]()

    assert caught.value.code == "idempotency-key-reused"
    assert "k-1" in str(caught.value)
    assert w.footprint(seeded) == before


def test_a_refused_command_does_not_spend_its_key(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    with pytest.raises(CommandRejected):  # the attestation is missing
        seeded.commands.act(
            ref, "attest_demand", email("labour_attache"), Command(idempotency_key="k-1")
        )

    done = seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1"))
    assert not done.replayed and done.state == "demand_intake"


def test_twins_sent_at_the_same_moment_apply_once(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    ref = w.submit_eg(seeded).reference
    twin = _attest("twin")  # the same request sent twice (a client retrying too early)
    in_lockstep(2)
    results: list[Any] = []

    def send() -> None:
        try:
            results.append(seeded.commands.act(ref, "attest_demand", email("labour_attache"), twin))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(isinstance(r, CommandResult) for r in results), results
    assert sorted(r.replayed for r in results) == [False, True]
    assert {(r.state, r.seq, r.event_hash) for r in results} == {
        (results[0].state, 3, results[0].event_hash)
    }
    assert w.event_count(seeded) == 3


def test_another_tenants_key_of_the_same_name_is_their_own(seeded: Services) -> None:
    """An employer of one country cannot burn, nor learn of, the key of an enterprise of
    another: the same key names two commands, one of each, and each retry gets its own."""
    egypt = seeded.commands.submit(w.EG, email("agent"), Command(
        data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS), idempotency_key="k-1"))  # fmt: skip
    tunisia_command = Command(data=w.tn_data(), documents=w.docs(*w.TN_SUBMIT_DOCS),
                              idempotency_key="k-1")  # fmt: skip

    tunisia = seeded.commands.submit(w.TN, email("enterprise"), tunisia_command)

    assert not tunisia.replayed and tunisia.reference != egypt.reference
    assert tunisia.reference.startswith("TN-")
    after = w.footprint(seeded)
    again = seeded.commands.submit(w.TN, email("enterprise"), tunisia_command)
    assert again.replayed and again.reference == tunisia.reference
    mine = seeded.commands.submit(w.EG, email("agent"), Command(
        data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS), idempotency_key="k-1"))  # fmt: skip
    assert mine.replayed and mine.reference == egypt.reference
    assert w.footprint(seeded) == after


def test_another_users_key_of_the_same_name_does_not_refuse_a_step(seeded: Services) -> None:
    ref = w.submit_eg(seeded).reference
    seeded.commands.submit(w.TN, email("enterprise"), Command(
        data=w.tn_data(), documents=w.docs(*w.TN_SUBMIT_DOCS), idempotency_key="k-1"))  # fmt: skip

    done = seeded.commands.act(ref, "attest_demand", email("labour_attache"), _attest("k-1"))

    assert not done.replayed and done.state == "demand_intake"


def test_twins_of_two_users_with_one_key_at_the_same_moment_both_apply(
    seeded: Services, in_lockstep: Callable[[int], None]
) -> None:
    """The same key sent at the same moment by two callers: two commands, both applied
    (neither waits for, replays or is refused for the other's)."""
    sends = [
        lambda: seeded.commands.submit(w.EG, email("agent"), Command(
            data=w.eg_data(), documents=w.docs(*w.EG_SUBMIT_DOCS), idempotency_key="twin")),
        lambda: seeded.commands.submit(w.TN, email("enterprise"), Command(
            data=w.tn_data(), documents=w.docs(*w.TN_SUBMIT_DOCS), idempotency_key="twin")),
    ]  # fmt: skip
    in_lockstep(2)
    results: list[Any] = []

    def send(run: Callable[[], CommandResult]) -> None:
        try:
            results.append(run())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=send, args=(run,)) for run in sends]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert all(isinstance(r, CommandResult) for r in results), results
    assert [r.replayed for r in results] == [False, False]
    assert sorted(r.reference[:2] for r in results) == ["EG", "TN"]
    with seeded.ctx.store.read() as r:
        keys = r.all("SELECT actor_id FROM idempotency_keys WHERE key = 'twin'")
    assert sorted(k["actor_id"] for k in keys) == sorted([email("agent"), email("enterprise")])
