"""Hostile and malformed SOP text: whatever comes in, the loader answers with located issues
(a ``SopDefinitionError`` when compiling), never another exception and never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sopflow.errors import SopDefinitionError
from states.machine import check_sop, compile_sop

SHIPPED = [*sorted(Path("sop_definitions").glob("*.yaml")),
           Path("bench/peer-recruitment-approval.v1.yaml")]  # fmt: skip
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SHIPPED}
YAMLISH = st.text(alphabet=st.sampled_from(list("abc:-[]{}&*!|>'\"#\n \t01.,?%@`")), max_size=300)


def assert_clean(text: str) -> None:
    parsed, issues = check_sop(text, "fuzz.v1.yaml")
    for issue in issues:
        assert issue.code and issue.line >= 1 and issue.column >= 1 and issue.file
    if parsed.spec is None:
        assert any(i.severity == "error" for i in issues)
        with pytest.raises(SopDefinitionError):
            compile_sop(text, "fuzz.v1.yaml")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_text_gives_issues_not_exceptions(text: str) -> None:
    assert_clean(text)


@settings(max_examples=100, deadline=None)
@given(YAMLISH)
def test_yaml_punctuation_soup_gives_issues_not_exceptions(text: str) -> None:
    assert_clean(text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(TEXTS)), data=st.data())
def test_mutated_shipped_sops_give_issues_not_exceptions(name: str, data: st.DataObject) -> None:
    lines = TEXTS[name].splitlines()
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        action = data.draw(st.sampled_from(["drop", "duplicate", "indent", "dedent", "garble"]))
        if action == "drop":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "dedent":
            lines[index] = lines[index].lstrip()
        else:
            junk = data.draw(st.text(alphabet="abc:[]{}&*!'\"0-", min_size=1, max_size=5))
            position = data.draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:position] + junk + lines[index][position:]
    assert_clean("\n".join(lines) + "\n")


def test_a_huge_file_is_refused_without_parsing_it() -> None:
    parsed, issues = check_sop("a: " + "x" * 2_000_000 + "\n", "huge.v1.yaml")
    assert parsed.spec is None and [i.code for i in issues] == ["yaml-too-large"]
