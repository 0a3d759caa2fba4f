"""What authors of conditions write from other languages, and what this one writes instead.

Python's parser says only "invalid syntax" for ``x =< 1``, ``x = 1`` or ``a && b``, and
the condition language reads ``null`` as a name like any other: these tables turn such
slips into a hint, found in the text as written (outside quoted texts) so that the column
points at the slip itself.

Pure, and independent of the compiler (``expressions.py``), which asks ``syntax_slip``
only once the parser has refused the text.
"""

from __future__ import annotations

import re

# the operators of the language, kept so the scan steps over them whole (``<=`` is not
# a ``<`` followed by an ``=``), and the slips, each with what to write
_OPERATORS = ("==", "!=", "<=", ">=")
_SLIPS = {
    "===": "==", "=<": "<=", "=>": ">=", "<>": "!=", "=": "==", "&&": "and", "||": "or",
    "!": "not", "AND": "and", "OR": "or", "NOT": "not", "And": "and", "Or": "or",
    "Not": "not",
}  # fmt: skip
_TOKEN = re.compile(
    r""""(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'"""  # a quoted text: skipped
    r"|===|==|!=|<=|>=|=<|=>|<>|=|&&|\|\||!"
    r"|\b(?:AND|OR|NOT|And|Or|Not)\b"
)

# names other languages give to "no value", true and false
_NAMES = {
    "null": "None", "NULL": "None", "Null": "None", "nil": "None", "none": "None",
    "undefined": "None", "TRUE": "true", "FALSE": "false",
}  # fmt: skip
NONE_HINT = (
    "a comparison with None is always false: ask 'present(x)' or 'not present(x)' "
    "whether a field has a value"
)


def syntax_slip(text: str) -> tuple[int, str, str] | None:
    """(index in ``text``, message, hint) of the first slip, or None."""
    for match in _TOKEN.finditer(text):
        written = match.group()
        if written[0] in "\"'" or written in _OPERATORS:
            continue
        meant = _SLIPS[written]
        if written == "=":
            why = "'=' sets a value, and a condition only compares"
        elif meant in ("and", "or", "not"):
            why = f"'{written}' is not a word of the language"
        else:
            why = f"'{written}' is not an operator"
        return match.start(), f"syntax error: {why}", f"did you mean '{meant}'?"
    return None


def name_slip(name: str) -> str | None:
    """The hint for a name other languages use for None, true or false."""
    meant = _NAMES.get(name)
    if meant == "None":
        return f"the language writes None, but {NONE_HINT}"
    return f"did you mean '{meant}'?" if meant else None


def method_hint(functions: list[str]) -> str:
    return (
        "to check the form of a text, give the field a 'pattern', a regular expression such "
        "as '^RA[0-9]+$'; a condition may call only " + ", ".join(functions)
    )
