"""Billing period math anchored on the subscription's start date.

Every boundary is computed from the anchor, never by chaining one period onto the last: chaining
Jan 31 -> Feb 28 -> Mar 28 would drift, while anchoring gives Jan 31 -> Feb 28/29 -> Mar 31 -> Apr 30.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

VALID_INTERVALS: tuple[str, ...] = ("day", "week", "month", "year")

_MONTHS_PER = {"month": 1, "year": 12}
_FIXED_LENGTH = {"day": timedelta(days=1), "week": timedelta(weeks=1)}


def _check_plan(anchor: datetime, interval: str, count: int) -> None:
    """Refuse bad plan data early: a typo'd interval or a zero count would loop or bill forever."""
    if interval not in VALID_INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(VALID_INTERVALS)}; got {interval!r}")
    if isinstance(count, bool) or not isinstance(count, int):
        raise TypeError("interval count must be an int")
    if count < 1:
        raise ValueError(f"interval count must be >= 1; got {count}")
    if not isinstance(anchor, datetime):
        raise TypeError("anchor must be a datetime")
    # Naive datetimes are refused by every timestamp column; catching them here names the culprit.
    if anchor.tzinfo is None or anchor.utcoffset() is None:
        raise ValueError("anchor must be a timezone-aware datetime (UTC)")


def _check_index(n: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError("period index must be an int")


def _add_months(anchor: datetime, months: int) -> datetime:
    """Move by whole months, clamping the day to the target month's length (31 -> 28/29/30)."""
    year, month0 = divmod(anchor.year * 12 + (anchor.month - 1) + months, 12)
    if not 1 <= year <= 9999:
        raise ValueError("billing period falls outside the supported date range")
    day = min(anchor.day, calendar.monthrange(year, month0 + 1)[1])
    return anchor.replace(year=year, month=month0 + 1, day=day)


def add_interval(anchor: datetime, interval: str, count: int, n: int) -> datetime:
    """The anchor advanced by n * count intervals, computed from the anchor so it never drifts.

    Keeps the time of day and tzinfo. n may be negative (periods before the anchor).
    """
    _check_plan(anchor, interval, count)
    _check_index(n)
    steps = n * count
    if interval in _FIXED_LENGTH:
        try:
            return anchor + _FIXED_LENGTH[interval] * steps
        except OverflowError as exc:
            raise ValueError("billing period falls outside the supported date range") from exc
    return _add_months(anchor, steps * _MONTHS_PER[interval])


def period_bounds(anchor: datetime, interval: str, count: int, index: int) -> tuple[datetime, datetime]:
    """[start, end) of period number `index` (0 is the first period, starting at the anchor)."""
    return add_interval(anchor, interval, count, index), add_interval(anchor, interval, count, index + 1)


def period_index_at(anchor: datetime, interval: str, count: int, moment: datetime) -> int:
    """The index of the period containing `moment` (start <= moment < end).

    Lets a renewal job that was down for a while find how many periods it must catch up on.
    """
    _check_plan(anchor, interval, count)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("moment must be a timezone-aware datetime (UTC)")
    if interval in _FIXED_LENGTH:
        index = (moment - anchor) // (_FIXED_LENGTH[interval] * count)
    else:
        local = moment.astimezone(anchor.tzinfo)
        months = (local.year - anchor.year) * 12 + (local.month - anchor.month)
        index = months // (_MONTHS_PER[interval] * count)
    # The estimate is off by at most one period (clamped days, time of day); settle it exactly.
    while add_interval(anchor, interval, count, index) > moment:
        index -= 1
    while add_interval(anchor, interval, count, index + 1) <= moment:
        index += 1
    return index
