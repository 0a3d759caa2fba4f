"""Working-day deadline arithmetic in an SOP's calendar.

A deadline of N working days ends at the end of the N-th working day after the day the
request entered the state (local time of the SOP's time zone), skipping the SOP's weekend
(Egypt: Friday-Saturday, Tunisia: Saturday-Sunday), the public holidays of its country
(from the ``holidays`` package, less the days the SOP says are no longer observed) and
any extra days off the SOP lists. A deadline in hours
is elapsed time. Times in and out are timezone-aware; they are compared in UTC.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays as holiday_calendars

from sopflow.spec.models import Calendar, Sla

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_SCAN_DAYS = 5 * 366  # a guard: no calendar is all holidays, but never loop forever


class WorkingCalendar:
    def __init__(self, calendar: Calendar) -> None:
        self.zone = zoneinfo.ZoneInfo(calendar.timezone)
        self.weekend = frozenset(WEEKDAYS.index(d) for d in calendar.weekend)
        self.country = calendar.holidays
        self.extra = frozenset(calendar.extra_holidays)
        self.working_days_off = frozenset(calendar.working_days_off)
        self.not_holidays = frozenset(calendar.not_holidays)

    def holiday_name(self, day: date) -> str | None:
        if day in self.extra:
            return "holiday (SOP calendar)"
        if self.country and day not in self.not_holidays:
            names = _holidays(self.country, day.year)
            return names.get(day)
        return None

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days_off:
            return False
        return day.weekday() not in self.weekend and self.holiday_name(day) is None

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """End (23:59:59.999999 local) of the ``days``-th working day after ``start``'s day."""
        _aware(start)
        day = start.astimezone(self.zone).date()
        counted = 0
        for _ in range(MAX_SCAN_DAYS):
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    end = datetime.combine(day, time.max, tzinfo=self.zone)
                    return end.astimezone(UTC)
        raise ValueError(f"no {days} working days within {MAX_SCAN_DAYS} days")

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after ``start``'s day up to and including ``end``'s day."""
        first = _aware(start).astimezone(self.zone).date()
        last = _aware(end).astimezone(self.zone).date()
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count

    def deadline(self, entered_at: datetime, sla: Sla) -> datetime:
        if sla.working_days is not None:
            return self.add_working_days(entered_at, sla.working_days)
        assert sla.hours is not None
        return _aware(entered_at).astimezone(UTC) + timedelta(hours=sla.hours)

    def local_date(self, moment: datetime) -> date:
        return _aware(moment).astimezone(self.zone).date()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    return moment


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> dict[date, str]:
    return dict(holiday_calendars.country_holidays(country, years=year).items())
