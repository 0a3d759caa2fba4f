"""Request snapshots decoded once: kept by their exact text.

Each step reads back the snapshot its request's previous step wrote, and decoding it again
(the JSON, then the core's state) was a tenth of a command's Python (docs/performance.md).
The snapshot a command writes is remembered with the state it encodes, and one read is
remembered once decoded. A hit is keyed by the very text stored, so it is that state by
construction; states are frozen and never changed in place. Only states whose encoding
decodes to an identical state are remembered at write time (times in UTC: the text of a
time in another zone decodes to a fixed offset, an equal instant but another object).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from sopflow.domain.chain import canonical_json
from sopflow.store.sql import JsonText
from states.model import RequestState


class Snapshots:
    """Decoded snapshots up to ``max_chars`` characters of their texts in all, the oldest
    remembered dropped first. A decoded state takes about three times its text in memory:
    the default bound (8 million characters: some 4,000 Egyptian or 1,700 Tunisian files)
    keeps it to a few tens of MiB."""

    def __init__(self, max_chars: int = 8_000_000) -> None:
        self._states: dict[str, RequestState] = {}
        self._chars = 0
        self._max_chars = max_chars
        self._lock = threading.Lock()

    def state(self, snapshot: str | Mapping[str, Any]) -> RequestState:
        """The state a stored snapshot holds (its text, or a mapping a driver decoded)."""
        if not isinstance(snapshot, str):
            return RequestState.from_json(snapshot)
        state = self._states.get(snapshot)
        if state is None:
            state = RequestState.from_json(json.loads(snapshot))
            self._keep(snapshot, state)
        return state

    def text(self, state: RequestState) -> JsonText:
        """The snapshot to store for ``state`` (canonical JSON), remembered with it."""
        text = JsonText(canonical_json(state.to_json()))
        if all(t is None or t.tzinfo is UTC for t in (state.entered_at, state.deadline)):
            self._keep(text, state)
        return text

    def _keep(self, text: str, state: RequestState) -> None:
        with self._lock:
            if text not in self._states:
                self._chars += len(text)
            self._states[text] = state
            while self._chars > self._max_chars and self._states:
                oldest = next(iter(self._states))
                self._chars -= len(oldest)
                del self._states[oldest]
