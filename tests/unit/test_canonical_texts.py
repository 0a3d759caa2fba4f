"""The texts the hashes cover and the store keeps: a time in UTC and canonical JSON.

Both are computed on every step, so ``sopflow.domain.chain`` builds them its own faster way
(the moment's text remembered, the C encoder kept). They must stay exactly the texts the
standard library gives: every stored hash was computed over them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.domain.chain import canonical_json, canonical_time, utc_text

_reference_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"),
                                   ensure_ascii=False).encode  # fmt: skip

zones = st.builds(lambda minutes: timezone(timedelta(minutes=minutes)),
                  st.integers(-23 * 60, 23 * 60))  # fmt: skip
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30),
                       timezones=st.one_of(st.just(UTC), zones))  # fmt: skip


@given(moments)
def test_a_time_is_the_text_of_its_utc_instant(moment: datetime) -> None:
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    assert utc_text(moment) == utc.isoformat(" ", "microseconds")
    assert canonical_time(moment) == utc.isoformat("T", "microseconds") + "Z"


def test_a_moment_written_again_gives_its_own_text_not_the_last_ones() -> None:
    first = datetime(2026, 12, 7, 22, 0, 0, 1, tzinfo=UTC)
    second = datetime(2026, 12, 7, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    third = datetime(2026, 1, 1, tzinfo=UTC)
    # equal instants, other objects; the remembered ones are looked up by identity
    same_as_first = datetime(2026, 12, 8, 1, 0, 0, 1, tzinfo=timezone(timedelta(hours=3)))
    for _ in range(2):
        assert utc_text(first) == "2026-12-07 22:00:00.000001"
        assert utc_text(second) == "2026-12-07 22:30:00.000000"
        assert utc_text(third) == "2026-01-01 00:00:00.000000"
        assert utc_text(same_as_first) == "2026-12-07 22:00:00.000001"
        assert canonical_time(second) == "2026-12-07T22:30:00.000000Z"


def test_a_time_without_a_zone_is_no_event_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        canonical_time(datetime(2026, 12, 7, 22, 0))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(json_values)
def test_canonical_json_is_the_standard_encoders_text(value: Any) -> None:
    assert canonical_json(value) == _reference_json(value)


def test_canonical_json_refuses_what_json_cannot_hold_as_the_standard_encoder_does() -> None:
    with pytest.raises(TypeError, match="Object of type object is not JSON serializable"):
        canonical_json({"a": object()})
    assert canonical_json(float("nan")) == "NaN" == _reference_json(float("nan"))
