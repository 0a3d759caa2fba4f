"""Semantic checks of a structurally valid SOP: references, graph shape, deadlines, roles.

Pure. The rule names and template ids known to the running system are passed in, so that
the SOP language does not depend on the rule registry or the notification templates.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date

from sopflow.errors import SopIssue
from sopflow.spec import values
from sopflow.spec.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    compile_expression,
)
from sopflow.spec.lint_data import check_data
from sopflow.spec.lint_data import hint as _hint
from sopflow.spec.lint_provenance import check_provenance, closure
from sopflow.spec.lint_steps import check_steps
from sopflow.spec.models import Notice, SopSpec
from sopflow.spec.yamlsource import Path, SourceMap


class _Linter:
    def __init__(
        self,
        spec: SopSpec,
        source: SourceMap,
        rules: frozenset[str] | None,
        templates: frozenset[str] | None,
    ) -> None:
        self.spec = spec
        self.source = source
        self.rules = rules
        self.templates = templates
        self.issues: list[SopIssue] = []
        self.states = {s.id for s in spec.states}
        self.roles = {r.id for r in spec.roles}
        self.fields = {f.id: f for f in spec.fields}
        self.documents = {d.id for d in spec.documents}
        self.triggers = {t.trigger for t in spec.transitions}
        self.clauses = {b.id for b in spec.legal_basis}
        self.reasons = {r.id for r in spec.reason_codes}
        self.samples = values.sample_env(self.fields, date(2026, 1, 1))

    def add(self, path: Path, code: str, message: str, hint: str | None = None,
            severity: str = "error") -> None:  # fmt: skip
        self.issues.append(self.source.issue(path, code, message, hint=hint, severity=severity))

    def ref(self, path: Path, value: str, known: Iterable[str], code: str, what: str) -> None:
        known = set(known)
        if value not in known:
            self.add(path, code, f"unknown {what} '{value}'", _hint(value, known))

    def run(self) -> list[SopIssue]:
        self.unique_ids()
        self.states_shape()
        self.transitions()
        self.submission()
        self.graph()
        self.idle_roles()
        check_data(self.spec, self.add)
        check_steps(self.spec, self.add)
        check_provenance(self.spec, self.add)
        return self.issues

    def unique_ids(self) -> None:
        groups: dict[str, Iterable[str]] = {
            "roles": (r.id for r in self.spec.roles),
            "fields": (f.id for f in self.spec.fields),
            "documents": (d.id for d in self.spec.documents),
            "states": (s.id for s in self.spec.states),
            "legal_basis": (b.id for b in self.spec.legal_basis),
            "reason_codes": (r.id for r in self.spec.reason_codes),
        }
        for group, ids in groups.items():
            seen: set[str] = set()
            for i, ident in enumerate(ids):
                if ident in seen:
                    self.add((group, i, "id"), "duplicate-id", f"{group}: '{ident}' declared twice")
                seen.add(ident)

    def notices(self, path: Path, notices: Iterable[Notice]) -> None:
        for i, notice in enumerate(notices):
            here = (*path, i)
            if self.templates is not None:
                self.ref(
                    (*here, "template"),
                    notice.template,
                    self.templates,
                    "unknown-template",
                    "template",
                )
            if notice.to.role:
                self.ref((*here, "to", "role"), notice.to.role, self.roles, "unknown-role", "role")
            if notice.to.field:
                spec = self.fields.get(notice.to.field)
                if spec is None:
                    self.ref(
                        (*here, "to", "field"),
                        notice.to.field,
                        self.fields,
                        "unknown-field",
                        "field",
                    )
                elif spec.type != "email":
                    self.add(
                        (*here, "to", "field"),
                        "recipient-not-email",
                        f"field '{notice.to.field}' is a {spec.type}, not an email",
                    )

    def states_shape(self) -> None:
        initial = [i for i, s in enumerate(self.spec.states) if s.initial]
        if not initial:
            self.add(("states",), "no-initial-state", "no state is marked 'initial: true'")
        for i in initial[1:]:
            self.add(
                ("states", i, "initial"),
                "several-initial-states",
                f"state '{self.spec.states[i].id}' is a second initial state",
            )
        if not any(s.final for s in self.spec.states):
            self.add(("states",), "no-final-state", "no state is final")
        for i, state in enumerate(self.spec.states):
            here: Path = ("states", i)
            if state.final and state.initial:
                self.add((*here, "final"), "initial-is-final", f"'{state.id}' is initial and final")
            if state.final and state.sla:
                self.add((*here, "sla"), "final-with-sla", f"final state '{state.id}' has an sla")
            if state.sla and not state.on_breach:
                self.add(
                    (*here, "sla"),
                    "sla-without-breach-action",
                    f"state '{state.id}' has a deadline but no on_breach action",
                    "add on_breach with notify and/or trigger",
                )
            if state.on_breach and not (state.on_breach.notify or state.on_breach.trigger):
                self.add(
                    (*here, "on_breach"),
                    "sla-without-breach-action",
                    "on_breach names neither a notice nor a trigger",
                )
            if state.legal_clause:
                self.ref(
                    (*here, "legal_clause"),
                    state.legal_clause,
                    self.clauses,
                    "unknown-legal-basis",
                    "legal basis",
                )
            if state.on_breach:
                self.notices((*here, "on_breach", "notify"), state.on_breach.notify)
                self.breach_trigger(here, state.id, state.on_breach.trigger)

    def breach_trigger(self, here: Path, state: str, trigger: str | None) -> None:
        if trigger is None:
            return
        path = (*here, "on_breach", "trigger")
        matching = [t for t in self.spec.transitions if t.trigger == trigger and state in t.source]
        if not matching:
            self.add(
                path,
                "breach-trigger-not-from-state",
                f"on_breach trigger '{trigger}' is not a transition from '{state}'",
                _hint(trigger, self.triggers - {trigger}),
            )
            return
        system = {r.id for r in self.spec.roles if r.kind == "system"}
        if not system.intersection(matching[0].roles):
            self.add(
                path,
                "breach-trigger-not-system",
                f"on_breach trigger '{trigger}' must allow a role of kind 'system'",
            )

    def transitions(self) -> None:
        finals = {s.id for s in self.spec.states if s.final}
        auditors = {r.id for r in self.spec.roles if r.kind == "auditor"}
        field_ids = frozenset(self.fields)
        pairs: Counter[tuple[str, str]] = Counter()
        for i, tr in enumerate(self.spec.transitions):
            here: Path = ("transitions", i)
            for j, src in enumerate(tr.source):
                self.ref((*here, "from", j), src, self.states, "unknown-state", "state")
                if src in finals:
                    self.add(
                        (*here, "from", j),
                        "final-has-transitions",
                        f"final state '{src}' has an outgoing transition '{tr.trigger}'",
                    )
                pairs[(tr.trigger, src)] += 1
                if pairs[(tr.trigger, src)] == 2:
                    self.add(
                        (*here, "trigger"),
                        "ambiguous-trigger",
                        f"two transitions '{tr.trigger}' leave state '{src}'",
                    )
            self.ref((*here, "to"), tr.to, self.states, "unknown-state", "state")
            for j, role in enumerate(tr.roles):
                self.ref((*here, "roles", j), role, self.roles, "unknown-role", "role")
                if role in auditors:
                    self.add(
                        (*here, "roles", j),
                        "auditor-acts",
                        f"auditor role '{role}' may not change a request",
                    )
            req = tr.requires
            for j, name in enumerate(req.fields):
                self.ref(
                    (*here, "requires", "fields", j), name, self.fields, "unknown-field", "field"
                )
            for j, name in enumerate(tr.sets):
                self.ref((*here, "sets", j), name, self.fields, "unknown-field", "field")
            for key in ("documents", "new_documents"):
                for j, name in enumerate(getattr(req, key)):
                    self.ref((*here, "requires", key, j), name, self.documents,
                             "unknown-document", "document")  # fmt: skip
            if self.rules is not None:
                for j, rule in enumerate(req.rules):
                    self.ref(
                        (*here, "requires", "rules", j),
                        rule.rule,
                        self.rules,
                        "unknown-rule",
                        "rule",
                    )
            for j, cond in enumerate(req.conditions):
                try:
                    expr = compile_expression(cond.expr, field_ids)
                    self.computable(expr, (*here, "requires", "conditions", j, "expr"))
                except ExpressionError as exc:
                    path = (*here, "requires", "conditions", j, "expr")
                    line, column = self.source.locate_in(path, cond.expr, exc.offset)
                    word = exc.message.split("'")[1] if "unknown name" in exc.message else ""
                    self.issues.append(
                        SopIssue(
                            "bad-condition",
                            f"condition '{' '.join(cond.expr.split())}': {exc.message}",
                            self.source.file,
                            line,
                            column,
                            hint=exc.hint or (_hint(word, field_ids) if word else None),
                        )
                    )
            for j, reason in enumerate(tr.reasons):
                self.ref((*here, "reasons", j), reason, self.reasons, "unknown-reason", "reason")
            if req.reason and not tr.reasons:
                self.add(
                    (*here, "requires", "reason"),
                    "reason-list-missing",
                    f"'{tr.trigger}' requires a reason but lists no 'reasons'",
                )
            for j, other in enumerate(tr.distinct_from):
                self.ref(
                    (*here, "distinct_from", j), other, self.triggers, "unknown-trigger", "trigger"
                )
            if tr.legal_clause:
                self.ref(
                    (*here, "legal_clause"),
                    tr.legal_clause,
                    self.clauses,
                    "unknown-legal-basis",
                    "legal basis",
                )
            self.notices((*here, "notify"), tr.notify)

    def submission(self) -> None:
        sub = self.spec.submission
        for j, role in enumerate(sub.roles):
            self.ref(("submission", "roles", j), role, self.roles, "unknown-role", "role")
        initial = next((s.id for s in self.spec.states if s.initial), None)
        if (
            sub.trigger
            and initial
            and not any(
                t.trigger == sub.trigger and initial in t.source for t in self.spec.transitions
            )
        ):
            self.add(
                ("submission", "trigger"),
                "unknown-trigger",
                f"submission trigger '{sub.trigger}' is not a transition from '{initial}'",
                _hint(sub.trigger, self.triggers - {sub.trigger}),
            )

    def graph(self) -> None:
        edges: dict[str, set[str]] = defaultdict(set)
        back: dict[str, set[str]] = defaultdict(set)
        for tr in self.spec.transitions:
            for src in tr.source:
                edges[src].add(tr.to)
                back[tr.to].add(src)
        initial = next((s.id for s in self.spec.states if s.initial), None)
        finals = {s.id for s in self.spec.states if s.final}
        reachable = closure({initial} if initial else set(), edges)
        can_finish = closure(finals, back)
        for i, state in enumerate(self.spec.states):
            if initial and state.id not in reachable:
                self.add(
                    ("states", i, "id"),
                    "unreachable-state",
                    f"state '{state.id}' cannot be reached from '{initial}'",
                )
            if finals and not state.final and state.id not in can_finish:
                self.add(
                    ("states", i, "id"),
                    "no-path-to-final",
                    f"no path leads from state '{state.id}' to a final state",
                )

    def idle_roles(self) -> None:
        used = set(self.spec.submission.roles)
        for tr in self.spec.transitions:
            used.update(tr.roles)
        for i, role in enumerate(self.spec.roles):
            if role.id not in used and role.kind != "auditor":
                self.add(
                    ("roles", i, "id"),
                    "idle-role",
                    f"role '{role.id}' can do nothing: no transition allows it",
                    severity="warning",
                )

    def computable(self, expr: Expression, path: Path) -> None:
        """A condition that fails on values of its fields' own types (a text compared with
        a number, a sum of money with a count) could never be computed for any request."""
        try:
            expr.evaluate(self.samples)
        except EvaluationError as exc:
            # a division by zero, say, is an edge of these sample values; not the types
            if not isinstance(exc.__cause__, ArithmeticError | ValueError):
                why = f"values of kinds that do not go together ({exc.__cause__ or exc})"
                self.add(path, "condition-type", f"condition '{expr.source}' combines {why}",
                         exc.hint)  # fmt: skip


def lint(
    spec: SopSpec,
    source: SourceMap,
    *,
    rules: frozenset[str] | None = None,
    templates: frozenset[str] | None = None,
) -> list[SopIssue]:
    """Every semantic issue of ``spec``; ``None`` for rules/templates skips those checks."""
    return _Linter(spec, source, rules, templates).run()
