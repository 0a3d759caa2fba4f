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
    grounds = (payload or {}).get("grounds") or []
    return [ReliedOn(reference, seq, at, g) for g in grounds if isinstance(g, dict)
            and isinstance(g.get("agency"), str) and all(k in g for k in LICENCE_KEYS)]  # fmt: skip


def grounds_breaks(relied: Iterable[ReliedOn], timeline: Timeline,
                   tolerance: timedelta) -> list[Break]:  # fmt: skip
    """Every ground the directory log does not bear out (``timeline``:
    ``directory_log.organisation_timeline``)."""
    breaks = []
    for r in relied:
        agency = str(r.ground["agency"])
        said = {field: str(r.ground[key] or "") for key, field in LICENCE_KEYS.items()}
        held = _held(timeline.get(agency, ()), r.at - tolerance, r.at + tolerance)
        if any(_as_said(record) == said for record in held):
            continue
        where = f"request {r.reference} seq {r.seq}"
        relied_on = f"{r.ground.get('rule', 'a rule')} relied on {agency}'s {_words(said)}"
        if held:
            found = "; ".join(_words(_as_said(record)) for record in held)
            why = f"the directory log held {found} then"
        else:
            why = f"the directory log held no organisation {agency} then"
        breaks.append(Break("grounds-unsupported", f"{where}: {relied_on}, but {why} "
                            f"({canonical_time(r.at)}): the directory log or the step was "
                            "rewritten after the fact", r.reference, r.seq))  # fmt: skip
    return breaks


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
