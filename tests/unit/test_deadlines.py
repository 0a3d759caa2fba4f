"""Working-day deadlines in an SOP's calendar: local weekends, public holidays, UTC out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sopflow.spec.models import Calendar, Sla
from states.deadlines import WorkingCalendar

EGYPT = WorkingCalendar(
    Calendar(timezone="Africa/Cairo", weekend=["friday", "saturday"], holidays="EG")
)
TUNISIA = WorkingCalendar(
    Calendar(timezone="Africa/Tunis", weekend=["saturday", "sunday"], holidays="TN")
)
END_OF_DAY = (23, 59, 59, 999_999)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def days(n: int) -> Sla:
    return Sla(working_days=n)


def test_weekends_differ_egypt_friday_saturday_tunisia_saturday_sunday():
    friday, saturday, sunday = date(2026, 2, 6), date(2026, 2, 7), date(2026, 2, 8)

    assert [EGYPT.is_working_day(d) for d in (friday, saturday, sunday)] == [False, False, True]
    assert [TUNISIA.is_working_day(d) for d in (friday, saturday, sunday)] == [True, False, False]


def test_public_holidays_are_not_working_days():
    assert not EGYPT.is_working_day(date(2026, 1, 7))  # Coptic Christmas, a Wednesday
    assert EGYPT.holiday_name(date(2026, 1, 7)) == "Coptic Christmas Day"
    assert not TUNISIA.is_working_day(date(2026, 3, 20))  # Independence Day, a Friday
    assert "Independence Day" in (TUNISIA.holiday_name(date(2026, 3, 20)) or "")
    assert TUNISIA.is_working_day(date(2026, 1, 7))  # not a Tunisian holiday


def test_a_deadline_after_a_weekday_skips_the_local_weekend():
    thursday = utc(2026, 2, 5, 8)

    # Egypt: Friday and Saturday are off, so one working day after Thursday is Sunday.
    assert EGYPT.deadline(thursday, days(1)) == utc(2026, 2, 8, 21, 59, 59, 999_999)
    # Tunisia: Friday is a working day.
    assert TUNISIA.deadline(thursday, days(1)) == utc(2026, 2, 6, 22, 59, 59, 999_999)


def test_egyptian_holiday_is_skipped():
    monday = utc(2026, 1, 5, 10)

    # Tue 6 (1), Wed 7 Coptic Christmas, Thu 8 (2), Fri-Sat weekend, Sun 11 (3).
    assert EGYPT.deadline(monday, days(3)) == utc(2026, 1, 11, 21, 59, 59, 999_999)


def test_tunisian_holiday_is_skipped():
    wednesday = utc(2026, 3, 18, 10)

    # Thu 19 (1), Fri 20 Independence Day, Sat-Sun weekend and Eid, Mon 23 (2).
    assert TUNISIA.deadline(wednesday, days(2)) == utc(2026, 3, 23, 22, 59, 59, 999_999)


def test_deadline_is_the_end_of_the_local_day_returned_in_utc():
    deadline = EGYPT.deadline(utc(2026, 2, 2, 9), days(2))

    assert deadline.tzinfo == UTC
    local = deadline.astimezone(EGYPT.zone)
    assert (local.hour, local.minute, local.second, local.microsecond) == END_OF_DAY
    assert local.date() == date(2026, 2, 4)


def test_the_counting_starts_from_the_local_day_not_the_utc_day():
    # 23:30 UTC on Monday 5 January is already Tuesday 6 in Cairo; the next working day
    # is Thursday 8 because Wednesday 7 is Coptic Christmas.
    late_monday = utc(2026, 1, 5, 23, 30)

    assert EGYPT.deadline(late_monday, days(1)) == utc(2026, 1, 8, 21, 59, 59, 999_999)
    assert EGYPT.local_date(late_monday) == date(2026, 1, 6)


def test_entering_on_a_day_off_counts_from_the_next_working_day():
    friday = utc(2026, 2, 6, 9)

    assert EGYPT.deadline(friday, days(1)) == utc(2026, 2, 8, 21, 59, 59, 999_999)


def test_hours_sla_is_elapsed_time_across_weekends_and_holidays():
    thursday = utc(2026, 1, 1, 10)  # New Year's Day in Tunisia, then a weekend

    assert TUNISIA.deadline(thursday, Sla(hours=48)) == thursday + timedelta(hours=48)


def test_aware_times_in_other_zones_are_accepted():
    from zoneinfo import ZoneInfo

    cairo_morning = datetime(2026, 2, 2, 9, tzinfo=ZoneInfo("Africa/Cairo"))

    assert EGYPT.deadline(cairo_morning, days(1)) == utc(2026, 2, 3, 21, 59, 59, 999_999)


def test_sop_extra_holidays_and_days_off_are_skipped():
    calendar = WorkingCalendar(
        Calendar(
            timezone="Africa/Cairo",
            weekend=["friday", "saturday"],
            holidays="EG",
            extra_holidays=[date(2026, 2, 3)],
            working_days_off=[date(2026, 2, 4)],
        )
    )

    assert calendar.holiday_name(date(2026, 2, 3)) == "holiday (SOP calendar)"
    assert calendar.deadline(utc(2026, 2, 2, 9), days(1)) == utc(2026, 2, 5, 21, 59, 59, 999_999)


def test_calendar_without_holidays_counts_weekdays_only():
    calendar = WorkingCalendar(Calendar(timezone="UTC", weekend=["saturday", "sunday"]))

    assert calendar.deadline(utc(2026, 1, 6, 9), days(1)) == utc(2026, 1, 7, 23, 59, 59, 999_999)


def test_working_days_between_counts_after_the_first_day_up_to_the_last():
    assert EGYPT.working_days_between(utc(2026, 1, 5, 9), utc(2026, 1, 11, 9)) == 3


@pytest.mark.parametrize(
    "call",
    [
        lambda: EGYPT.deadline(datetime(2026, 1, 5, 9), Sla(working_days=1)),
        lambda: EGYPT.deadline(datetime(2026, 1, 5, 9), Sla(hours=4)),
        lambda: EGYPT.local_date(datetime(2026, 1, 5, 9)),
        lambda: EGYPT.working_days_between(datetime(2026, 1, 5), utc(2026, 1, 6)),
    ],
)
def test_naive_datetimes_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


def test_a_calendar_with_no_working_day_does_not_loop_forever():
    calendar = WorkingCalendar(
        Calendar(
            timezone="UTC",
            weekend=["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"],
            working_days_off=[date(2026, 1, 4) + timedelta(weeks=w) for w in range(300)],
        )
    )

    with pytest.raises(ValueError, match="no 1 working days"):
        calendar.deadline(utc(2026, 1, 1, 9), days(1))


def test_a_holiday_the_country_no_longer_observes_can_be_dropped():
    """Tunisia observes Revolution Day on 17 December since 2021; the package still gives
    14 January."""
    moved = WorkingCalendar(Calendar(timezone="Africa/Tunis", weekend=["saturday", "sunday"],
                                     holidays="TN", not_holidays=[date(2027, 1, 14)],
                                     extra_holidays=[date(2027, 12, 17)]))  # fmt: skip

    assert not TUNISIA.is_working_day(date(2027, 1, 14))
    assert moved.is_working_day(date(2027, 1, 14))
    assert not moved.is_working_day(date(2027, 12, 17))
    assert not moved.is_working_day(date(2027, 1, 1))  # the other holidays stay


def test_the_tunisian_sop_counts_revolution_day_on_17_december():
    from tests.factories import SHIPPED, compiled

    path = next(p for p in SHIPPED if p.name.startswith("tn-"))
    calendar = WorkingCalendar(compiled(path).spec.calendar)
    for year in range(2026, 2031):
        assert calendar.is_working_day(date(year, 1, 14)) == (date(year, 1, 14).weekday() < 5)
        assert not calendar.is_working_day(date(year, 12, 17))
