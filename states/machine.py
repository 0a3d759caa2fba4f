"""Compile an SOP version into one shared ``transitions`` machine, with indexes and guards.

One ``Machine`` per SOP version (cached by content hash), built with
``auto_transitions=False`` and no model attached: each call fires the named event on a
small carrier object that holds only the request's current state, so no request is ever
attached to the machine (attaching is O(attached models) and ~25 KB each). Transition
guards are our own callables, never dotted paths resolved by ``transitions``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Any

from transitions import Machine

from sopflow.errors import SopDefinitionError, SopIssue
from sopflow.spec.expressions import Expression, compile_expression
from sopflow.spec.linter import lint
from sopflow.spec.loader import ParsedSop, content_hash, parse_sop
from sopflow.spec.models import FieldSpec, Role, SopSpec, State, Transition
from sopflow.spec.yamlsource import SourceMap
from states.deadlines import MAX_SCAN_DAYS, WorkingCalendar
from states.model import RESERVED_TRIGGERS
from states.rules import RULE_NAMES, RULES, Rule
from states.scopes import scope_issue


class Carrier:
    """The stand-in model a shared machine moves: the current state and the step's checks."""

    __slots__ = ("check", "state")

    def __init__(self, state: str, check: Callable[[Transition], bool]) -> None:
        self.state = state
        self.check = check


@dataclass(frozen=True)
class CompiledSop:
    spec: SopSpec
    content_hash: str
    file: str
    text: str = field(repr=False, default="")
    warnings: tuple[SopIssue, ...] = ()
    conditions: Mapping[int, tuple[Expression, ...]] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, int]:
        return (self.spec.id, self.spec.version)

    @cached_property
    def states(self) -> dict[str, State]:
        return {s.id: s for s in self.spec.states}

    @cached_property
    def roles(self) -> dict[str, Role]:
        return {r.id: r for r in self.spec.roles}

    @cached_property
    def fields(self) -> dict[str, FieldSpec]:
        return {f.id: f for f in self.spec.fields}

    @cached_property
    def initial(self) -> str:
        return next(s.id for s in self.spec.states if s.initial)

    @cached_property
    def triggers(self) -> frozenset[str]:
        return frozenset(t.trigger for t in self.spec.transitions)

    @cached_property
    def by_state(self) -> dict[str, dict[str, Transition]]:
        """state -> trigger -> transition (the linter guarantees one per pair)."""
        table: dict[str, dict[str, Transition]] = {s.id: {} for s in self.spec.states}
        for tr in self.spec.transitions:
            for src in tr.source:
                table[src].setdefault(tr.trigger, tr)
        return table

    @cached_property
    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.spec.calendar)

    @cached_property
    def requester_roles(self) -> frozenset[str]:
        return frozenset(r.id for r in self.spec.roles if r.kind == "requester")

    @cached_property
    def requester_fields(self) -> frozenset[str]:
        """The fields a requester may write when filing or correcting: all but the
        officials' own (``SopSpec.officials_fields``)."""
        return frozenset(self.fields) - self.spec.officials_fields()

    @cached_property
    def positions(self) -> dict[int, int]:
        """id(transition) -> its index in the spec, to find its compiled conditions."""
        return {id(tr): i for i, tr in enumerate(self.spec.transitions)}

    def conditions_of(self, transition: Transition) -> tuple[Expression, ...]:
        return self.conditions.get(self.positions[id(transition)], ())

    def is_final(self, state: str) -> bool:
        return self.states[state].final is not None

    @cached_property
    def machine(self) -> Machine:
        def guard(event: Any) -> bool:
            carrier: Carrier = event.model
            transition = self.by_state[event.transition.source][event.event.name]
            return carrier.check(transition)

        return Machine(
            model=None,
            states=[s.id for s in self.spec.states],
            initial=self.initial,
            transitions=[
                {"trigger": tr.trigger, "source": src, "dest": tr.to, "conditions": [guard]}
                for tr in self.spec.transitions
                for src in tr.source
            ],
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )


def _rule_param_issues(spec: SopSpec, source: SourceMap) -> list[SopIssue]:
    issues = []
    for i, tr in enumerate(spec.transitions):
        for j, ref in enumerate(tr.requires.rules):
            rule = RULES.get(ref.rule)
            if rule is None:
                continue
            path = ("transitions", i, "requires", "rules", j)
            missing = sorted(rule.required - set(ref.params))
            unknown = sorted(set(ref.params) - rule.required - rule.optional)
            if missing:
                issues.append(
                    source.issue(
                        path,
                        "bad-rule-params",
                        f"rule '{ref.rule}' needs params: {', '.join(missing)}",
                    )
                )
            issues += _param_reference_issues(spec, source, path, ref.params)
            issues += _whole_param_issues(source, path, rule, ref.params)
            issues += _states_param_issues(spec, source, path, rule, ref.params)
            if unknown:
                issues.append(
                    source.issue(
                        path,
                        "bad-rule-params",
                        f"rule '{ref.rule}' has no params {', '.join(unknown)}",
                        hint="known: " + ", ".join(sorted(rule.required | rule.optional)),
                    )
                )
    for i, tr in enumerate(spec.transitions):
        if tr.trigger in RESERVED_TRIGGERS:
            issues.append(
                source.issue(
                    ("transitions", i, "trigger"),
                    "reserved-trigger",
                    f"'{tr.trigger}' is reserved by sopflow",
                )
            )
    return issues


