"""YAML text to data: every YAML trap is reported with its place, nothing is resolved quietly."""

from __future__ import annotations

from datetime import date

import pytest

from sopflow.spec import yamlsource
from sopflow.spec.yamlsource import MAX_BYTES, MAX_DEPTH, MAX_FLOW_DEPTH, parse_yaml


def parse(text: str):
    return parse_yaml(text, "f.yaml")


def located(issues) -> list[tuple[str, int, int]]:
    return [(i.code, i.line, i.column) for i in issues]


def test_plain_document_gives_data_and_positions_of_keys_and_values():
    data, source, issues = parse("id: x\nstates:\n  - {id: a}\n  - {id: b}\n")

    assert issues == []
    assert data == {"id": "x", "states": [{"id": "a"}, {"id": "b"}]}
    assert source.keys[("states",)] == (2, 1)
    assert source.values[("states", 1, "id")] == (4, 10)


def test_locate_falls_back_to_the_nearest_known_ancestor():
    _, source, _ = parse("a:\n  b: 1\n")

    assert source.locate(("a", "b", "missing", 3)) == (2, 6)
    assert source.locate(("nowhere",)) == (1, 1)


def test_scalars_resolve_with_yaml_1_2_types():
    data, _, issues = parse(
        "d: 2026-01-07\ni: 0x10\nu: 1_000\nn: ~\nf: 1.5\nb: true\ns: '2026-01-07'\n"
    )

    assert issues == []
    assert data == {
        "d": date(2026, 1, 7),
        "i": 16,
        "u": 1000,
        "n": None,
        "f": 1.5,
        "b": True,
        "s": "2026-01-07",
    }


def test_every_duplicate_key_is_reported_at_the_second_occurrence():
    data, _, issues = parse("a: 1\nb: 2\nnested:\n  c: 1\n  c: 2\na: 3\nb: 4\n")

    assert located(issues) == [
        ("duplicate-key", 5, 3),
        ("duplicate-key", 6, 1),
        ("duplicate-key", 7, 1),
    ]
    assert "first defined at line 1, column 1" in issues[1].message
    assert data == {"a": 1, "b": 2, "nested": {"c": 1}}  # the first value is kept


def test_anchor_and_alias_are_refused():
    data, _, issues = parse("a: &x 1\nb: *x\n")

    assert {i.code for i in issues} == {"yaml-alias"}
    assert all(i.severity == "error" for i in issues)
    assert data == {"a": None, "b": None}


def test_the_use_of_an_alias_is_reported_where_it_is_written():
    """BUG: both issues point at the anchor (1:4); the alias on line 2 is never located."""
    _, _, issues = parse("a: &x 1\nb: *x\n")

    assert sorted((i.line, i.column) for i in issues) == [(1, 4), (2, 4)]


def test_merge_key_is_refused():
    _, _, issues = parse("base: {a: 1}\nother:\n  <<: {a: 2}\n")

    assert located(issues) == [("yaml-alias", 3, 3)]


def test_billion_laughs_document_is_refused_without_expanding_it():
    rows = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        rows.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    data, _, issues = parse("\n".join(rows) + "\n")

    assert data == dict.fromkeys("abcdefghi")
    assert {i.code for i in issues} == {"yaml-alias"}
    assert len(issues) <= 9 * 9  # one per anchor or alias written, never one per expansion


@pytest.mark.parametrize("word", ["no", "yes", "on", "off", "No", "YES", "y", "n"])
def test_yaml11_boolean_words_are_warned_and_kept_as_text(word):
    data, _, issues = parse(f"note: {word}\n")

    assert data == {"note": word}
    assert located(issues) == [("yaml11-boolean", 1, 7)]
    assert issues[0].severity == "warning"
    assert issues[0].hint and "quote" in issues[0].hint


def test_quoted_yaml11_words_are_not_warned():
    _, _, issues = parse("a: 'no'\nb: \"yes\"\n")

    assert issues == []


def test_custom_tag_is_refused_with_its_place():
    _, _, issues = parse("a: 1\nb: !include other.yaml\n")

    assert located(issues) == [("yaml-value", 2, 4)]
    assert "!include" in issues[0].message


def test_not_finite_number_is_refused():
    _, _, issues = parse("a: .inf\nb: .nan\n")

    assert located(issues) == [("yaml-value", 1, 4), ("yaml-value", 2, 4)]


def test_impossible_date_is_refused():
    _, _, issues = parse("effective_from: 2026-13-01\n")

    assert located(issues) == [("yaml-value", 1, 17)]


def test_complex_key_is_refused():
    _, _, issues = parse("? [a, b]\n: 1\n")

    assert [i.code for i in issues] == ["yaml-key"]


def test_syntax_error_is_located():
    data, _, issues = parse("a: 1\nb: [1, 2\nc: 3\n")

    assert data is None
    assert [i.code for i in issues] == ["yaml-syntax"]
    assert issues[0].line == 3


def test_bad_indentation_is_a_located_syntax_error():
    _, _, issues = parse("a:\n  b: 1\n c: 2\n")

    assert located(issues) == [("yaml-syntax", 3, 2)]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n"])
