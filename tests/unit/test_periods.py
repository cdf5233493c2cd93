"""Billing periods anchored on the start date: month-end clamping, leap years, no drift."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_app.billing.periods import VALID_INTERVALS, add_interval, period_bounds, period_index_at

UTC = UTC


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_valid_intervals():
    assert set(VALID_INTERVALS) == {"day", "week", "month", "year"}


def test_month_end_anchor_clamps_without_drifting():
    anchor = utc(2025, 1, 31, 14, 30, 15)
    got = [add_interval(anchor, "month", 1, n) for n in range(13)]
    assert [d.date().isoformat() for d in got] == [
        "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
        "2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30", "2025-12-31",
        "2026-01-31",
    ]  # fmt: skip
    assert all(d.time() == anchor.time() and d.tzinfo is UTC for d in got)


def test_month_end_anchor_in_a_leap_year_lands_on_feb_29():
    assert add_interval(utc(2024, 1, 31), "month", 1, 1) == utc(2024, 2, 29)
    assert add_interval(utc(2024, 1, 30), "month", 1, 1) == utc(2024, 2, 29)
    assert add_interval(utc(2023, 12, 31), "month", 1, 2) == utc(2024, 2, 29)


def test_feb_29_yearly_anchor():
    anchor = utc(2024, 2, 29, 9)
    assert add_interval(anchor, "year", 1, 1) == utc(2025, 2, 28, 9)
    assert add_interval(anchor, "year", 1, 3) == utc(2027, 2, 28, 9)
    assert add_interval(anchor, "year", 1, 4) == utc(2028, 2, 29, 9)
    assert add_interval(anchor, "year", 2, 2) == utc(2028, 2, 29, 9)
    # 2100 is not a leap year.
    assert add_interval(anchor, "year", 4, 19) == utc(2100, 2, 28, 9)


def test_multi_month_counts():
    anchor = utc(2025, 8, 31)
    assert add_interval(anchor, "month", 3, 1) == utc(2025, 11, 30)
    assert add_interval(anchor, "month", 3, 2) == utc(2026, 2, 28)
    assert add_interval(anchor, "month", 6, 1) == utc(2026, 2, 28)
    assert add_interval(anchor, "month", 12, 1) == utc(2026, 8, 31)


def test_days_and_weeks():
    anchor = utc(2025, 2, 27, 23, 59)
    assert add_interval(anchor, "day", 1, 2) == utc(2025, 3, 1, 23, 59)
    assert add_interval(anchor, "day", 30, 1) == utc(2025, 3, 29, 23, 59)
    assert add_interval(anchor, "week", 1, 1) == utc(2025, 3, 6, 23, 59)
    assert add_interval(anchor, "week", 2, 3) == anchor + timedelta(weeks=6)


def test_index_zero_is_the_anchor_and_negative_goes_back():
    anchor = utc(2025, 3, 31)
    assert add_interval(anchor, "month", 1, 0) == anchor
    assert add_interval(anchor, "month", 1, -1) == utc(2025, 2, 28)


def test_period_bounds():
    anchor = utc(2025, 1, 31, 8)
    assert period_bounds(anchor, "month", 1, 0) == (utc(2025, 1, 31, 8), utc(2025, 2, 28, 8))
    assert period_bounds(anchor, "month", 1, 1) == (utc(2025, 2, 28, 8), utc(2025, 3, 31, 8))
    assert period_bounds(anchor, "year", 1, 0) == (anchor, utc(2026, 1, 31, 8))


def test_keeps_non_utc_offset():
    tz = timezone(timedelta(hours=-5))
    anchor = datetime(2025, 1, 31, 12, tzinfo=tz)
    assert add_interval(anchor, "month", 1, 1) == datetime(2025, 2, 28, 12, tzinfo=tz)
    assert add_interval(anchor, "month", 1, 1).tzinfo is tz


@pytest.mark.parametrize(
    ("interval", "count", "error"),
    [("fortnight", 1, ValueError), ("Month", 1, ValueError), ("month", 0, ValueError),
     ("month", -1, ValueError), ("month", 1.0, TypeError), ("day", True, TypeError)],
)  # fmt: skip
def test_rejects_bad_plan(interval, count, error):
    with pytest.raises(error):
        add_interval(utc(2025, 1, 1), interval, count, 1)


def test_rejects_naive_anchor_and_bad_index():
    with pytest.raises(ValueError, match="timezone-aware"):
        add_interval(datetime(2025, 1, 1), "month", 1, 1)
    with pytest.raises(TypeError):
        add_interval(utc(2025, 1, 1), "month", 1, 1.5)


def test_out_of_range_is_a_value_error():
    with pytest.raises(ValueError):
        add_interval(utc(9999, 6, 1), "year", 1, 1)
    with pytest.raises(ValueError):
        add_interval(utc(9999, 12, 1), "day", 1, 100)


def test_period_index_at():
    anchor = utc(2025, 1, 31, 10)
    assert period_index_at(anchor, "month", 1, anchor) == 0
    assert period_index_at(anchor, "month", 1, utc(2025, 2, 28, 9, 59)) == 0
    assert period_index_at(anchor, "month", 1, utc(2025, 2, 28, 10)) == 1
    assert period_index_at(anchor, "month", 1, utc(2025, 3, 31, 9)) == 1
    assert period_index_at(anchor, "month", 1, utc(2025, 1, 1)) == -1
    assert period_index_at(anchor, "week", 2, anchor + timedelta(days=29)) == 2


# --------------------------------------------------------------------------- properties

anchors = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC))
intervals = st.sampled_from(VALID_INTERVALS)
counts = st.integers(min_value=1, max_value=24)
indexes = st.integers(min_value=0, max_value=300)  # year 2200 + 301 * 24 years stays < 9999


@given(anchor=anchors, interval=intervals, count=counts, index=indexes)
def test_periods_are_contiguous_and_strictly_increasing(anchor, interval, count, index):
    start, end = period_bounds(anchor, interval, count, index)
    next_start, next_end = period_bounds(anchor, interval, count, index + 1)
    assert start < end
    assert end == next_start
    assert next_start < next_end


@given(anchor=anchors, count=counts, index=indexes, yearly=st.booleans())
def test_month_periods_never_drift(anchor, count, index, yearly):
    got = add_interval(anchor, "year" if yearly else "month", count, index)
    months = index * count * (12 if yearly else 1)
    year, month0 = divmod(anchor.year * 12 + anchor.month - 1 + months, 12)
    assert (got.year, got.month) == (year, month0 + 1)
    assert got.day == min(anchor.day, calendar.monthrange(got.year, got.month)[1])
    assert got.timetz() == anchor.timetz()


@given(anchor=anchors, interval=intervals, count=counts, index=indexes)
def test_computed_from_anchor_not_by_chaining(anchor, interval, count, index):
    # Going via an intermediate clamped date must not matter: only the anchor counts.
    direct = add_interval(anchor, interval, count, index)
    assert direct == add_interval(anchor, interval, 1, index * count)
    if interval in ("day", "week"):
        step = timedelta(days=1) if interval == "day" else timedelta(weeks=1)
        assert direct == anchor + step * count * index


@given(
    anchor=anchors,
    interval=intervals,
    count=counts,
    offset=st.timedeltas(min_value=timedelta(days=-800), max_value=timedelta(days=20000)),
)
def test_period_index_at_finds_the_containing_period(anchor, interval, count, offset):
    moment = anchor + offset
    index = period_index_at(anchor, interval, count, moment)
    start, end = period_bounds(anchor, interval, count, index)
    assert start <= moment < end
