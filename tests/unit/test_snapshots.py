"""Snapshots decoded once, kept by their exact text (``sopflow.services.snapshots``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from sopflow.services.snapshots import Snapshots
from states.model import DocumentRef, RequestState

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


def a_state(**changes: object) -> RequestState:
    values: dict[str, object] = {
        "state": "intake_review", "data": {"workers": 3, "name": "Nile Builders"}, "seq": 4,
        "documents": (DocumentRef("contract", "ab" * 32, "c.pdf", "application/pdf", 10),),
        "acted": {"submit": ("e@x.example",)}, "documents_at": {"submit": {"contract": "ab"}},
        "entered_at": NOW, "deadline": NOW + timedelta(days=3),
    }  # fmt: skip
    values.update(changes)
    return RequestState(**values)  # type: ignore[arg-type]


def test_the_state_written_is_the_state_read_back_without_decoding() -> None:
    memo, state = Snapshots(), a_state()
    text = memo.text(state)
    assert json.loads(text) == state.to_json()
    assert memo.state(text) is state


def test_a_text_never_written_here_is_decoded_once_then_remembered() -> None:
    state = a_state()
    text = Snapshots().text(state)
    memo = Snapshots()
    first = memo.state(text)
    assert first == state and first is not state
    assert memo.state(text) is first


def test_a_mapping_from_the_driver_is_decoded_as_it_is() -> None:
    state = a_state()
    assert Snapshots().state(state.to_json()) == state


def test_a_state_with_a_time_in_another_zone_is_not_remembered_when_written() -> None:
    # its text decodes to a fixed offset: an equal instant but not the same object
    cairo = timezone(timedelta(hours=2))
    memo, state = Snapshots(), a_state(entered_at=NOW.astimezone(cairo))
    text = memo.text(state)
    read = memo.state(text)
    assert read is not state and read == state


def test_the_oldest_remembered_snapshots_go_first_beyond_the_bound() -> None:
    texts = [Snapshots().text(a_state(seq=n)) for n in (1, 2, 3)]
    memo = Snapshots(max_chars=len(texts[0]) * 2 + 10)  # room for two
    for n, text in enumerate(texts, start=1):
        memo._keep(text, a_state(seq=n))
    assert list(memo._states) == texts[1:]
    assert memo._chars == len(texts[1]) + len(texts[2])
    assert memo.state(texts[0]) == a_state(seq=1)  # decoded again, equal
    assert list(memo._states) == [texts[2], texts[0]]