def test_empty_file_is_reported(text):
    data, _, issues = parse(text)

    assert data is None
    assert located(issues) == [("yaml-empty", 1, 1)]


def test_document_marker_alone_is_reported_as_empty():
    """BUG: '---' composes to a null node; parse_yaml returns no data and no issue at all,
    so `sopflow sop validate` passes such a file with 0 errors."""
    data, _, issues = parse("---\n")

    assert data is None
    assert [i.code for i in issues] == ["yaml-empty"]


def test_too_deep_nesting_is_refused_at_the_place_it_gets_too_deep():
    depth = MAX_DEPTH + 5
    _, _, issues = parse("a: " + "[" * depth + "]" * depth + "\n")

    assert [i.code for i in issues] == ["yaml-too-deep"]
    assert issues[0].line == 1
    # brackets are refused before parsing, at the one that opens flow level 11
    assert issues[0].column == 3 + MAX_FLOW_DEPTH + 1


def test_very_deep_nesting_is_reported_as_too_deep_not_as_a_syntax_error():
    """BUG: past Python's recursion limit the composer's RecursionError is reported as
    'yaml-syntax: maximum recursion depth exceeded' at 1:1 instead of 'yaml-too-deep'."""
    _, _, issues = parse("a: " + "[" * 500 + "]" * 500 + "\n")

    assert [i.code for i in issues] == ["yaml-too-deep"]


def test_oversize_file_is_refused_before_parsing():
    data, _, issues = parse("a: '" + "x" * MAX_BYTES + "'\n")

    assert data is None
    assert located(issues) == [("yaml-too-large", 1, 1)]


def test_size_limit_counts_bytes_not_characters():
    text = "a: '" + "é" * (MAX_BYTES // 2 + 10) + "'\n"  # fewer characters than bytes
    assert len(text) < MAX_BYTES

    _, _, issues = parse(text)

    assert [i.code for i in issues] == ["yaml-too-large"]


def test_too_many_nodes_are_refused(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_NODES", 10)

    data, _, issues = parse("a: [" + ", ".join(["1"] * 20) + "]\n")

    assert data is None
    assert [i.code for i in issues] == ["yaml-too-large"]


def test_block_scalars_give_the_text_yaml_means_with_no_internal_markers():
    text = (
        "folded: >-\n  no fees to workers, transparent written\n  terms, no substitution\n"
        "literal: |-\n  line one\n  line two\n"
        'quoted: "a\\aB"\n'
    )
    data, _, issues = parse(text)

    assert issues == []
    assert data["folded"] == "no fees to workers, transparent written terms, no substitution"
    assert data["literal"] == "line one\nline two"
    assert data["quoted"] == "a\aB"  # an escape written on purpose is kept


@pytest.mark.parametrize(
    ("text", "message", "hint", "place"),
    [
        (
            "a:\n\tb: 1\n",
            "found a tab, which cannot start any token",
            "indent with spaces: YAML does not allow tabs for indentation",
            (2, 1),
        ),
        (
            "title: Note: read this\n",
            "mapping values are not allowed here",
            "quote a text that contains ': ', or check the indentation",
            (1, 12),
        ),
    ],
    ids=["tab", "colon-in-text"],
)
def test_common_syntax_errors_get_a_hint(text, message, hint, place):
    """BUG: the raw parser text, "found character '\\t' that cannot start any token"."""
    _, _, issues = parse(text)

    assert [(i.code, i.message, i.hint) for i in issues] == [("yaml-syntax", message, hint)]
    assert (issues[0].line, issues[0].column) == place


@pytest.mark.parametrize(
    ("text", "message", "place"),
    [
        ("a:\n  b: 1\n c: 2\n",
         "this line is indented differently from the keys around it (the block it breaks "
         "starts at line 1, column 1)", (3, 2)),
        ("a:\n  - x\n - y\n",
         "this line is indented differently from the list items around it (the block it "
         "breaks starts at line 1, column 1)", (3, 2)),
        ("a:\n  - x\n  b: 1\n",
         "a key in the column of the items of the list that starts at line 2, column 3: a "
         "list cannot also hold keys", (3, 3)),
        ("a:\n  b: 1\n  - x\n",
         "a list item ('- ') in the column of the keys of the mapping that starts at line 2, "
         "column 3: a mapping cannot also hold list items", (3, 3)),
        ("a: 'x\nb: 2\n", "the quote opened at line 1, column 4 is never closed", (3, 1)),
        ("a: [1, 2\nb: 3\n",
         "the '[' opened at line 1, column 4 is not closed before this point", (2, 2)),
    ],
    ids=["key", "item", "key-among-items", "item-among-keys", "quote", "bracket"],
)  # fmt: skip
def test_broken_indentation_and_unclosed_quotes_are_said_in_plain_words(text, message, place):
    """BUG: the parser's own words, "expected <block end>, but found '?'"."""
    _, _, issues = parse(text)

    assert [(i.code, i.message) for i in issues] == [("yaml-syntax", message)]
    assert issues[0].hint
    assert (issues[0].line, issues[0].column) == place
