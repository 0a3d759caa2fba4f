"""What a rule is given and what it answers (``states.rules`` holds the registry)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from states.model import DocumentRef, OrganisationFacts, RequestState


@dataclass(frozen=True, slots=True)
class RuleContext:
    state: RequestState  # as it will be if the step is applied
    documents: Mapping[str, DocumentRef]
    organisation: OrganisationFacts | None
    facts: Mapping[str, Any]
    today: date
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RuleResult:
    ok: bool
    message: str = ""  # why not, in English (the API, the CLI, the record)
    flags: tuple[str, ...] = ()
    # why not as a code and values, for a page in its reader's language
    # (sopflow/web/refusals.yaml has a sentence for each code)
    why: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    # what the rule relied on from outside the request when it passed (the directory's
    # record of a licence, counts of other requests): recorded with the event under its
    # hash, so the decision reads against the record of its day after the directory changes
    grounds: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rule:
    check: Callable[[RuleContext], RuleResult]
    summary: str
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = field(default_factory=frozenset)
    # parameters that count something: name -> (lowest, highest, unit), checked by the linter
    whole: Mapping[str, tuple[int, int, str]] = field(default_factory=dict)
    # parameters that choose other requests by state (states/scopes.py), checked by the linter
    states: frozenset[str] = frozenset()
