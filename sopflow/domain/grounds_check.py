"""Whether what a step relied on from the directory is what the directory log held then.
Pure.

A step whose rule read an agency's licence records it in its payload (``grounds``: the
licence number, status and expiry on record, under the event's hash); the directory log
records every change to that licence (under its own hash). Each chain is checked on its
own; this holds one against the other: the licence a step relied on must be the licence
the directory log says the agency held at the step's moment. A difference means one of
the two logs was rewritten after the fact (a suspension hidden from the directory log,
or a step's grounds re-keyed and its request's chain hashed again), which neither chain
shows alone.

A command reads the directory a moment after it takes its time, and a licence may be
changed by another process in between: a step's grounds hold if they match the licence as
it stood at any moment within ``tolerance`` of the step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sopflow.domain.chain import Break, canonical_time
from sopflow.domain.directory_log import entry_moment

# a ground's key -> the directory log's field it says (states.licence_rules records them)
LICENCE_KEYS = {"licence": "licence_number", "status": "licence_status",
                "expires": "licence_expires"}  # fmt: skip

Timeline = Mapping[str, Sequence[tuple[Any, Mapping[str, Any]]]]


@dataclass(frozen=True, slots=True)
class ReliedOn:
    """One step's ground that names an agency's licence."""

    reference: str
    seq: int
    at: datetime
    ground: Mapping[str, Any]


def licence_grounds(reference: str, seq: int, at: datetime,
                    payload: Mapping[str, Any] | None) -> list[ReliedOn]:  # fmt: skip
    """The grounds of a step's payload that name an agency's licence."""
    grounds = licences_in((payload or {}).get("grounds"))
    return [ReliedOn(reference, seq, at, g) for _, _, g in grounds]


Licence = tuple[str, tuple[str, str, str], Mapping[str, Any]]  # agency, what it said, ground


def licences_in(grounds: Any) -> list[Licence]:
    """The grounds (a step's ``grounds`` list) that name an agency's licence: the agency,
    the licence it said (number, status, expiry) and the ground."""
    if not isinstance(grounds, list):
        return []
    return [(g["agency"], (str(g["licence"] or ""), str(g["status"] or ""),
                           str(g["expires"] or "")), g)
            for g in grounds if isinstance(g, dict) and isinstance(g.get("agency"), str)
            and all(k in g for k in LICENCE_KEYS)]  # fmt: skip


class StoredLicences:
    """The licence grounds (``licences_in``) of stored payloads, read from their JSON text
    as it was hashed: a log's steps repeat a few grounds, so each grounds text is decoded
    once and a step costs a lookup. ``audit verify`` reads a million payloads this way.

    The top-level ``grounds`` of a canonical payload (``chain.canonical_json``: sorted keys,
    no spaces) is read in place when only scalars precede it (``{"comment":"…","grounds":``):
    nothing before it can then hold a nested ``"grounds"`` key, and the array that starts
    after the key ends at the first ``]`` that closes a text already decoded. Any other
    payload (a ``data`` object before the grounds, a ``"grounds"`` word elsewhere, spaces) is
    decoded whole, as the SQL ``payload -> 'grounds'`` would read it.

    It reads the payload's UTF-8 bytes (``audit verify`` hashes them, and a step that
    repeats grounds already read then costs a lookup of their bytes, not a decoding): in
    UTF-8 every ASCII character is a byte of its own and no other character holds such a
    byte, so the bytes show the key, the brackets and the array where the text shows them."""

    KEY = b'"grounds":'

    def __init__(self) -> None:
        self.known: dict[bytes, list[Licence]] = {}  # a grounds array's bytes -> its licences

    def __call__(self, text: str) -> list[Licence]:
        return self.utf8(text.encode(), 0)

    def utf8(self, data: bytes, start: int) -> list[Licence]:
        """The licences of the payload stored as UTF-8 from ``start`` in ``data``."""
        at = data.find(self.KEY, start)
        if at < 0:
            return [] if data.find(b'"grounds"', start) < 0 else self._whole(data, start)
        if not self._in_place(data, start, at):
            return self._whole(data, start)
        begin = at + len(self.KEY)
        close = data.find(b"]", begin)
        if close > 0 and (known := self.known.get(data[begin : close + 1])) is not None:
            return known
        try:  # the rest begins after an ASCII ':', a character's boundary
            rest = data[begin:].decode()
            grounds, end = _DECODER.raw_decode(rest)
        except ValueError:
            return self._whole(data, start)
        found = licences_in(grounds)
        if len(self.known) < _KNOWN_AT_MOST:
            self.known[rest[:end].encode()] = found
        return found

    @staticmethod
    def _in_place(data: bytes, start: int, at: int) -> bool:
        """Whether the key at ``at`` is the payload's own ``grounds`` key, and its only one:
        an unescaped key (after ``{`` or ``,``) with only scalars before it (the opening
        ``{`` its only bracket)."""
        return (data[start : start + 1] == b"{" and data[at - 1 : at] in (b"{", b",")
                and _BRACKET.search(data, start + 1, at) is None
                and data.find(b'"grounds"', at + 1) < 0)  # fmt: skip

    @staticmethod
    def _whole(data: bytes, start: int) -> list[Licence]:
        try:
            payload = json.loads(data[start:])
        except ValueError:  # no JSON: the chain says whether it was altered
            return []
        return licences_in(payload.get("grounds")) if isinstance(payload, dict) else []


_DECODER = json.JSONDecoder()
_BRACKET = re.compile(rb"[\[\]{}]")
_KNOWN_AT_MOST = 10_000  # distinct grounds texts remembered (a log holds a handful)


class GroundsCheck:
    """Steps fed one by one (``step``) against the directory log's ``timeline``
    (``directory_log.organisation_timeline``); ``breaks``: the grounds it does not bear
    out. A step costs a lookup: the spans of each licence are worked out once."""

    def __init__(self, timeline: Timeline, tolerance: timedelta) -> None:
        self.timeline, self.tolerance = timeline, tolerance
        self.windows = _Windows(timeline, tolerance)
        self.breaks: list[Break] = []

    def step(self, reference: str, seq: int, at: datetime, licences: Sequence[Licence]) -> None:
        """``licences``: the step's licence grounds (``licences_in``)."""
        for agency, said, ground in licences:
            if not self.windows.hold(agency, said, at):
                self.breaks.append(self._unsupported(reference, seq, at, ground, said))

    def _unsupported(self, reference: str, seq: int, at: datetime, g: Mapping[str, Any],
                     said: tuple[str, ...]) -> Break:  # fmt: skip
        agency = g["agency"]
        held = _held(self.timeline.get(agency, ()), at - self.tolerance, at + self.tolerance)
        words = dict(zip(LICENCE_KEYS.values(), said, strict=True))
        relied_on = f"{g.get('rule', 'a rule')} relied on {agency}'s {_words(words)}"
        if held:
            found = "; ".join(_words(_as_said(record)) for record in held)
            why = f"the directory log held {found} then"
        else:
            why = f"the directory log held no organisation {agency} then"
        return Break("grounds-unsupported", f"request {reference} seq {seq}: {relied_on}, but "
                     f"{why} ({canonical_time(at)}): the directory log or the step was "
                     "rewritten after the fact", reference, seq)  # fmt: skip


def grounds_breaks(relied: Iterable[ReliedOn], timeline: Timeline,
                   tolerance: timedelta) -> list[Break]:  # fmt: skip
    """Every ground the directory log does not bear out."""
    check = GroundsCheck(timeline, tolerance)
    for r in relied:
        check.step(r.reference, r.seq, r.at, licences_in([r.ground]))
    return check.breaks


class _Windows:
    """When each licence the directory log records was in force, widened by ``tolerance``
    on either side: a step at ``at`` is borne out by a licence in force at some moment of
    [at - tolerance, at + tolerance], that is by one in force from t to t' (the next
    change, or for ever) with t - tolerance <= at < t' + tolerance. Worked out once per
    agency and licence, so that a log of a million steps is checked at a lookup a step."""

    def __init__(self, timeline: Timeline, tolerance: timedelta) -> None:
        self.timeline, self.tolerance = timeline, tolerance
        self.known: dict[tuple[str, tuple[str, ...]], list[tuple[datetime, datetime | None]]] = {}

    def hold(self, agency: str, said: tuple[str, ...], at: datetime) -> bool:
        spans = self.known.get((agency, said))
        if spans is None:
            spans = self.known[(agency, said)] = self._spans(agency, said)
        for start, end in spans:  # noqa: SIM110 - a loop, not any(): a million steps call this
            if start <= at and (end is None or at < end):
                return True
        return False

    def _spans(self, agency: str, said: tuple[str, ...]) -> list[tuple[datetime, datetime | None]]:
        changes = [(moment, record) for at, record in self.timeline.get(agency, ())
                   if (moment := entry_moment(at)) is not None]  # fmt: skip
        spans = []
        for i, (moment, record) in enumerate(changes):
            if tuple(_as_said(record).values()) == said:
                following = changes[i + 1][0] if i + 1 < len(changes) else None
                end = None if following is None else following + self.tolerance
                spans.append((moment - self.tolerance, end))
        return spans


def _held(changes: Sequence[tuple[Any, Mapping[str, Any]]], start: datetime,
          end: datetime) -> list[Mapping[str, Any]]:  # fmt: skip
    """The records in force at some moment between ``start`` and ``end``: the one in force
    at ``start`` and every one set by a change up to ``end``."""
    before: Mapping[str, Any] | None = None
    during: list[Mapping[str, Any]] = []
    for at, record in changes:
        moment = entry_moment(at)
        if moment is None or moment > end:
            continue
        if moment <= start:
            before = record
        else:
            during.append(record)
    return ([before] if before is not None else []) + during


def _as_said(record: Mapping[str, Any]) -> dict[str, str]:
    return {field: str(record.get(field) or "") for field in LICENCE_KEYS.values()}


def _words(licence: Mapping[str, str]) -> str:
    return (f"licence {licence['licence_number'] or '(none)'}, "
            f"{licence['licence_status'] or 'no status'}, "
            f"expires {licence['licence_expires'] or 'never'}")  # fmt: skip
