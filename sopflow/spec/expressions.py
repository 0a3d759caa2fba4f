"""The safe condition language of SOP files.

A condition is one expression in a small Python-like syntax, for example
``contract_months <= 12 or approved_project_exemption`` or
``worker_fee.amount <= monthly_wage.amount * 12 / 100``.

It is parsed with the standard ``ast`` module and compiled into closures from a short
whitelist of node kinds: names resolve only to the SOP's fields (and ``today``), the only
attributes are ``.amount`` and ``.currency`` of money values, the only calls are the
functions below. Nothing reaches Python's ``eval``, builtins, attributes or imports. We do
not use a generic evaluator library because the compiler must also check, at SOP load
time, that every name is a declared field and report the column of the offending token.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sopflow.spec.expression_slips import method_hint, name_slip, syntax_slip

Env = Mapping[str, Any]
Compiled = Callable[[Env], Any]

CONTEXT_NAMES = frozenset({"today"})
ATTRIBUTES = frozenset({"amount", "currency"})
MAX_LENGTH = 500
MAX_NODES = 200


class ExpressionError(ValueError):
    """A condition that does not compile. ``column`` is 1-based within the expression's
    line ``line`` (1-based; an expression in parentheses may span lines); ``offset`` is
    the 0-based index of the offending character in the whole source text, which the
    linter maps to a place in the SOP file; ``hint`` says what to write instead, if known."""

    def __init__(self, message: str, column: int = 1, line: int = 1,
                 offset: int | None = None, hint: str | None = None) -> None:  # fmt: skip
        super().__init__(message)
        self.message = message
        self.column = column
        self.line = line
        self.offset = column - 1 if offset is None else offset
        self.hint = hint


class EvaluationError(ValueError):
    """A condition that compiled but cannot be computed on these values; ``hint`` says, for
    the SOP's author, what to write instead when the linter finds it on sample values."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


def _number(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _len(value: Any) -> int:
    if not isinstance(value, str | list | tuple):
        raise EvaluationError("len() needs a text or a list")
    return len(value)


def _date(value: Any) -> date:
    if not isinstance(value, str):
        raise EvaluationError("date() needs a text 'YYYY-MM-DD'")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise EvaluationError(f"date({value!r}): {exc}") from exc


def _years_between(start: Any, end: Any) -> int:
    if not isinstance(start, date) or not isinstance(end, date):
        raise EvaluationError("years_between() needs two dates")
    years = end.year - start.year
    return years - 1 if (end.month, end.day) < (start.month, start.day) else years


def _months_between(start: Any, end: Any) -> int:
    """Whole months from ``start`` to ``end`` (2027-01-01 to 2027-12-31: 11; to 2028-01-01: 12)."""
    if not isinstance(start, date) or not isinstance(end, date):
        raise EvaluationError("months_between() needs two dates")
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - 1 if end.day < start.day else months


def _days_between(start: Any, end: Any) -> int:
    """Whole days from ``start`` to ``end``, negative when ``end`` is before ``start``."""
    if not isinstance(start, date) or not isinstance(end, date):
        raise EvaluationError("days_between() needs two dates")
    return (end - start).days


FUNCTIONS: dict[str, tuple[int, Callable[..., Any]]] = {
    "present": (1, _present),
    "len": (1, _len),
    "abs": (1, abs),
    "min": (2, min),
    "max": (2, max),
    "date": (1, _date),
    "years_between": (2, _years_between),
    "months_between": (2, _months_between),
    "days_between": (2, _days_between),
}

# dates are not numbers (a date minus a date would be a timedelta, a date plus 120 an
# error): the language counts the time between two dates with its functions instead
_DATE_ARITHMETIC = (
    "count the time between two dates with days_between(start, end), months_between(start, "
    "end) or years_between(start, end), e.g. days_between(today, expiry) >= 120"
)


def _numbers(op: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], Any]:
    """Arithmetic on numbers only, in Decimal (``12 / 100`` is exact and mixes with money
    amounts); ``"a" * 10**9`` or a text repeated would be a way to exhaust memory."""

    def run(a: Any, b: Any) -> Any:
        if a is None or b is None:
            raise EvaluationError(f"'{symbol}' on a missing value")
        for value in (a, b):
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                hint = _DATE_ARITHMETIC if isinstance(value, date) else None
                raise EvaluationError(f"'{symbol}' needs numbers, not {type(value).__name__}", hint)
        return op(Decimal(a), Decimal(b))

    return run


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _numbers(operator.add, "+"),
    ast.Sub: _numbers(operator.sub, "-"),
    ast.Mult: _numbers(operator.mul, "*"),
    ast.Div: _numbers(operator.truediv, "/"),
}


