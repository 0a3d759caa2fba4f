"""The safe condition language: what it computes, and what it refuses (with the column)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.spec.expressions import (
    MAX_LENGTH,
    EvaluationError,
    ExpressionError,
    compile_expression,
)

FIELDS = frozenset(
    {"count", "months", "exempt", "wage", "fee", "kind", "start", "end", "name", "tags", "ratio"}
)
ENV: dict[str, Any] = {
    "count": 3,
    "months": 12,
    "exempt": False,
    "wage": {"amount": Decimal("1200.00"), "currency": "USD"},
    "fee": {"amount": Decimal("12"), "currency": "USD"},
    "kind": "renewal",
    "start": date(2026, 1, 1),
    "end": date(2027, 1, 1),
    "name": "Nile Builders",
    "tags": ["a", "b"],
    "ratio": Decimal("0.5"),
    "today": date(2026, 3, 2),
}


def evaluate(source: str, **env: Any) -> bool:
    return compile_expression(source, FIELDS).evaluate({**ENV, **env})


def refusal(source: str) -> ExpressionError:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(source, FIELDS)
    return caught.value


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("count + 2 == 5", True),
        ("count - 4 == -1", True),
        ("count * 2 == 6", True),
        ("months / 4 == 3", True),
        ("ratio * 2 == 1", True),
        ("ratio == 0.5", True),
        ("-count < 0", True),
        ("count > 2", True),
        ("count >= 4", False),
        ("count != 3", False),
        ("1 < count < 5", True),
        ("1 < count < 3", False),
        ("0 <= count <= months <= 12", True),
        ("count > 1 and months <= 12", True),
        ("count > 5 or exempt", False),
        ("not exempt", True),
        ("months <= 12 or exempt", True),
        ("kind in ['initial', 'renewal']", True),
        ("kind not in ('initial',)", True),
        ("'a' in tags", True),
        ("'Nile' in name", True),
        ("true and not false", True),
        ("True", True),
    ],
)
def test_arithmetic_comparisons_and_logic(source, expected):
    assert evaluate(source) is expected


def test_money_amount_and_currency():
    assert evaluate("fee.amount <= wage.amount * 12 / 100")
    assert evaluate("fee.currency == wage.currency")
    assert not evaluate("wage.amount > 2000")


def test_decimal_arithmetic_is_exact():
    assert evaluate("0.1 + 0.2 == 0.3")


def test_dividing_two_whole_numbers_mixes_with_money_amounts():
    """BUG: '12 / 100' divides two ints into a float, and Decimal * float raises
    TypeError, so 'wage.amount * (12 / 100) == 144' cannot be evaluated at all."""
    assert evaluate("wage.amount * (12 / 100) == 144")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("present(name)", True),
        ("present(missing_ok)", False),
        ("len(name) == 13", True),
        ("abs(0 - count) == 3", True),
        ("min(count, months) == 3", True),
        ("max(count, months) == 12", True),
        ("start < date('2026-06-01')", True),
        ("years_between(start, end) == 1", True),
        ("years_between(start, today) == 0", True),
        ("months_between(start, end) == 12", True),
        ("months_between(start, today) < 12", True),
        ("end > today", True),
    ],
)
def test_functions_and_today(source, expected):
    fields = FIELDS | {"missing_ok"}
    assert compile_expression(source, fields).evaluate({**ENV, "missing_ok": ""}) is expected


def test_names_are_recorded():
    expression = compile_expression("fee.amount > 0 and start < today", FIELDS)

    assert expression.names == {"fee", "start", "today"}


@pytest.mark.parametrize(
    "source",
    ["count > 1", "count == 3", "count != 3", "1 < count < 5", "count in [1, 2]", "fee.amount > 0"],
)
def test_a_missing_value_never_satisfies_a_comparison(source):
    assert evaluate(source, count=None, fee=None) is False


def test_missing_values_in_logic():
    assert evaluate("exempt or count > 1", exempt=None)
    assert not evaluate("exempt and count > 1", exempt=None)
    assert evaluate("not exempt", exempt=None)


@pytest.mark.parametrize(
    "source",
    ["len(count) > 1", "date(count) < today", "years_between(name, end) > 1", "name.amount > 1"],
)
def test_wrong_value_kinds_raise_evaluation_error(source):
    with pytest.raises(EvaluationError):
        evaluate(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [("exempt == 0", False), ("exempt != 0", True), ("exempt in [0, 1]", False),
     ("exempt not in [0]", True), ("exempt == false", True), ("count in [3]", True)],
)  # fmt: skip
def test_a_boolean_never_equals_a_number(source, expected):
    """Python's False == 0 is not the language's: values of two kinds are never equal."""
    assert evaluate(source) is expected


def test_a_boolean_cannot_be_ordered_against_a_number():
    with pytest.raises(EvaluationError, match="cannot order true/false"):
        evaluate("exempt < 1")


def test_type_mismatch_raises_evaluation_error():
    with pytest.raises(EvaluationError, match="cannot evaluate"):
        evaluate("count < name")


@pytest.mark.parametrize(
    ("source", "column", "fragment"),
    [
        ("count > 1 and name.__class__", 15, "only '.amount' and '.currency'"),
        ("count > 1 or __import__('os')", 14, "unknown function"),
        ("eval('1')", 1, "unknown function"),
        ("count > 1 and open(name)", 15, "unknown function"),
        ("fee.amount.currency == 'USD'", 1, "only '.amount' and '.currency'"),
        ("(lambda: 1)() == 1", 1, "unknown function"),
        ("count and (lambda: 1)", 12, "'Lambda' is not allowed"),
        ("tags[0] == 'a'", 1, "'Subscript' is not allowed"),
        ("count > 0 and [t for t in tags]", 15, "'ListComp' is not allowed"),
        ("{t: 1 for t in tags}", 1, "'DictComp' is not allowed"),
        ("f'{name}' == 'x'", 1, "'JoinedStr' is not allowed"),
        ("count ** 2 > 1", 1, "only + - * / are allowed"),
        ("count // 2 > 1", 1, "only + - * / are allowed"),
        ("count % 2 == 1", 1, "only + - * / are allowed"),
        ("count and (n := 1)", 12, "'NamedExpr' is not allowed"),
        ("count is None", 1, "only == != < <= > >= in, not in"),
        ("~count", 1, "only 'not' and '-' may prefix"),
        ("count if exempt else 1", 1, "'IfExp' is not allowed"),
        ("count > 1 and cout < 3", 15, "unknown name 'cout'"),
        ("len(name, 1) > 1", 1, "len() takes 1 argument(s)"),
        ("present(x=name)", 1, "present() takes 1 argument(s)"),
        ("b'x' == name", 1, "only numbers, texts"),
        ("count > 1j", 9, "only numbers, texts"),
        ("count > 1 and and 2", 15, "syntax error"),
        ("count = 1", 7, "syntax error"),
        ("import os", 1, "syntax error"),
    ],
)
def test_refusals_name_the_column(source, column, fragment):
    error = refusal(source)

    assert fragment in error.message
    assert error.column == column


@pytest.mark.parametrize(
    ("source", "written", "message", "hint"),
    [
        ("count =< 1", "=<", "syntax error: '=<' is not an operator", "did you mean '<='?"),
        ("count => 1", "=>", "syntax error: '=>' is not an operator", "did you mean '>='?"),
        ("count <> 1", "<>", "syntax error: '<>' is not an operator", "did you mean '!='?"),
        ("count === 3", "===", "syntax error: '===' is not an operator", "did you mean '=='?"),
        ("exempt = true", "=", "syntax error: '=' sets a value, and a condition only compares",
         "did you mean '=='?"),
        ("name == 'a=b' and count = 1", "= 1",
         "syntax error: '=' sets a value, and a condition only compares", "did you mean '=='?"),
        ("count > 1 && exempt", "&&", "syntax error: '&&' is not a word of the language",
         "did you mean 'and'?"),
        ("count > 1 || exempt", "||", "syntax error: '||' is not a word of the language",
         "did you mean 'or'?"),
        ("!exempt", "!", "syntax error: '!' is not a word of the language", "did you mean 'not'?"),
        ("count > 1 AND exempt", "AND", "syntax error: 'AND' is not a word of the language",
         "did you mean 'and'?"),
        ("exempt & count > 1", "exempt", "only + - * / are allowed", "did you mean 'and'?"),
        ("count > 1 and TRUE", "TRUE", "unknown name 'TRUE': not a field of this SOP",
         "did you mean 'true'?"),
    ],
)  # fmt: skip
def test_slips_from_other_languages_get_a_hint_at_the_slip(source, written, message, hint):
    """BUG: 'count =< 1' and 'exempt = true' said only 'syntax error: invalid syntax'."""
    error = refusal(source)

    assert (error.message, error.hint) == (message, hint)
    assert error.column == source.index(written) + 1


def test_null_is_none_and_a_comparison_with_it_is_always_false():
    error = refusal("count == null")

    assert error.message == "unknown name 'null': not a field of this SOP"
    assert error.hint == (
        "the language writes None, but a comparison with None is always false: ask "
        "'present(x)' or 'not present(x)' whether a field has a value"
    )


def test_a_method_call_is_refused_at_the_dot_with_a_pointer_to_pattern():
    """BUG: 'name.startswith("RA")' said 'unknown function', as if startswith were one."""
    error = refusal('count > 1 and name.startswith("RA")')

    assert error.message == "'.startswith()' is a method, and a condition calls no methods"
    assert error.column == len("count > 1 and name") + 1
    assert error.hint == (
        "to check the form of a text, give the field a 'pattern', a regular expression such as "
        "'^RA[0-9]+$'; a condition may call only abs, date, days_between, len, max, min, "
        "months_between, present, years_between"
    )


def test_an_unknown_function_is_named():
    assert refusal("contains(name, 'a')").message.startswith("unknown function 'contains';")


def test_refusal_column_counts_leading_spaces():
    """BUG: the source is stripped before parsing, so the column of '  cout > 1' is 1,
    not 3 (and the linter then points at the wrong character)."""
    assert refusal("  cout > 1").column == 3


def test_a_long_expression_is_refused():
    error = refusal("count > 1 and " * 40 + "true")

    assert len("count > 1 and " * 40) > MAX_LENGTH
    assert f"longer than {MAX_LENGTH}" in error.message


def test_an_expression_with_too_many_parts_is_refused():
    assert "more than" in refusal("-" * 250 + "count").message


def test_nothing_reaches_python_builtins():
    for source in ["__builtins__", "__import__", "globals()", "print(1)", "getattr(name, 'x')"]:
        refusal(source)


TOKENS = [
    "count",
    "months",
    "exempt",
    "wage",
    "fee",
    "name",
    "tags",
    "today",
    "unknown",
    "fee.amount",
    "wage.currency",
    "name.__class__",
    "1",
    "0",
    "2.5",
    "'USD'",
    "true",
    "None",
    "+",
    "-",
    "*",
    "/",
    "**",
    "%",
    "<",
    "<=",
    "==",
    "!=",
    ">",
    "in",
    "not",
    "and",
    "or",
    "is",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "lambda",
    "if",
    "else",
    "for",
    ":=",
    ".",
    "present(",
    "len(",
    "min(",
    "date(",
    "__import__(",
    "f'",
    "'",
    '"',
    "#",
    "\\",
    "\n",
    "\x00",
]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80) | st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join))
def test_compile_raises_nothing_but_expression_error(source):
    try:
        expression = compile_expression(source, FIELDS)
    except ExpressionError as error:
        assert error.column >= 1
        return
    try:
        result = expression.evaluate(ENV)
    except EvaluationError:
        return
    assert isinstance(result, bool)


def test_refusal_offset_counts_characters_not_bytes_and_lines():
    """The linter maps ``offset`` to the SOP file: ast counts UTF-8 bytes on each line."""
    source = "('é' == 'é'\n and cout > 1)"

    error = refusal(source)

    assert source[error.offset :].startswith("cout")
    assert (error.line, error.column) == (2, 6)


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [("2027-01-01", "2027-12-31", 11), ("2027-01-01", "2028-01-01", 12),
     ("2027-01-04", "2029-12-31", 35), ("2027-01-31", "2027-02-28", 0),
     ("2027-03-15", "2027-03-15", 0)],
)  # fmt: skip
def test_months_between_counts_whole_months(start, end, months):
    counted = f"months_between(date('{start}'), date('{end}'))"
    assert compile_expression(f"{counted} == {months}", set()).evaluate({}) is True


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [("2027-01-01", "2027-01-31", 30), ("2027-01-01", "2026-12-31", -1),
     ("2028-02-28", "2028-03-01", 2), ("2027-03-15", "2027-03-15", 0),
     ("2026-01-01", "2027-01-01", 365)],
)  # fmt: skip
def test_days_between_counts_whole_days_negative_backwards(start, end, days):
    counted = f"days_between(date('{start}'), date('{end}'))"
    assert compile_expression(f"{counted} == {days}", set()).evaluate({}) is True


def test_days_between_reads_today_and_date_fields():
    assert evaluate("days_between(today, end) >= 120")  # 2026-03-02 to 2027-01-01
    assert evaluate("days_between(start, today) == 60")


@pytest.mark.parametrize("source", ["days_between(name, end) > 1", "days_between(count, 3) > 1"])
def test_days_between_needs_two_dates(source):
    with pytest.raises(EvaluationError, match=r"days_between\(\) needs two dates"):
        evaluate(source)


def test_days_between_takes_two_arguments():
    assert refusal("days_between(start) > 1").message == "days_between() takes 2 argument(s)"


def test_arithmetic_on_a_date_points_at_the_date_functions():
    with pytest.raises(EvaluationError, match="'-' needs numbers, not date") as caught:
        evaluate("end - today >= 120")

    assert caught.value.hint is not None
    assert "days_between(start, end)" in caught.value.hint
    assert "months_between(start, end)" in caught.value.hint
