"""The catalogue of error codes (sopflow/web/errors.yaml, served where a problem's ``type``
points) holds exactly the codes a problem can carry, each in English, French and Arabic,
with the statuses the API answers it with.

The codes are read from the source with ``ast``, as the API gets them: the ``code`` class
attribute of every subclass of ``SopflowError`` (wherever it is defined), a literal
``code=`` given to the constructor of one, and the code argument of every call of the app's
``problem`` (a literal, or a name assigned in the same function: its literals). A code that
comes from anywhere else (a name passed through) is listed in PASSED_THROUGH, so that a new
way of making one is looked at rather than missed.
"""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sopflow.errors import AdapterError, CommandRejected
from sopflow.web import app
from sopflow.web.problem_types import CATALOGUE, TEXTS
from sopflow.web.refusals import status_of

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("sopflow", "states", "workflows", "notifications")
LANGS = ("en", "fr", "ar")
# where a code is a value handed on, not made: (file, the expression given as the code)
PASSED_THROUGH = {
    ("sopflow/web/app.py", "exc.code"),  # a SopflowError's, made where it is raised
    ("workflows/client.py", "code"),  # a flow run's refusal, rebuilt with its code
    ("workflows/client.py", "exc.code"),  # the same error, said again with its key
}
# the position of the code among problem()'s arguments, whatever comes before it
CODE_AT = list(inspect.signature(app.problem).parameters).index("code")


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _own(scope: ast.AST) -> Iterator[ast.AST]:
    """The nodes of ``scope`` (a module or a function) outside the functions it defines,
    which are scopes of their own."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, FUNCTIONS):
            todo.extend(ast.iter_child_nodes(node))


def _literals(node: ast.AST) -> set[str]:
    """The strings written in ``node`` that look like codes (``{404: "not-found"}.get(...)``)."""
    texts = (n.value for n in ast.walk(node) if isinstance(n, ast.Constant))
    return {t for t in texts if isinstance(t, str) and re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", t)}


def _retry(call: ast.Call) -> str:
    """How an adapter error is raised: ``=True``, ``=False``, ``=?`` (known when it runs), or
    nothing (not said: not retryable)."""
    given = [k.value for k in call.keywords if k.arg == "retryable"]
    if not given:
        return ""
    return f"={given[0].value}" if isinstance(given[0], ast.Constant) else "=?"


def _derived(trees: Iterable[ast.Module], root: str) -> set[str]:
    """The names of ``root`` and of every class derived from it, in any module."""
    bases: dict[str, set[str]] = {}
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.ClassDef):
            bases.setdefault(node.name, set()).update(filter(None, map(_name, node.bases)))
    found = {root}
    while more := {name for name, of in bases.items() if of & found} - found:
        found |= more
    return found


class Emitted:
    """Every code the code base can put in a problem, and how: ``codes`` maps each to the
    error classes it is raised as (``AdapterError=True``: retryable) and ``problem:STATUS``
    for a problem made directly; ``passed``: codes handed on, (file, expression)."""

    def __init__(self) -> None:
        files = [p for package in SOURCES for p in sorted((ROOT / package).rglob("*.py"))]
        trees = {str(p.relative_to(ROOT)): ast.parse(p.read_text("utf-8")) for p in files}
        self.errors = _derived(trees.values(), "SopflowError")
        self.adapters = _derived(trees.values(), "AdapterError")
        self.codes: dict[str, set[str]] = {}
        self.passed: set[tuple[str, str]] = set()
        for path, tree in trees.items():
            for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, FUNCTIONS))]:
                for node in _own(scope):
                    self._read(path, scope, node)

    def _given(self, path: str, scope: ast.AST, value: ast.expr, how: str) -> None:
        """The code(s) ``value`` gives: a literal, or a name assigned in ``scope``."""
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            self.codes.setdefault(value.value, set()).add(how)
            return
        named = [value.id] if isinstance(value, ast.Name) else None  # an attribute: handed on
        assigned = [n.value for n in _own(scope) if isinstance(n, ast.Assign)
                    and [_name(t) for t in n.targets] == named]  # fmt: skip
        for code in (c for source in assigned for c in _literals(source)):
            self.codes.setdefault(code, set()).add(how)
        if not assigned:
            self.passed.add((path, ast.unparse(value)))

    def _read(self, path: str, scope: ast.AST, node: ast.AST) -> None:
        if isinstance(node, ast.ClassDef) and node.name in self.errors:
            for item in node.body:  # code = "x", code: str = "x"
                if isinstance(item, ast.Assign | ast.AnnAssign) and item.value is not None:
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    if [_name(t) for t in targets] == ["code"]:
                        self._given(path, node, item.value, node.name)
        elif isinstance(node, ast.Call) and _name(node.func) in self.errors:
            for keyword in (k for k in node.keywords if k.arg == "code"):
                self._given(path, scope, keyword.value, f"{_name(node.func)}{_retry(node)}")
        elif isinstance(node, ast.Call) and _name(node.func) == "problem":
            given = [k.value for k in node.keywords if k.arg == "code"]
            given += node.args[CODE_AT : CODE_AT + 1]
            status = node.args[CODE_AT - 1] if len(node.args) >= CODE_AT else None
            how = f"problem:{status.value}" if isinstance(status, ast.Constant) else "problem"
            for value in given:
                self._given(path, scope, value, how)


EMITTED = Emitted()


def test_the_reading_finds_a_code_of_every_kind() -> None:
    codes = EMITTED.codes

    # one of each way of making one, so that a reading that breaks is noticed
    assert "CommandRejected" in codes["command-rejected"]  # a class attribute (errors.py)
    assert "Unauthorized" in codes["unauthorized"]  # of a class of another module (web/api.py)
    assert "DeliveryFailed" in codes["delivery-failed"]  # a grandchild (domain/ports.py)
    assert "AdapterError" in codes["database-full"]  # code= given to the constructor
    assert "problem:415" in codes["unsupported-media-type"]  # problem(..., code=...)
    assert "problem:413" in codes["body-too-large"]  # self.problem(...) in a middleware
    assert {"not-found", "method-not-allowed", "http-error"} <= set(codes)  # a name assigned
    assert len(codes) > 30


def test_a_code_handed_on_comes_only_from_where_it_is_known_to() -> None:
    assert EMITTED.passed == PASSED_THROUGH


def test_every_code_a_problem_can_carry_is_in_the_catalogue() -> None:
    missing = sorted(set(EMITTED.codes) - set(CATALOGUE))

    assert not missing, f"codes with no entry in sopflow/web/errors.yaml: {missing}"


def test_no_entry_of_the_catalogue_is_orphaned() -> None:
    orphaned = sorted(set(CATALOGUE) - set(EMITTED.codes))

    assert not orphaned, f"entries of sopflow/web/errors.yaml no code emits: {orphaned}"


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_each_code_is_documented_in_three_languages(code: str) -> None:
    entry = CATALOGUE[code]

    assert set(entry) == {"status", *LANGS}
    assert all(isinstance(s, int) and 400 <= s < 600 for s in entry["status"])
    for lang in LANGS:
        assert set(entry[lang]) == set(TEXTS), (code, lang)
        assert all(str(entry[lang][name]).strip() for name in TEXTS), (code, lang)
    # a header, a setting or a command is written the same in every language
    english = [_names(entry["en"][name]) for name in TEXTS]
    for lang in ("fr", "ar"):
        assert [_names(entry[lang][name]) for name in TEXTS] == english, (code, lang)
    # the texts are translated, not copied (a title may be a proper name: the base code's)
    assert entry["ar"]["description"] != entry["en"]["description"]


def _names(text: Any) -> list[str]:
    return sorted(re.findall(r"`([^`]+)`", str(text)))


def test_the_statuses_are_those_the_api_answers_with() -> None:
    wrong = {}
    for code, hows in EMITTED.codes.items():
        answered = {status for how in hows for status in _statuses(how, code)}
        said = set(CATALOGUE.get(code, {}).get("status", ()))
        if not answered <= said:
            wrong[code] = (sorted(answered), sorted(said))

    assert not wrong, f"statuses answered, and the catalogue's: {wrong}"


def _statuses(how: str, code: str) -> set[int]:
    """The statuses the app answers ``code`` with, made as ``how`` says: by ``problem`` with a
    literal status; as an error of a class (``status_of``); an adapter error retryable as
    its ``retryable=`` says (``=?``: not known before it runs; a class's own code: either)."""
    if how.startswith("problem"):
        return {int(how.removeprefix("problem:"))} if ":" in how else set()
    kind, _, retry = how.partition("=")
    if kind not in EMITTED.adapters:
        return {status_of(CommandRejected("x", code=code))}
    retries = {"True": [True], "False": [False], "": [False]}.get(retry, [False, True])
    if how == kind and kind != "AdapterError":  # a class attribute: raised as its class says
        retries = [False, True]
    return {status_of(AdapterError("x", code=code, retryable=r)) for r in retries}


def test_docs_errors_md_gives_each_status_the_catalogue_does() -> None:
    text = (ROOT / "docs" / "errors.md").read_text("utf-8")
    rows = re.findall(r"^\| (\d{3}) \| (.*) \|$", text, flags=re.MULTILINE)
    assert rows, "no status table in docs/errors.md"

    wrong = [(status, code) for status, said in rows for code in re.findall(r"`([a-z-]+)`", said)
             if code in CATALOGUE and int(status) not in CATALOGUE[code]["status"]]  # fmt: skip

    assert not wrong, f"docs/errors.md gives these codes a status the catalogue does not: {wrong}"