def _kinds_differ(a: Any, b: Any) -> bool:
    """Python counts true and false as the numbers 1 and 0 (``True == 1``, ``False < 1``);
    the language keeps a boolean apart from a number, as it does a text from a date."""
    return isinstance(a, bool) != isinstance(b, bool)


def _equal(a: Any, b: Any) -> bool:
    return not _kinds_differ(a, b) and bool(a == b)


def _ordered(op: Callable[[Any, Any], Any], symbol: str) -> Callable[[Any, Any], bool]:
    def run(a: Any, b: Any) -> bool:
        if _kinds_differ(a, b):
            raise EvaluationError(f"'{symbol}' cannot order true/false against another kind")
        return bool(op(a, b))

    return run


def _contains(a: Any, b: Any) -> bool:
    return any(_equal(a, x) for x in b) if isinstance(b, list | tuple) else bool(a in b)


_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: _equal,
    ast.NotEq: lambda a, b: not _equal(a, b),
    ast.Lt: _ordered(operator.lt, "<"),
    ast.LtE: _ordered(operator.le, "<="),
    ast.Gt: _ordered(operator.gt, ">"),
    ast.GtE: _ordered(operator.ge, ">="),
    ast.In: _contains,
    ast.NotIn: lambda a, b: not _contains(a, b),
}


@dataclass(frozen=True)
class Expression:
    """A compiled condition: call ``evaluate`` with the typed field values and ``today``."""

    source: str
    names: frozenset[str]
    _run: Compiled

    def evaluate(self, env: Env) -> bool:
        try:
            return bool(self._run(env))
        except EvaluationError:
            raise
        except (TypeError, ArithmeticError, InvalidOperation, ValueError) as exc:
            raise EvaluationError(f"cannot evaluate '{self.source}': {exc}") from exc


def compile_expression(source: str, fields: frozenset[str]) -> Expression:
    """Compile ``source``; names must be among ``fields`` or the context names."""
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    stripped = source.lstrip()
    indent = len(source) - len(stripped)  # columns count from the text as written
    text = stripped.rstrip()
    lines = text.split("\n")
    lead = len(source) - len(source.lstrip(" \t"))  # the indent on the first line only

    def located(message: str, line: int, column: int, hint: str | None = None) -> ExpressionError:
        """``column`` 1-based in characters on ``line`` of ``text``."""
        line = min(max(line, 1), len(lines))
        offset = indent + sum(len(x) + 1 for x in lines[: line - 1]) + column - 1
        return ExpressionError(message, column + (lead if line == 1 else 0), line, offset, hint)

    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        slip = syntax_slip(text)
        if slip:  # '=<', '=', '&&': Python says only "invalid syntax", at another place
            at, message, hint = slip
            line = text.count("\n", 0, at) + 1
            raise located(message, line, at - text.rfind("\n", 0, at), hint) from exc
        raise located(f"syntax error: {exc.msg}", exc.lineno or 1, exc.offset or 1) from exc
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise ExpressionError(f"expression has more than {MAX_NODES} parts")
    compiler = _Compiler(fields)
    try:
        run = compiler.compile(tree.body)
    except ExpressionError as exc:
        # ast counts columns in UTF-8 bytes: count characters, as an editor does
        row = lines[min(max(exc.line, 1), len(lines)) - 1]
        column = len(row.encode("utf-8")[: exc.column - 1].decode("utf-8", "ignore")) + 1
        raise located(exc.message, exc.line, column, exc.hint) from exc
    return Expression(source, frozenset(compiler.names), run)


