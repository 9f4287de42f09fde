"""Calendar periods local to a time zone: the bounds tile the range, and each bucket is one whole local period."""

from __future__ import annotations

import itertools
from collections.abc import Hashable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.domain.errors import InvalidArgument
from server.domain.limits import SUMMARY_BUCKETS_MAX
from server.domain.periods import Period, bucket_bounds

# Zones with daylight saving (Berlin, New York, Lord Howe's half hour, Santiago in the south, Havana at
# midnight), with half and three-quarter hour offsets (Kolkata, Kathmandu), and without any (UTC).
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Asia/Kolkata",
    "Asia/Kathmandu",
]
_MICROSECOND = timedelta(microseconds=1)
# How long a range each period is tested over, so that examples stay quick.
_SPANS = {Period.HOUR: timedelta(days=3), Period.DAY: timedelta(days=60), Period.WEEK: timedelta(days=200)}


def _key(instant: datetime, period: Period, zone: ZoneInfo) -> Hashable:
    """Which local period `instant` falls in (a repeated local hour is a period of its own)."""
    local = instant.astimezone(zone)
    if period is Period.HOUR:
        return local.replace(minute=0, second=0, microsecond=0, tzinfo=None), local.fold
    if period is Period.DAY:
        return local.date()
    if period is Period.WEEK:
        return local.isocalendar()[:2]
    return local.year, local.month


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    period=st.sampled_from([Period.HOUR, Period.DAY, Period.WEEK, Period.MONTH]),
    start=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)),
    fraction=st.floats(min_value=0.0001, max_value=1.0),
)
def test_bounds_tile_the_range_and_each_bucket_is_exactly_one_local_period(
    zone_name: str, period: Period, start: datetime, fraction: float
) -> None:
    zone = ZoneInfo(zone_name)
    span = _SPANS.get(period, timedelta(days=900))
    end = start + max(_MICROSECOND, span * fraction)
    bounds = bucket_bounds(start, end, period, zone)
    assert bounds[0] == start and bounds[-1] == end
    assert all(a < b for a, b in itertools.pairwise(bounds))
    for bucket_start, bucket_end in itertools.pairwise(bounds):
        # Nothing inside a bucket starts another period...
        assert _key(bucket_start, period, zone) == _key(bucket_end - _MICROSECOND, period, zone)
    for cut in bounds[1:-1]:
        # ...and every cut does.
        assert _key(cut - _MICROSECOND, period, zone) != _key(cut, period, zone)


def _hours(bounds: list[datetime]) -> list[float]:
    return [(b - a) / timedelta(hours=1) for a, b in itertools.pairwise(bounds)]


def test_days_in_berlin_last_23_hours_in_spring_and_25_in_autumn() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    spring = bucket_bounds(utc(2025, 3, 28, 23), utc(2025, 4, 1, 22), Period.DAY, berlin)
    assert _hours(spring) == [24, 23, 24, 24]
    autumn = bucket_bounds(utc(2025, 10, 24, 22), utc(2025, 10, 27, 23), Period.DAY, berlin)
    assert _hours(autumn) == [24, 25, 24]
    assert autumn[2] == utc(2025, 10, 26, 23)  # midnight of 27 October, back on CET


def test_the_autumn_day_in_berlin_has_25_hours_one_of_them_repeated() -> None:
    bounds = bucket_bounds(utc(2025, 10, 25, 22), utc(2025, 10, 26, 23), Period.HOUR, ZoneInfo("Europe/Berlin"))
    assert len(bounds) - 1 == 25
    assert bounds[2:4] == [utc(2025, 10, 26, 0), utc(2025, 10, 26, 1)]  # 02:00 CEST, then 02:00 CET


def test_lord_howes_repeated_half_hour_in_april_is_a_bucket_of_its_own() -> None:
    # On 7 April 2024 Lord Howe's clocks went back from 02:00 (+11:00) to 01:30 (+10:30).
    lord_howe = ZoneInfo("Australia/Lord_Howe")
    bounds = bucket_bounds(utc(2024, 4, 6, 13), utc(2024, 4, 6, 17), Period.HOUR, lord_howe)
    assert bounds == [
        utc(2024, 4, 6, 13),  # 00:00 +11:00
        utc(2024, 4, 6, 14),  # 01:00 +11:00: the first 01:00-02:00, a whole hour
        utc(2024, 4, 6, 15),  # 01:30 +10:30: the repeated half hour
        utc(2024, 4, 6, 15, 30),  # 02:00 +10:30
        utc(2024, 4, 6, 16, 30),  # 03:00 +10:30
        utc(2024, 4, 6, 17),
    ]
    assert _hours(bounds) == [1, 1, 0.5, 1, 0.5]
    assert [b.astimezone(lord_howe).fold for b in bounds[1:4]] == [0, 1, 0]


