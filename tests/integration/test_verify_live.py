"""Verification and export on a live system: officials keep taking steps while an auditor
verifies the log or exports it. What they read must be the log as it stood at one moment:
a step committed half-way through is no tampering, and must not be reported as such (nor
leave an export whose manifest names a head its file does not reach)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sopflow.services import check_export, verification
from sopflow.store.queries import Reader
from tests.integration import world as w
from tests.integration.test_audit import Log, log  # noqa: F401

pytestmark = pytest.mark.postgres


def once_after(monkeypatch: pytest.MonkeyPatch, method: str, step: Callable[[], Any],
               when: Callable[[Any], bool] = lambda found: True) -> None:  # fmt: skip
    """The first time a reader's ``method`` returns what ``when`` accepts, ``step`` is taken
    and committed by another thread (another connection) before the reader goes on."""
    original = getattr(Reader, method)
    done: list[bool] = []

    def then_a_step(self: Reader, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        if not done and when(found):
            done.append(True)
            worker = threading.Thread(target=step)
            worker.start()
            worker.join()
        return found

    monkeypatch.setattr(Reader, method, then_a_step)


@pytest.fixture
def next_step(log: Log) -> Iterator[Callable[[], Any]]:
    taken: list[Any] = []

    def endorse() -> None:
        taken.append(w.run(log.services, log.b, [w.tn_step("endorse_opinion")]))

    yield endorse
    assert taken, "the step meant to run during the reading was not taken"


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("method", ["id_span", "request_heads", "chain_head"])
def test_a_step_taken_while_the_log_is_verified_is_no_break(
    log: Log,
    next_step: Callable[[], Any],
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    processes: int,
) -> None:
    if processes > 1:  # as a large log is verified: worker processes hash its slices
        monkeypatch.setattr(verification, "PARALLEL_FROM", 0)
        monkeypatch.setattr(os, "cpu_count", lambda: processes)
    once_after(monkeypatch, method, next_step)
    report = log.services.audit.verify()
    assert report.intact, report.breaks
    assert log.services.audit.verify().intact  # and the step is there once it is over


def test_a_step_taken_while_one_request_is_verified_is_no_break(
    log: Log, next_step: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    once_after(monkeypatch, "request", next_step)
    assert log.services.audit.verify(log.b).intact


def test_a_step_taken_while_the_log_is_exported_leaves_a_consistent_export(
    log: Log, next_step: Callable[[], Any], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # when the last batch of events has been read, before the heads are
    once_after(monkeypatch, "events_after", next_step, when=lambda batch: not batch)
    target = tmp_path / "events.jsonl"
    manifest = log.services.audit.export(target, "jsonl")
    assert manifest["last_chain_seq"] == manifest["database_chain_head"]["chain_seq"]
    assert check_export(target).intact


def test_a_step_taken_while_a_request_is_replayed_is_no_difference(
    log: Log, next_step: Callable[[], Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    once_after(monkeypatch, "request", next_step)  # its row read, its events not yet
    replayed = log.services.audit.replay(log.b, w.email("tn_auditor"))
    assert replayed["consistent"], replayed["differences"]
