"""Which other requests of its SOP a rule counts, chosen by their state. Pure.

A rule that reads other requests may take a parameter saying which of them count (declared
in ``Rule.states``: ``among`` of ``unique_value``):

- ``all``: every request of the SOP, whatever its state (the default, also when absent);
- ``open``: the requests still under way, in no final state (closed ones no longer count);
- a list of the SOP's states, e.g. ``[under_review, approved]``: the requests in one of them.

The linter checks the value against the SOP (``scope_issue``); the services ask the store
for the other request in that scope (``scope``); the rule decides on what the store found,
handed over under ``holder_fact``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sopflow.spec.models import State

ALL, OPEN = "all", "open"
WORDS = (ALL, OPEN)


@dataclass(frozen=True, slots=True)
class ScopeIssue:
    code: str
    message: str
    hint: str | None = None
    member: int | None = None  # the list member it is about, for its line and column


def scope(value: Any) -> str | frozenset[str]:
    """``ALL``, ``OPEN`` or the states listed, of a value the linter accepted (absent: all)."""
    if isinstance(value, list):
        return frozenset(str(v) for v in value)
    return OPEN if value == OPEN else ALL


def holder_fact(params: Mapping[str, Any]) -> str:
    """The name of the fact telling which other request holds the value of ``field`` in the
    scope ``among``: one per field and scope, so two such rules on a step never mix."""
    chosen = scope(params.get("among", ALL))
    words = chosen if isinstance(chosen, str) else "|".join(sorted(chosen))
    return f"holder:{params['field']}:{words}"


def scope_issue(name: str, value: Any, states: Sequence[State]) -> ScopeIssue | None:
    """Why ``value`` (the parameter ``name``) does not choose requests by state, or None."""
    ids = [s.id for s in states]
    expected = f"rule parameter {name}: {value!r} is not 'all', 'open' or a list of states"
    if isinstance(value, str):
        if value in WORDS:
            return None
        close = difflib.get_close_matches(value, WORDS, n=1)
        hint = (f"a single state is written as a list: [{value}]" if value in ids
                else f"did you mean '{close[0]}'?" if close else None)  # fmt: skip
        return ScopeIssue("bad-rule-params", expected, hint)
    if not isinstance(value, list):
        return ScopeIssue("bad-rule-params", expected)
    if not value:
        return ScopeIssue("bad-rule-params", f"rule parameter {name}: an empty list counts "
                          "no request, so the rule would never refuse",
                          "write 'all', 'open' or the states whose requests count")  # fmt: skip
    unknown = [v for v in value if v not in ids]
    if unknown:
        guesses = [difflib.get_close_matches(v, ids, n=1) for v in unknown]
        hint = ("did you mean " + ", ".join(f"'{g[0]}'" for g in guesses) + "?"
                if all(guesses) else "the states: " + ", ".join(ids))  # fmt: skip
        return ScopeIssue("unknown-state", f"rule parameter {name}: no state "
                          + ", ".join(f"'{v}'" for v in unknown), hint,
                          member=value.index(unknown[0]))  # fmt: skip
    for i, v in enumerate(value):
        if v in value[:i]:
            return ScopeIssue("bad-rule-params", f"rule parameter {name}: state '{v}' is "
                              "listed twice", member=i)  # fmt: skip
    return None
