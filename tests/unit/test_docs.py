"""The documentation stays true to the code: every error code is documented, none is
invented, and the worked example of the SOP language is a valid SOP.

Error codes are found the way one would grep for them: string literals passed as
``code=`` or assigned to a ``code`` class attribute, the code argument of the calls that
build issues and rejections (``SopIssue``, ``source.issue``, ``self.add``, ``self.fail``,
``self.ref``, ``Unmet``, ``FieldError``, ``Break``, ``self._break``, ``_Bad``,
``PydanticCustomError``), and the two literals of a ``kind = "a" if ... else "b"``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sopflow.sop_files import check_file

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("sopflow", "states", "workflows", "notifications")
ERRORS_DOC = ROOT / "docs" / "errors.md"
LANGUAGE_DOC = ROOT / "docs" / "sop-language.md"

CODE = r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*"
# one simple argument before the code: a name, an attribute, a slice, a tuple, a string
ARG = r"(?:\([^()]*\)|f?\"[^\"]*\"|[\w.\[\]:*-]+)"
PATTERNS = [
    # code="x" (keyword), code = "x" and code: str = "x" (class attributes)
    rf'\bcode\s*(?::\s*\w+\s*)?=\s*"({CODE})"',
    # the code is the first argument
    rf'\b(?:SopIssue|Unmet|Break|_Bad|PydanticCustomError|self\._break)\(\s*"({CODE})"',
    # the code is the second argument, after a path, node or field name
    rf"(?:\bsource\.issue|\badd|\bself\.fail|\bFieldError)\(\s*{ARG}\s*,\s*\"({CODE})\"",
    # self.ref(path, value, known, code, what)
    rf'\bself\.ref\(\s*{ARG}\s*,\s*{ARG}\s*,\s*{ARG}\s*,\s*"({CODE})"',
    # problems.append(("event-altered", ...)) in the chain verifier
    rf'\bproblems\.append\(\s*\(\s*"({CODE})"',
    # kind = "event-missing" if ... else "event-reordered"
    rf'\bkind\s*=\s*\(?\s*"({CODE})"\s+if\s[^\n]*?\selse\s+"({CODE})"',
]


def source_codes() -> dict[str, str]:
    """Every error code the code base can emit -> the first file that emits it."""
    found: dict[str, str] = {}
    for package in SOURCES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern in PATTERNS:
                for match in re.finditer(pattern, text):
                    for code in filter(None, match.groups()):
                        found.setdefault(code, str(path.relative_to(ROOT)))
    return found


def documented_row_codes(text: str) -> set[str]:
    """Codes named in the first cell of a table row of docs/errors.md: | `code` | ..."""
    return set(re.findall(rf"^\|\s*`({CODE})`\s*\|", text, flags=re.MULTILINE))


def test_the_extraction_finds_codes_of_every_kind():
    codes = source_codes()

    # one of each way of emitting a code, so that a broken pattern is noticed
    for code in ("sop-invalid", "storage-error", "yaml-alias", "missing-key", "unknown-state",
                 "bad-rule-params", "sla-length", "rule-failed", "field-not-settable",
                 "event-reordered", "tail-missing", "malformed-json"):  # fmt: skip
        assert code in codes, code
    assert len(codes) > 80


def test_every_error_code_is_documented():
    text = ERRORS_DOC.read_text(encoding="utf-8")

    missing = {code: where for code, where in source_codes().items() if f"`{code}`" not in text}

    assert not missing, f"codes emitted but not in docs/errors.md: {missing}"


def test_no_documented_code_is_invented():
    text = ERRORS_DOC.read_text(encoding="utf-8")

    invented = documented_row_codes(text) - set(source_codes())

    assert not invented, f"docs/errors.md lists codes the code never emits: {sorted(invented)}"


def first_yaml_block(markdown: str) -> str:
    match = re.search(r"^```yaml[ \t]*\n(.*?)^```[ \t]*$", markdown, flags=re.MULTILINE | re.DOTALL)
    assert match, "no ```yaml block in docs/sop-language.md"
    return match.group(1)


def test_the_worked_example_is_a_valid_sop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = first_yaml_block(LANGUAGE_DOC.read_text(encoding="utf-8"))
    sop_id = re.search(r"^id:\s*(\S+)", text, flags=re.MULTILINE)
    version = re.search(r"^version:\s*(\d+)", text, flags=re.MULTILINE)
    assert sop_id and version, "the example has no top-level id or version"
    path = tmp_path / f"{sop_id.group(1)}.v{version.group(1)}.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    issues = check_file(path)

    assert [i.format() for i in issues] == []