def test_lord_howes_skipped_half_hour_in_october_makes_a_half_hour_bucket() -> None:
    # On 6 October 2024 its clocks went forward from 02:00 (+10:30) to 02:30 (+11:00).
    bounds = bucket_bounds(utc(2024, 10, 5, 14, 30), utc(2024, 10, 5, 17), Period.HOUR, ZoneInfo("Australia/Lord_Howe"))
    assert _hours(bounds) == [1, 0.5, 1]


def test_the_spring_day_in_new_york_has_23_hours() -> None:
    bounds = bucket_bounds(utc(2025, 3, 9, 5), utc(2025, 3, 10, 4), Period.HOUR, ZoneInfo("America/New_York"))
    assert len(bounds) - 1 == 23
    assert set(_hours(bounds)) == {1}


def test_an_hour_in_kolkata_starts_at_half_past_in_utc() -> None:
    bounds = bucket_bounds(utc(2025, 1, 1, 0), utc(2025, 1, 1, 3), Period.HOUR, ZoneInfo("Asia/Kolkata"))
    assert bounds == [
        utc(2025, 1, 1, 0),
        utc(2025, 1, 1, 0, 30),
        utc(2025, 1, 1, 1, 30),
        utc(2025, 1, 1, 2, 30),
        utc(2025, 1, 1, 3),
    ]


def test_a_day_that_begins_at_one_oclock_because_midnight_was_skipped_begins_at_the_jump() -> None:
    # Havana moved its clocks from 00:00 to 01:00 on 9 March 2025.
    bounds = bucket_bounds(utc(2025, 3, 8, 12), utc(2025, 3, 9, 12), Period.DAY, ZoneInfo("America/Havana"))
    assert bounds[1] == utc(2025, 3, 9, 5)
    assert bounds[1].astimezone(ZoneInfo("America/Havana")).hour == 1


def test_weeks_start_on_monday_and_months_on_the_first_clipped_to_the_range() -> None:
    weeks = bucket_bounds(utc(2025, 1, 1, 12), utc(2025, 1, 20), Period.WEEK, ZoneInfo("UTC"))
    assert weeks == [utc(2025, 1, 1, 12), utc(2025, 1, 6), utc(2025, 1, 13), utc(2025, 1, 20)]
    months = bucket_bounds(utc(2024, 12, 15), utc(2025, 3, 2), Period.MONTH, ZoneInfo("UTC"))
    assert months == [utc(2024, 12, 15), utc(2025, 1, 1), utc(2025, 2, 1), utc(2025, 3, 1), utc(2025, 3, 2)]


def test_no_period_gives_one_bucket_for_the_whole_range() -> None:
    assert bucket_bounds(utc(2020, 1, 1), utc(2030, 1, 1), Period.WHOLE, ZoneInfo("UTC")) == [
        utc(2020, 1, 1),
        utc(2030, 1, 1),
    ]


def test_a_thousand_buckets_are_allowed_and_one_more_is_refused_naming_period() -> None:
    start = utc(2025, 1, 1)
    assert len(bucket_bounds(start, start + timedelta(hours=1000), Period.HOUR, ZoneInfo("UTC"))) - 1 == 1000
    with pytest.raises(InvalidArgument) as refused:
        bucket_bounds(start, start + timedelta(hours=1000, minutes=1), Period.HOUR, ZoneInfo("UTC"))
    assert [v.field for v in refused.value.violations] == ["period"]
    assert SUMMARY_BUCKETS_MAX == 1000


def test_ranges_at_the_ends_of_the_calendar_are_cut_without_overflowing() -> None:
    end = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    bounds = bucket_bounds(end - timedelta(days=3), end, Period.DAY, ZoneInfo("Pacific/Kiritimati"))
    assert bounds[0] == end - timedelta(days=3) and bounds[-1] == end
