"""Calendar periods local to a time zone: where each hour, day, ISO week or month begins, as instants.

A ledger summary cuts its range at these instants. They are computed on
wall-clock time and then placed on the time line, so a day in a zone that
changes to or from daylight-saving time lasts 23 or 25 hours, and an hour in
Asia/Kolkata begins at :30 UTC. When clocks go back, the repeated wall-clock
time is a bucket of its own: Berlin's second 02:00-03:00 in October, Lord
Howe's second 01:30-02:00 in April (its first 01:00-02:00 stays one hour).
Pure functions of their arguments: no I/O.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from server.domain.errors import FieldViolation, InvalidArgument
from server.domain.limits import SUMMARY_BUCKETS_MAX

_SECOND = timedelta(seconds=1)


class Period(enum.Enum):
    """How a summary's range is cut; WHOLE is one bucket for the whole range."""

    WHOLE = "whole"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


def _local(instant: datetime, zone: ZoneInfo) -> datetime:
    """The wall-clock time at `instant` in `zone`, naive."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _first_instant_at_or_after(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant the zone's clock shows `wall`, or, if the clock jumped over it, the instant of the jump."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _local(instant, zone) == wall:
        return instant
    # In a gap: before the jump the clock shows less than `wall`, after it more.
    low = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = instant
    while high - low > _SECOND:
        middle = low + (high - low) // 2
        if _local(middle, zone) >= wall:
            high = middle
        else:
            low = middle
    return high


def _instants(wall: datetime, zone: ZoneInfo, *, repeats: bool) -> list[datetime]:
    """The instants at which the clock shows `wall`: the first, and with `repeats` a second when clocks go back."""
    first = _first_instant_at_or_after(wall, zone)
    if not repeats:
        return [first]
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return [first, second] if second != first and _local(second, zone) == wall else [first]


def _repeat_cuts(first: datetime, following: datetime, zone: ZoneInfo) -> list[datetime]:
    """Where the clocks go back between two hour starts: the instant the repeat begins, and the one it ends if inside.

    Berlin repeats a whole hour (02:00-03:00), which already begins and ends
    on hour starts; Lord Howe repeats half an hour (01:30-02:00), which begins
    inside the hour from 01:00: that first 01:00-02:00 and the repeated
    01:30-02:00 are buckets of their own, as for Berlin.
    """
    before, after = first.astimezone(zone).utcoffset(), following.astimezone(zone).utcoffset()
    assert before is not None and after is not None
    if after >= before:
        return []
    # Zones change their offsets on whole seconds: search those.
    low, high = 0, int((following - first) / _SECOND)
    while high - low > 1:
        middle = (low + high) // 2
        if (first + middle * _SECOND).astimezone(zone).utcoffset() == before:
            low = middle
        else:
            high = middle
    begins = first + high * _SECOND
    ends = begins + (before - after)
    return [begins, ends] if ends < following else [begins]


def _period_starts(start: datetime, period: Period, zone: ZoneInfo) -> Iterator[datetime]:
    """Wall-clock starts of the periods, from the one holding `start` on, in order (without end)."""
    wall = _local(start, zone)
    if period is Period.HOUR:
        hour = wall.replace(minute=0, second=0, microsecond=0)
        while True:
            yield hour
            hour += timedelta(hours=1)
    day = wall.date()
    if period is Period.DAY:
        while True:
            yield datetime.combine(day, datetime.min.time())
            day += timedelta(days=1)
    if period is Period.WEEK:
        monday = day - timedelta(days=day.weekday())
        while True:
            yield datetime.combine(monday, datetime.min.time())
            monday += timedelta(days=7)
    month = date(day.year, day.month, 1)
    while True:
        yield datetime.combine(month, datetime.min.time())
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)


def bucket_bounds(start: datetime, end: datetime, period: Period, zone: ZoneInfo) -> list[datetime]:
    """The instants that cut [start, end) into `period`s local to `zone`: start, each period start inside, end.

    The first and last buckets are clipped to the range. More than
    SUMMARY_BUCKETS_MAX buckets is an InvalidArgument naming `period`.
    """
    assert start.tzinfo is not None and end.tzinfo is not None and start < end
    bounds = [start]
    if period is not Period.WHOLE:
        # At the ends of the calendar (years 1 and 9999) the last period found runs to `end`.
        with contextlib.suppress(OverflowError):
            _cut(bounds, end, period, zone)
    bounds.append(end)
    return bounds


def _cut(bounds: list[datetime], end: datetime, period: Period, zone: ZoneInfo) -> None:
    """Appends to `bounds` (holding the start) every period start before `end`."""
    repeats = period is Period.HOUR
    walls = _period_starts(bounds[0], period, zone)
    instants = _instants(next(walls), zone, repeats=repeats)
    while instants[0] < end:
        following: list[datetime] = []
        with contextlib.suppress(OverflowError):  # the calendar's end: no period follows
            following = _instants(next(walls), zone, repeats=repeats)
        if repeats and following:
            instants = sorted({*instants, *_repeat_cuts(instants[0], following[0], zone)})
        for instant in instants:
            if bounds[-1] < instant < end:
                bounds.append(instant)
        if len(bounds) > SUMMARY_BUCKETS_MAX:
            raise too_many_buckets()
        if not following:
            return
        instants = following


def too_many_buckets() -> InvalidArgument:
    return InvalidArgument(
        [FieldViolation("period", f"cuts the range into more than {SUMMARY_BUCKETS_MAX} buckets; use a longer period")]
    )
