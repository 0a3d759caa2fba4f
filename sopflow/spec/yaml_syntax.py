"""The YAML parser's syntax errors in an author's words, with a hint for the common ones.

ruamel speaks of tokens ("expected <block end>, but found '?'"); an SOP author needs to
hear that a line is indented differently from its siblings, or that a quote opened at
some place is never closed. The location stays the parser's (``yamlsource.py``).
"""

from __future__ import annotations

from ruamel.yaml.error import MarkedYAMLError


def explain(exc: MarkedYAMLError) -> tuple[str, str | None]:
    """The message and the hint for a syntax error."""
    plain = _plain_words(exc)
    if plain:
        return plain
    return _explain(exc.problem or exc.context or "invalid YAML", exc.context or "")


# the parser's words for the common mistakes, and what to do about them
_SYNTAX_HINTS = (
    ("found character '\\t'", "indent with spaces: YAML does not allow tabs for indentation"),
    ("mapping values are not allowed", "quote a text that contains ': ', or check the indentation"),
    ("could not find expected ':'", "a key needs ': ' after it; quote a text on several lines"),
    ("found unexpected end of stream", "a quote or a bracket is not closed"),
    ("expected <block end>", "check the indentation: items of one list or mapping align"),
    ("found undefined alias", "aliases (*name) are not allowed in SOP files"),
    ("cannot start any token", "quote a text that starts with this character"),
)


_INDENT_HINT = (
    "indent it as its siblings: the keys of one mapping, the items of one list, start in one column"
)


def _plain_words(exc: MarkedYAMLError) -> tuple[str, str] | None:
    """The parser's words for a broken indentation or an unclosed quote or bracket
    ("expected <block end>, but found '?'") said as an author would, naming where the
    block, quote or bracket it breaks began."""
    problem, context, start = exc.problem or "", exc.context or "", exc.context_mark
    began = f"line {start.line + 1}, column {start.column + 1}" if start else "above"
    if problem.startswith("expected <block end>, but found "):
        found = problem.split("but found ", 1)[1]
        if found == "'?'":
            return (f"a key in the column of the items of the list that starts at {began}: "
                    "a list cannot also hold keys", "to give the last item one more key, "
                    "indent it as that item's first key; to end the list, indent it as the "
                    "key the list belongs to")  # fmt: skip
        if found == "'-'":
            return (f"a list item ('- ') in the column of the keys of the mapping that starts "
                    f"at {began}: a mapping cannot also hold list items",
                    "indent the list under the key it belongs to")  # fmt: skip
        if found != "'<scalar>'":
            what = "list items" if found == "'<block sequence start>'" else "keys"
            return (f"this line is indented differently from the {what} around it (the block "
                    f"it breaks starts at {began})", _INDENT_HINT)  # fmt: skip
    if problem == "found unexpected end of stream" and "quoted scalar" in context:
        return f"the quote opened at {began} is never closed", "close it with the same quote"
    if problem.startswith("expected ','") and "flow" in context:
        opener, closer = ("[", "]") if "sequence" in context else ("{", "}")
        return (f"the '{opener}' opened at {began} is not closed before this point",
                f"close it with '{closer}'; quote an item that contains ': '")  # fmt: skip
    return None


def _explain(problem: str, context: str) -> tuple[str, str | None]:
    """The parser's message without raw escapes, and a hint for the common mistakes."""
    readable = problem.replace("character '\\t' that", "a tab, which")
    for words, hint in _SYNTAX_HINTS:
        if words in problem or words in context:
            return readable, hint
    return readable, None