class _Compiler:
    def __init__(self, fields: frozenset[str]) -> None:
        self.fields = fields
        self.names: set[str] = set()

    def fail(self, node: ast.AST, message: str, hint: str | None = None) -> ExpressionError:
        return ExpressionError(
            message, getattr(node, "col_offset", 0) + 1, getattr(node, "lineno", 1), hint=hint
        )

    def compile(self, node: ast.expr) -> Compiled:
        if isinstance(node, ast.Constant):
            return self._constant(node)
        if isinstance(node, ast.Name):
            return self._name(node)
        if isinstance(node, ast.BoolOp):
            parts = [self.compile(v) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda env: all(p(env) for p in parts)
            return lambda env: any(p(env) for p in parts)
        if isinstance(node, ast.UnaryOp):
            operand = self.compile(node.operand)
            if isinstance(node.op, ast.Not):
                return lambda env: not operand(env)
            if isinstance(node.op, ast.USub):
                return lambda env: -operand(env)
            raise self.fail(node, "only 'not' and '-' may prefix a value")
        if isinstance(node, ast.BinOp):
            return self._binary(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.compile(e) for e in node.elts]
            return lambda env: [i(env) for i in items]
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node, f"'{type(node).__name__}' is not allowed in a condition")

    def _constant(self, node: ast.Constant) -> Compiled:
        value = node.value
        if value is not None and not isinstance(value, bool | int | float | str):
            raise self.fail(node, "only numbers, texts, true/false and None are allowed")
        value = _number(value)
        return lambda env: value

    def _name(self, node: ast.Name) -> Compiled:
        name = node.id
        if name in ("true", "True"):
            return lambda env: True
        if name in ("false", "False"):
            return lambda env: False
        if name not in self.fields and name not in CONTEXT_NAMES:
            raise self.fail(
                node, f"unknown name '{name}': not a field of this SOP", name_slip(name)
            )
        self.names.add(name)
        return lambda env: env.get(name)

    def _binary(self, node: ast.BinOp) -> Compiled:
        op = _BINARY.get(type(node.op))
        if op is None:
            meant = {ast.BitAnd: "and", ast.BitOr: "or"}.get(type(node.op))
            hint = f"did you mean '{meant}'?" if meant else None
            raise self.fail(node, "only + - * / are allowed", hint)
        left, right = self.compile(node.left), self.compile(node.right)
        return lambda env: op(left(env), right(env))

    def _compare(self, node: ast.Compare) -> Compiled:
        ops = []
        for cmp in node.ops:
            fn = _COMPARE.get(type(cmp))
            if fn is None:
                raise self.fail(node, "only == != < <= > >= in, not in compare values")
            ops.append(fn)
        operands = [self.compile(node.left), *(self.compile(c) for c in node.comparators)]

        def run(env: Env) -> bool:
            values = [o(env) for o in operands]
            if any(v is None for v in values):
                return False  # a missing value never satisfies a comparison
            return all(fn(values[i], values[i + 1]) for i, fn in enumerate(ops))

        return run

    def _attribute(self, node: ast.Attribute) -> Compiled:
        if node.attr not in ATTRIBUTES or not isinstance(node.value, ast.Name):
            raise self.fail(node, "only '.amount' and '.currency' of a money field are allowed")
        base, attr = self._name(node.value), node.attr

        def run(env: Env) -> Any:
            value = base(env)
            if value is None:
                return None
            if not isinstance(value, Mapping) or attr not in value:
                raise EvaluationError(f"'.{attr}' needs a money value")
            return value[attr]

        return run

    def _call(self, node: ast.Call) -> Compiled:
        allowed = ", ".join(sorted(FUNCTIONS))
        if isinstance(node.func, ast.Attribute):  # name.startswith("RA"): at the '.'
            owner = node.func.value
            raise ExpressionError(
                f"'.{node.func.attr}()' is a method, and a condition calls no methods",
                (owner.end_col_offset or 0) + 1,
                owner.end_lineno or 1,
                hint=method_hint(sorted(FUNCTIONS)),
            )
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = f" '{node.func.id}'" if isinstance(node.func, ast.Name) else ""
            raise self.fail(node, f"unknown function{name}; allowed: {allowed}")
        arity, fn = FUNCTIONS[node.func.id]
        if node.keywords or len(node.args) != arity:
            raise self.fail(node, f"{node.func.id}() takes {arity} argument(s)")
        args = [self.compile(a) for a in node.args]
        return lambda env: fn(*(a(env) for a in args))
