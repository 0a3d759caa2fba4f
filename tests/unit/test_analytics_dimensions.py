"""Dimensions: period keys, age bands, ISCO-08 and ISIC Rev.4 groups, what an SOP does not
record, and the refusal of an unknown dimension."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopflow.analytics.dimensions import (
    PLACEMENT_DIMENSIONS,
    age_band,
    age_on,
    check_by,
    derive,
    missing_from,
    period_key,
)
from sopflow.analytics.labels import Labels
from sopflow.analytics.model import NOT_IN_SOP, NOT_RECORDED
from sopflow.analytics.stays import local_date
from sopflow.errors import InvalidData
from tests.factories import EG, TN, compiled
from tests.integration.world import eg_data, tn_data

EGYPT, TUNISIA = compiled(EG), compiled(TN)


@pytest.mark.parametrize(("day", "period", "key"), [
    (date(2026, 1, 1), "month", "2026-01"), (date(2026, 12, 31), "month", "2026-12"),
    (date(2026, 3, 31), "quarter", "2026-Q1"), (date(2026, 4, 1), "quarter", "2026-Q2"),
    (date(2026, 12, 31), "quarter", "2026-Q4"), (date(2026, 7, 9), "year", "2026"),
])  # fmt: skip
def test_period_keys_sort_in_time_order(day: date, period: str, key: str) -> None:
    assert period_key(day, period) == key  # type: ignore[arg-type]


@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2010, 12, 31)),
       st.dates(min_value=date(2011, 1, 1), max_value=date(2040, 12, 31)))  # fmt: skip
def test_age_is_completed_years(birth: date, day: date) -> None:
    age = age_on(birth, day)

    # the last birthday is on or before the day, the next one after it
    def birthday(year: int) -> date:
        return date(year, 3, 1) if (birth.month, birth.day) == (2, 29) and year % 4 else \
            birth.replace(year=year)  # fmt: skip

    assert birthday(birth.year + age) <= day < birthday(birth.year + age + 1)


@pytest.mark.parametrize(("age", "band"), [(14, "<15"), (15, "15-24"), (24, "15-24"),
                                           (25, "25-34"), (54, "45-54"), (64, "55-64"),
                                           (65, "65+"), (90, "65+")])  # fmt: skip
def test_age_bands_are_the_ilo_ten_year_bands(age: int, band: str) -> None:
    assert age_band(age) == band


def test_the_age_is_taken_on_the_date_that_places_the_request() -> None:
    data = tn_data(birth_date="1991-06-15")

    assert derive(TUNISIA, data, "age_band", date(2026, 6, 14)) == "25-34"
    assert derive(TUNISIA, data, "age_band", date(2026, 6, 15)) == "35-44"


def test_occupation_and_industry_are_grouped_by_their_classifications() -> None:
    data = eg_data(occupation="7112", industry="41")

    assert derive(EGYPT, data, "occupation_major", date(2026, 1, 1)) == "7"
    assert derive(EGYPT, data, "occupation_unit", date(2026, 1, 1)) == "7112"
    assert derive(EGYPT, data, "industry_section", date(2026, 1, 1)) == "F"  # construction
    coarse = eg_data(occupation="71", industry="C")
    assert derive(EGYPT, coarse, "occupation_unit", date(2026, 1, 1)) == "not coded to unit group"
    assert derive(EGYPT, coarse, "industry_section", date(2026, 1, 1)) == "C"


def test_what_an_sop_does_not_map_is_not_recorded_by_it_and_never_guessed() -> None:
    # the Egyptian SOP is a job order for many workers: no sex, no birth date
    eg = eg_data()

    assert derive(EGYPT, eg, "sex", date(2026, 1, 1)) == NOT_IN_SOP
    assert derive(EGYPT, eg, "age_band", date(2026, 1, 1)) == NOT_IN_SOP
    assert derive(EGYPT, eg, "destination_country", date(2026, 1, 1)) == "SA"
    # the Tunisian SOP records the worker, but no destination (nor origin) field
    assert derive(TUNISIA, tn_data(), "destination_country", date(2026, 1, 1)) == NOT_IN_SOP
    assert derive(TUNISIA, tn_data(), "citizenship", date(2026, 1, 1)) == "SN"
    assert missing_from(EGYPT, ["sex", "age_band", "occupation_unit", "period"]) == [
        "sex",
        "age_band",
    ]
    assert missing_from(TUNISIA, ["destination_country", "sex"]) == ["destination_country"]


def test_a_mapped_field_without_a_value_is_not_recorded() -> None:
    data = tn_data()
    del data["sex"], data["birth_date"]

    assert derive(TUNISIA, data, "sex", date(2026, 1, 1)) == NOT_RECORDED
    assert derive(TUNISIA, data, "age_band", date(2026, 1, 1)) == NOT_RECORDED


def test_an_unknown_dimension_is_refused_with_the_allowed_ones_listed() -> None:
    with pytest.raises(InvalidData) as refused:
        check_by(["sex", "agee_band", "colour"], PLACEMENT_DIMENSIONS, "placements")

    errors = refused.value.errors
    assert [e.code for e in errors] == ["unknown-dimension", "unknown-dimension"]
    assert "'agee_band' is not a dimension of placements (did you mean 'age_band'?)" in \
        errors[0].message  # fmt: skip
    assert "allowed: period, sop, outcome, organisation" in errors[1].message
    # named by the query's parameter, with what a page needs to say it in its language
    assert [e.field for e in errors] == ["by", "by"]
    assert errors[0].params == {"value": "agee_band", "table": "placements", "closest": "age_band",
                                "allowed": list(PLACEMENT_DIMENSIONS)}  # fmt: skip
    assert check_by(["sex", "sex", "period"], PLACEMENT_DIMENSIONS, "x") == ("sex", "period")


def test_local_dates_follow_the_sops_time_zone_to_the_minute() -> None:
    # Cairo is UTC+2 in winter: 21:59 UTC is still 23:59 on the 1st, 22:00 is the 2nd
    assert local_date(EGYPT, datetime(2026, 1, 1, 21, 59, tzinfo=UTC)) == date(2026, 1, 1)
    assert local_date(EGYPT, datetime(2026, 1, 1, 22, 0, tzinfo=UTC)) == date(2026, 1, 2)
    assert local_date(TUNISIA, datetime(2026, 1, 1, 22, 59, tzinfo=UTC)) == date(2026, 1, 1)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
                    timezones=st.just(UTC)))  # fmt: skip
def test_the_memoised_local_date_equals_a_time_zone_conversion(moment: datetime) -> None:
    for sop in (EGYPT, TUNISIA):
        assert local_date(sop, moment) == sop.calendar.local_date(moment)
        assert local_date(sop, moment + timedelta(hours=5)) == sop.calendar.local_date(
            moment + timedelta(hours=5))  # fmt: skip


def test_labels_come_from_the_sops_and_the_classifications() -> None:
    labels = Labels([EGYPT, TUNISIA])

    assert labels("stage", "attestation_review", "fr") == "Légalisation de la demande"
    assert labels("sex", "female", "ar") == "أنثى"
    assert labels("occupation_major", "7", "en") == "Craft and related trades workers"
    assert labels("industry_section", "F", "en") == "Construction"
    assert labels("destination_country", "SA", "en") == "Saudi Arabia"
    assert labels("outcome", "approved", "fr") == "approuvée"
    assert labels("sex", NOT_IN_SOP, "fr") == "non relevé par cette procédure"
    assert labels("organisation", "approved", "en") == "approved"  # no vocabulary there


@pytest.mark.parametrize("day", [datetime(2026, 4, 23, tzinfo=UTC), datetime(2026, 10, 29,
                                                                          tzinfo=UTC)])  # fmt: skip
def test_local_dates_are_exact_on_the_days_cairo_changes_its_clocks(day: datetime) -> None:
    # Egypt's summer time starts 2026-04-24 00:00 local (22:00 UTC on the 23rd) and ends
    # 2026-10-30 00:00 local (21:00 UTC on the 29th)
    for minutes in range(0, 48 * 60, 5):
        moment = day + timedelta(minutes=minutes)
        assert local_date(EGYPT, moment) == EGYPT.calendar.local_date(moment), moment
