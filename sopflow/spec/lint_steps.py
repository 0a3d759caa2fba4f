"""The linter's checks of who does what and of what a condition can compute: the roles that
file, the steps only the system fires, who notices go to, enum values, deadline warnings,
and conditions that can never be true (a number compared with a text, a division by zero).

Pure. Each check reports through ``add``, the linter's own locating reporter.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from sopflow.spec.lint_data import Report
from sopflow.spec.models import FieldSpec, Notice, Sla, SopSpec
from sopflow.spec.yamlsource import Path


def check_steps(spec: SopSpec, add: Report) -> None:
    filers(spec, add)
    system_steps(spec, add)
    notices(spec, add)
    enum_values(spec, add)
    deadline_warnings(spec, add)
    conditions(spec, add)


def filers(spec: SopSpec, add: Report) -> None:
    """Requests are filed by users: a system role is held by no user, an auditor only reads."""
    kinds = {r.id: r.kind for r in spec.roles}
    for j, role in enumerate(spec.submission.roles):
        here: Path = ("submission", "roles", j)
        if kinds.get(role) == "system":
            add(here, "system-role-files",
                f"role '{role}' is of kind 'system', which no user holds: nobody could file "
                "a request with it", "name the requester roles that file requests")  # fmt: skip
        elif kinds.get(role) == "auditor":
            add(here, "auditor-acts", f"auditor role '{role}' may not file a request",
                "auditors only read; name the requester roles that file requests")  # fmt: skip


def system_steps(spec: SopSpec, add: Report) -> None:
    """A step only roles of kind 'system' may fire is fired by the SLA sweep alone, as the
    ``on_breach.trigger`` of the state it leaves: elsewhere, nothing ever fires it."""
    system = {r.id for r in spec.roles if r.kind == "system"}
    fired = {(s.id, s.on_breach.trigger) for s in spec.states if s.on_breach}
    for i, tr in enumerate(spec.transitions):
        if not tr.roles or not set(tr.roles) <= system:
            continue
        for j, source in enumerate(tr.source):
            if (source, tr.trigger) not in fired:
                here: Path = ("transitions", i, "from", j)
                add(here, "system-step-never-fired",
                    f"'{tr.trigger}' from '{source}' may be fired only by the system, which "
                    f"fires a step only as a state's on_breach.trigger, and '{source}' does "
                    "not name it", f"give '{source}' an sla with on_breach: {{trigger: "
                    f"{tr.trigger}}}, or allow a user role", severity="warning")  # fmt: skip


def notices(spec: SopSpec, add: Report) -> None:
    system = {r.id for r in spec.roles if r.kind == "system"}
    places: list[tuple[Path, Iterable[Notice]]] = [
        (("transitions", i, "notify"), tr.notify) for i, tr in enumerate(spec.transitions)
    ]
    places += [(("states", i, "on_breach", "notify"), s.on_breach.notify)
               for i, s in enumerate(spec.states) if s.on_breach]  # fmt: skip
    for path, listed in places:
        for j, notice in enumerate(listed):
            if notice.to.role in system:
                here: Path = (*path, j, "to", "role")
                add(here, "notice-to-system",
                    f"a notice to role '{notice.to.role}', of kind 'system', reaches nobody: "
                    "no user holds it", "address it to the requester, an official role or "
                    "an email field")  # fmt: skip


def enum_values(spec: SopSpec, add: Report) -> None:
    for i, field in enumerate(spec.fields):
        seen: set[str] = set()
        for j, value in enumerate(getattr(field, "values", None) or ()):
            if value.id in seen:
                here: Path = ("fields", i, "values", j, "id")
                add(here, "duplicate-id",
                    f"field '{field.id}': value '{value.id}' declared twice")  # fmt: skip
            seen.add(value.id)


def _shortest_hours(sla: Sla) -> int:
    """The shortest time a deadline can give: N working days end at the end of the N-th
    working day after the day of entry, so they are never less than N * 24 hours."""
    return sla.hours if sla.hours is not None else (sla.working_days or 0) * 24


def deadline_warnings(spec: SopSpec, add: Report) -> None:
    for i, state in enumerate(spec.states):
        sla = state.sla
        if sla is None or sla.warn_before_hours is None:
            continue
        if sla.warn_before_hours >= _shortest_hours(sla):
            length = f"{sla.hours} hours" if sla.hours else f"{sla.working_days} working days"
            here: Path = ("states", i, "sla", "warn_before_hours")
            add(here, "warning-longer-than-sla",
                f"state '{state.id}': a warning {sla.warn_before_hours} hours before a "
                f"deadline of {length} would be sent as soon as a request enters it",
                "warn fewer hours before the deadline", severity="warning")  # fmt: skip


# what a field is, as a condition sees it
_KINDS = {
    "integer": "number", "decimal": "number", "string": "text", "text": "text",
    "email": "text", "country": "text", "isco08": "text", "isic": "text", "enum": "text",
    "date": "date", "boolean": "boolean", "money": "money",
}  # fmt: skip


def conditions(spec: SopSpec, add: Report) -> None:
    fields = {f.id: f for f in spec.fields}
    for i, tr in enumerate(spec.transitions):
        for j, cond in enumerate(tr.requires.conditions):
            try:
                tree = ast.parse(cond.expr.strip(), mode="eval")
            except SyntaxError:
                continue  # reported as bad-condition
            here: Path = ("transitions", i, "requires", "conditions", j, "expr")
            for problem, fix in _never_true(tree, fields):
                add(here, "condition-type", f"condition '{' '.join(cond.expr.split())}': "
                    f"{problem}", fix)  # fmt: skip
            for node in ast.walk(tree):
                if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                        and _literal(node.right) == 0):  # fmt: skip
                    add(here, "division-by-zero",
                        f"condition '{' '.join(cond.expr.split())}' divides by zero",
                        "divide by a number other than 0")  # fmt: skip


def _literal(node: ast.expr) -> object:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _literal(node.operand)
        return inner if isinstance(inner, int | float) and not isinstance(inner, bool) else None
    return node.value if isinstance(node, ast.Constant) else None


# what a call returns, whatever its arguments (min and max return one of theirs)
_RESULTS = {
    "present": "boolean", "len": "number", "abs": "number", "date": "date",
    "years_between": "number", "months_between": "number", "days_between": "number",
}  # fmt: skip


def _kind(node: ast.expr, fields: dict[str, FieldSpec]) -> tuple[str, str] | None:
    """(kind, how to name it) of a field, a money part, ``today``, a call or a literal."""
    if isinstance(node, ast.Name) and node.id in ("true", "false"):
        return "boolean", f"the boolean {node.id}"  # the language reads these before fields
    if isinstance(node, ast.Name) and node.id in fields:
        kind = _KINDS.get(fields[node.id].type, "other")
        return kind, f"the {kind} field '{node.id}'"
    if isinstance(node, ast.Name) and node.id == "today":
        return "date", "today (a date)"
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        part = {"amount": "number", "currency": "text"}.get(node.attr)
        return (part, f"the {part} '{node.value.id}.{node.attr}'") if part else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        result = _RESULTS.get(node.func.id)
        return (result, f"the {result} {ast.unparse(node)}") if result else None
    value = _literal(node)
    if isinstance(value, bool):
        return "boolean", f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return "text", f"the text '{value}'"
    if isinstance(value, int | float):
        return "number", f"the number {value}"
    return None


# kinds no value of another kind ever equals (``None`` is left out: any comparison with a
# missing value is false, which is how the language is meant to be read, not a slip)
_CLASHING = frozenset({"number", "text", "date", "boolean", "money"})


def _fix(kinds: set[str], operands: list[ast.expr], fields: dict[str, FieldSpec]) -> str | None:
    """What to write instead, for the slips authors make."""
    if "boolean" in kinds:
        flag = next((o.id for o in operands if isinstance(o, ast.Name) and o.id in fields
                     and fields[o.id].type == "boolean"), None)  # fmt: skip
        return f"a boolean is itself a condition: write '{flag}', or 'not {flag}'" if flag else None
    if "money" in kinds:
        return "compare the money field's .amount (a number) or .currency (a text)"
    if "date" in kinds and "text" in kinds:
        return 'write a fixed day as date("YYYY-MM-DD")'
    return None


def _never_true(tree: ast.Expression, fields: dict[str, FieldSpec]) -> list[tuple[str, str | None]]:
    """``==``, ``!=``, ``in`` and ``not in`` between values of two kinds (a number, a text, a
    date, a boolean, a sum of money): always false (always true), since values of two kinds
    are never equal; the ordering operators are caught by evaluating on sample values
    (``condition-type`` in the linter). Each problem comes with a hint, or None."""
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for k, op in enumerate(node.ops):
                problem = _clash(op, operands[k], operands[k + 1], fields)
                if problem:
                    problems.append(problem)
    return problems


def _clash(
    op: ast.cmpop, left: ast.expr, right: ast.expr, fields: dict[str, FieldSpec]
) -> tuple[str, str | None] | None:
    always = "false" if isinstance(op, ast.Eq | ast.In) else "true"
    never = f"values of two kinds are never equal, so it is always {always}"
    mine = _kind(left, fields)
    if mine is None or mine[0] not in _CLASHING:
        return None
    if isinstance(op, ast.Eq | ast.NotEq):
        theirs = _kind(right, fields)
        if theirs and theirs[0] != mine[0] and theirs[0] in _CLASHING:
            fix = _fix({mine[0], theirs[0]}, [left, right], fields)
            return f"compares {mine[1]} with {theirs[1]}: {never}", fix
    elif isinstance(op, ast.In | ast.NotIn) and isinstance(right, ast.List | ast.Tuple):
        items = [_kind(e, fields) for e in right.elts]
        kinds = {i[0] for i in items if i}
        if items and all(items) and kinds <= _CLASHING and mine[0] not in kinds:
            listed = " and ".join(sorted(kinds))
            fix = _fix({mine[0], *kinds}, [left], fields)
            return f"looks for {mine[1]} in a list of {listed} values: {never}", fix
    return None
