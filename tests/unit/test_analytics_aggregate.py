"""Percentiles and small-cell suppression: the pure helpers every table rests on."""

from __future__ import annotations

import itertools
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sopflow.analytics.aggregate import Distribution, percentile, share, suppress

values = st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=1,
                  max_size=60)  # fmt: skip


@given(values)
def test_the_median_is_the_textbook_median(data: list[float]) -> None:
    assert percentile(sorted(data), 0.5) == pytest.approx(statistics.median(data))


@given(st.lists(st.floats(min_value=0, max_value=10_000, allow_nan=False), min_size=2,
                max_size=60))  # fmt: skip
def test_the_90th_percentile_interpolates_between_ranks_as_spreadsheets_do(data: list[float]):
    # statistics.quantiles(method="inclusive") is Hyndman-Fan type 7, as PERCENTILE in
    # spreadsheets and numpy's default
    expected = statistics.quantiles(data, n=10, method="inclusive")[8]

    assert percentile(sorted(data), 0.9) == pytest.approx(expected)


def test_percentiles_of_small_samples() -> None:
    assert percentile([], 0.5) is None
    assert percentile([4.0], 0.9) == 4.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9) == pytest.approx(
        9.1
    )


def test_a_distribution_summarises_its_values() -> None:
    dist = Distribution([3.0, 1.0, 2.0, 10.0])

    assert dist.summary() == {"median_days": 2.5, "p90_days": pytest.approx(7.9),
                              "mean_days": 4.0, "max_days": 10.0}  # fmt: skip
    assert Distribution().summary()["median_days"] is None


def test_a_share_of_nothing_is_unknown_not_zero() -> None:
    assert share(1, 4) == 25.0
    assert share(0, 0) is None


# -- suppression -------------------------------------------------------------------------
def test_a_lone_small_cell_takes_the_next_smallest_with_it() -> None:
    keys = [("a",), ("b",), ("c",), ("d",)]
    counts = [2, 40, 7, 30]

    hidden = suppress(keys, counts, 5)

    # with the total published, hiding 'a' alone would let 2 = total - 40 - 7 - 30
    assert hidden == {0, 2}


def test_hidden_cells_must_together_reach_the_threshold() -> None:
    keys = [("a",), ("b",), ("c",), ("d",)]

    assert suppress(keys, [1, 1, 9, 30], 5) == {0, 1, 2}


def test_no_suppression_when_every_cell_is_large_enough_or_the_threshold_is_off() -> None:
    keys = [("a",), ("b",)]

    assert suppress(keys, [5, 9], 5) == set()
    assert suppress(keys, [1, 9], 1) == set()
    assert suppress(keys, [0, 9], 0) == set()


def test_every_line_of_a_two_way_table_is_protected() -> None:
    # rows x columns: (m, x)=1 is small; its row and its column each lose another cell,
    # and then so do theirs: in a 2 x 2 table, one small cell hides them all
    keys = [("m", "x"), ("m", "y"), ("f", "x"), ("f", "y")]

    assert suppress(keys, [1, 20, 30, 40], 5) == {0, 1, 2, 3}
    # a 2 x 3 table keeps a visible column
    wide = [("m", "x"), ("m", "y"), ("m", "z"), ("f", "x"), ("f", "y"), ("f", "z")]
    assert suppress(wide, [1, 20, 50, 30, 40, 60], 5) == {0, 1, 3, 4}


def _lines(keys: list[tuple[str, ...]]) -> list[list[int]]:
    lines = [list(range(len(keys)))]
    width = len(keys[0])
    for dim in range(width if width > 1 else 0):
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(key[:dim] + key[dim + 1 :], []).append(i)
        lines += [g for g in groups.values() if len(g) > 1]
    return lines


tables = st.integers(min_value=1, max_value=3).flatmap(
    lambda width: st.dictionaries(
        st.tuples(*[st.sampled_from("abcd")] * width), st.integers(1, 40), min_size=1,
        max_size=30,
    )
)  # fmt: skip


@settings(max_examples=300)
@given(tables, st.integers(min_value=2, max_value=12))
def test_no_small_count_is_published_or_recoverable_from_a_total(cells, k) -> None:
    keys = sorted(cells)
    counts = [cells[key] for key in keys]

    hidden = suppress(keys, counts, k)

    # primary: nothing under k is shown
    assert all(i in hidden for i, c in enumerate(counts) if c < k)
    # complementary: along each line (whose total may be published) the hidden cells are
    # none, or at least two that together reach k, or the whole line
    for line in _lines(keys):
        inside = [i for i in line if i in hidden]
        if inside and len(inside) < len(line):
            assert len(inside) >= 2 and sum(counts[i] for i in inside) >= k


def test_already_hidden_cells_count_as_hidden() -> None:
    keys = [(c,) for c in "abcd"]

    assert suppress(keys, [9, 9, 9, 9], 5, hidden={1}) == {0, 1}


def test_the_recount_of_lines_sees_every_pair() -> None:
    keys = [tuple(p) for p in itertools.product("ab", "xy")]

    assert sorted(map(sorted, _lines(keys))) == [[0, 1], [0, 1, 2, 3], [0, 2], [1, 3], [2, 3]]
