"""Hostile SOP files: billion laughs, deep nesting, huge files, Python tags, and
property-based YAML (random documents, shipped SOPs mutated as data and as text). The loader
answers every one with located issues (a ``SopDefinitionError`` when compiling), never
another exception, and within a bounded time: nothing hangs.

tests/unit/test_loader_fuzz.py fuzzes raw text; this adds structure-aware generation, the
classic attacks and a time bound on every input."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sopflow.errors import SopDefinitionError
from sopflow.spec.yamlsource import MAX_BYTES
from states.machine import check_sop, compile_sop
from tests.reliability.scale import SCALE, record, scaled

SHIPPED = sorted(Path("sop_definitions").glob("*.yaml"))
TEXTS = {p.name: p.read_text(encoding="utf-8") for p in SHIPPED}
BOUND = 20.0  # seconds: far above the worst case measured (~5 s at the size limit, loaded)
tried = {"inputs": 0}


class Hang(Exception):
    pass


@contextmanager
def answered_within(seconds: float) -> Iterator[None]:
    """Fail (instead of waiting for ever) if the block takes longer than ``seconds``."""

    def alarm(*_: Any) -> None:
        raise Hang(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused_cleanly(text: str, name: str = "hostile.v1.yaml") -> list[str]:
    """Check ``text`` as an SOP: located issues, a SopDefinitionError if unusable, in time.
    The issue codes."""
    tried["inputs"] += 1
    with answered_within(BOUND):
        parsed, issues = check_sop(text, name)
        for issue in issues:
            assert issue.code and issue.file == name, issue
            assert issue.line >= 1 and issue.column >= 1, issue
        if parsed.spec is None:
            assert any(i.severity == "error" for i in issues)
            with pytest.raises(SopDefinitionError) as caught:
                compile_sop(text, name)
            assert caught.value.issues
    return [i.code for i in issues]


def dump(data: Any) -> str:
    out = io.StringIO()
    YAML(typ="safe", pure=True).dump(data, out)
    return out.getvalue()


# -- the classic attacks ---------------------------------------------------------------
def test_a_billion_laughs_is_refused_at_its_anchors_without_expanding_them() -> None:
    lines = ['lol0: &lol0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 10):
        lines.append(f"lol{n}: &lol{n} [" + ", ".join([f"*lol{n - 1}"] * 9) + "]")
    started = time.monotonic()
    codes = refused_cleanly("\n".join(lines) + "\n")
    assert "yaml-alias" in codes and time.monotonic() - started < 5


def test_merge_keys_and_python_tags_are_refused() -> None:
    assert "yaml-alias" in refused_cleanly("base: &b {a: 1}\nother:\n  <<: *b\n")
    for tag in (
        "!!python/object/apply:os.system ['echo pwned']",
        "!!binary aGVsbG8=",
        "!custom 1",
        "!!python/name:builtins.eval ''",
    ):
        assert "yaml-value" in refused_cleanly(f"id: {tag}\n") or refused_cleanly(f"id: {tag}\n")


@pytest.mark.parametrize(
    ("shape", "text"),
    [
        ("flow-100k", "a: " + "[" * 100_000),
        ("flow-closed", "a: " + "[" * 5_000 + "]" * 5_000),
        ("mapping-flow", "{a: " * 60_000),
        ("block-45", "".join("  " * i + "k:\n" for i in range(45)) + "  " * 45 + "v\n"),
        ("block-list-45", "".join("  " * i + "-\n" for i in range(45))),
    ],
)
def test_deep_nesting_is_refused_quickly_at_the_place_it_gets_too_deep(
    shape: str, text: str
) -> None:
    started = time.monotonic()
    codes = refused_cleanly(text)
    assert "yaml-too-deep" in codes, (shape, codes)
    assert time.monotonic() - started < 5, shape


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "x" * (MAX_BYTES + 1),
        "\n" * (MAX_BYTES + 1),
        "".join(f"k{i}: v\n" for i in range(MAX_BYTES // 8)),
        "é" * (MAX_BYTES // 2 + 1),  # the limit counts bytes, not characters
    ],
    ids=["one-line", "blank-lines", "many-keys", "multibyte"],
)
def test_a_file_above_the_limit_is_refused_unread(text: str) -> None:
    assert len(text.encode()) > MAX_BYTES
    started = time.monotonic()
    assert refused_cleanly(text) == ["yaml-too-large"]
    assert time.monotonic() - started < 1


@pytest.mark.soak
def test_the_worst_files_under_the_limit_are_answered_in_bounded_time() -> None:
    under = MAX_BYTES - 100
    shapes = {
        "keys": "".join(f"k{i}: v\n" for i in range(under // 9)),
        "list": "x:\n" + "- a\n" * (under // 4 - 1),
        "flow": "x: [" + "a, " * (under // 3 - 2) + "]",
        "flow-nested-10": "x: " + "[" * 9 + "a, " * (under // 3 - 20) + "]" * 9,
        "anchors": "".join(f"k{i}: &a{i} v\n" for i in range(under // 14)),
    }
    shapes = {k: v[: v.rfind("\n", 0, under) + 1] or v[:under] for k, v in shapes.items()}
    if SCALE < 0.5:  # the short soak: one of the slowest shapes
        shapes = {k: v for k, v in shapes.items() if k == "flow-nested-10"}
    for shape, text in shapes.items():
        started = time.monotonic()
        refused_cleanly(text)  # bounded by BOUND inside
        record(
            "loader-worst-case",
            shape=shape,
            bytes=len(text),
            seconds=round(time.monotonic() - started, 2),
        )


# -- property-based ----------------------------------------------------------------------
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.dates(),
)
KEYS = st.one_of(
    st.sampled_from(
        [
            "id",
            "version",
            "title",
            "states",
            "transitions",
            "roles",
            "fields",
            "documents",
            "from",
            "to",
            "trigger",
            "requires",
            "sla",
            "notify",
            "en",
            "fr",
            "ar",
            "initial",
            "final",
        ]
    ),
    st.text(min_size=1, max_size=12),
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(KEYS, inner, max_size=6)),
    max_leaves=40,
)


def _mutate(data: Any, draw: st.DrawFn, depth: int = 0) -> Any:
    """Change the parsed SOP somewhere: drop a key, swap a value's type, empty a list."""
    if isinstance(data, dict) and data:
        key = draw(st.sampled_from(sorted(data, key=str)))
        action = draw(st.sampled_from(["drop", "replace", "descend", "rename"]))
        if action == "drop":
            return {k: v for k, v in data.items() if k != key}
        if action == "replace":
            return {**data, key: draw(DOCUMENTS)}
        if action == "rename":
            return {(draw(KEYS) if k == key else k): v for k, v in data.items()}
        return {**data, key: _mutate(data[key], draw, depth + 1)}
    if isinstance(data, list) and data:
        index = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["drop", "replace", "descend", "duplicate"]))
        if action == "drop":
            return data[:index] + data[index + 1 :]
        if action == "replace":
            return [*data[:index], draw(DOCUMENTS), *data[index + 1 :]]
        if action == "duplicate":
            return [*data, data[index]]
        return [*data[:index], _mutate(data[index], draw, depth + 1), *data[index + 1 :]]
    return draw(DOCUMENTS)


@st.composite
def mutated_sops(draw: st.DrawFn) -> str:
    text = TEXTS[draw(st.sampled_from(sorted(TEXTS)))]
    data = YAML(typ="safe", pure=True).load(text)
    for _ in range(draw(st.integers(1, 4))):
        data = _mutate(data, draw)
    return dump(data)


def _fuzz(examples: int) -> None:
    @settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(st.one_of(DOCUMENTS.map(dump), mutated_sops()))
    def check(text: str) -> None:
        refused_cleanly(text)

    check()


def test_random_yaml_documents_and_mutated_sops_give_located_issues_in_time() -> None:
    before = tried["inputs"]
    _fuzz(12)
    record("loader-fuzz", inputs=tried["inputs"] - before)


@pytest.mark.soak
def test_soak_random_yaml_documents_and_mutated_sops() -> None:
    before = tried["inputs"]
    _fuzz(scaled(150, 20))
    record("loader-fuzz-soak", inputs=tried["inputs"] - before)