def _whole_param_issues(source: SourceMap, path: tuple[str | int, ...], rule: Rule,
                        params: Mapping[str, Any]) -> list[SopIssue]:  # fmt: skip
    """A rule parameter that counts something (``Rule.whole``) must be a whole number within
    its bounds: a text there would fail every step at run time, not here."""
    issues = []
    for name, (low, high, unit) in rule.whole.items():
        value = params.get(name)
        if name in params and not isinstance(value, list) and (  # a list: wrong-type
                isinstance(value, bool) or not isinstance(value, int)
                or not low <= value <= high):  # fmt: skip
            issues.append(source.issue((*path, "params", name), "bad-rule-params",
                                       f"rule parameter {name}: {value!r} is not a whole "
                                       f"number of {unit} from {low} to {high}"))  # fmt: skip
    return issues


def _states_param_issues(spec: SopSpec, source: SourceMap, path: tuple[str | int, ...],
                         rule: Rule, params: Mapping[str, Any]) -> list[SopIssue]:  # fmt: skip
    """A parameter choosing other requests by state (``Rule.states``) must be ``all``,
    ``open`` or a list of the SOP's states (``states.scopes``); a list anywhere else would
    reach a rule that expects one value."""
    issues = []
    for name, value in params.items():
        at = (*path, "params", name)
        if name not in rule.states:
            if isinstance(value, list) and name in rule.required | rule.optional:
                issues.append(source.issue(at, "wrong-type", f"rule parameter {name}: a list, "
                                           "where the rule takes one value"))  # fmt: skip
            continue
        found = scope_issue(name, value, spec.states)
        if found is not None:
            place = at if found.member is None else (*at, found.member)
            issues.append(source.issue(place, found.code, found.message, hint=found.hint))
    return issues


def _param_reference_issues(spec: SopSpec, source: SourceMap, path: tuple[str | int, ...],
                            params: Mapping[str, Any]) -> list[SopIssue]:  # fmt: skip
    """Rule parameters that name something of the SOP must name something that exists: a
    typo in ``fee_field`` would otherwise make a fee rule pass silently."""
    known = {
        "field": {f.id for f in spec.fields},
        "trigger": {t.trigger for t in spec.transitions},
        "document": {d.id for d in spec.documents},
    }
    issues = []
    for name, value in params.items():
        kind = "field" if name.endswith("_field") else name if name in known else None
        if kind is not None and not isinstance(value, list) and value not in known[kind]:
            close = difflib.get_close_matches(str(value), sorted(known[kind]), n=1)
            issues.append(
                source.issue(
                    (*path, "params", name),
                    f"unknown-{kind}",
                    f"rule parameter {name}: no {kind} '{value}'",
                    hint=f"did you mean '{close[0]}'?" if close else None,
                )
            )
    return issues


def _deadline_issues(spec: SopSpec, source: SourceMap) -> list[SopIssue]:
    """Every working-day deadline must be computable on the SOP's own calendar, with the
    engine's own arithmetic: a calendar of six weekend days cannot count 365 working days,
    and every request entering that state would fail. Tried from the first day the version
    is in effect and from a year later (the public holidays change with the year)."""
    try:
        calendar = WorkingCalendar(spec.calendar)
    except (LookupError, ValueError):  # an unknown time zone: reported by the linter
        return []
    first = spec.effective_from
    starts = [first, first.replace(year=first.year + 1, day=min(first.day, 28))]
    issues = []
    for i, state in enumerate(spec.states):
        days = state.sla.working_days if state.sla else None
        if days is None:
            continue
        for start in starts:
            entered = datetime.combine(start, time(12), tzinfo=calendar.zone)
            try:
                calendar.add_working_days(entered, days)
            except (ValueError, NotImplementedError, KeyError):
                working = calendar.working_days_between(
                    entered, entered + timedelta(days=MAX_SCAN_DAYS)
                )
                issues.append(
                    source.issue(
                        ("states", i, "sla", "working_days"),
                        "sla-not-computable",
                        f"state '{state.id}': a deadline of {days} working days cannot be "
                        f"counted on this SOP's calendar: from {start} it has only {working} "
                        f"working days in the next {MAX_SCAN_DAYS} days",
                        hint="shorten the deadline, give it in 'hours', or give the calendar "
                        "fewer weekend days and days off",
                    )
                )
                break
    return issues


def check_sop(
    text: str, file: str, *, templates: frozenset[str] | None = None
) -> tuple[ParsedSop, list[SopIssue]]:
    """Parse and lint; return every issue (errors and warnings) without raising."""
    parsed = parse_sop(text, file)
    issues = list(parsed.issues)
    if parsed.spec is not None:
        issues += lint(parsed.spec, parsed.source, rules=RULE_NAMES, templates=templates)
        issues += _rule_param_issues(parsed.spec, parsed.source)
        issues += _deadline_issues(parsed.spec, parsed.source)
    return parsed, sorted(issues, key=lambda i: (i.line, i.column, i.code))


_CACHE: dict[tuple[str, str, frozenset[str] | None], CompiledSop] = {}


def compile_sop(text: str, file: str, *, templates: frozenset[str] | None = None) -> CompiledSop:
    """The compiled SOP for ``text`` (cached by content hash); raise on any error."""
    key = (content_hash(text), file, templates)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    parsed, issues = check_sop(text, file, templates=templates)
    errors = [i for i in issues if i.severity == "error"]
    if errors or parsed.spec is None:
        raise SopDefinitionError(issues)
    spec = parsed.spec
    field_ids = frozenset(f.id for f in spec.fields)
    conditions = {
        i: tuple(compile_expression(c.expr, field_ids) for c in tr.requires.conditions)
        for i, tr in enumerate(spec.transitions)
    }
    compiled = CompiledSop(
        spec=spec,
        content_hash=parsed.content_hash,
        file=file,
        text=text,
        warnings=tuple(i for i in issues if i.severity == "warning"),
        conditions=conditions,
    )
    _ = compiled.machine  # build it once, now, rather than on the first request
    _CACHE[key] = compiled
    return compiled
