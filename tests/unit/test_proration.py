"""Day-based proration: no cent is created or lost, however many times a plan changes in a period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_app.billing.periods import period_bounds
from portal_app.billing.proration import (
    costs_more_per_day,
    days_used,
    part,
    period_days,
    prorate,
    unused_credit,
)

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
FEB28 = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)

prices = st.integers(min_value=0, max_value=10**9)
periods = st.tuples(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(["day", "week", "month", "year"]),
    st.integers(min_value=1, max_value=3),
)


def test_a_mid_period_upgrade_credits_the_unused_days_and_charges_the_new_plans():
    # Jan 31 -> Feb 28 is 28 days; on Feb 10 (10 days used) 18 days are left.
    p = prorate(2900, 4900, START, FEB28, START + timedelta(days=10, hours=3))
    assert (p.days, p.day) == (28, 10)
    assert p.credit_minor == 2900 - 2900 * 10 // 28 == 1865
    assert p.charge_minor == 4900 - 4900 * 10 // 28 == 3150
    assert p.net_minor == 1285


def test_the_day_of_the_change_is_not_used_yet_and_the_last_instant_leaves_one_day():
    assert days_used(START, FEB28, START) == 0
    assert unused_credit(2900, START, FEB28, START) == 2900
    assert days_used(START, FEB28, FEB28 - timedelta(seconds=1)) == 27
    assert unused_credit(2800, START, FEB28, FEB28 - timedelta(seconds=1)) == 100
    with pytest.raises(ValueError):
        days_used(START, FEB28, FEB28)
    with pytest.raises(ValueError):
        prorate(1, 2, START, FEB28, START - timedelta(seconds=1))


def test_price_per_day_compares_exactly_across_intervals():
    # 29.00 a month (28 days) against 290.00 a year (365 days): the year is cheaper per day.
    assert not costs_more_per_day(2900, 28, 29000, 365)
    assert costs_more_per_day(29000, 365, 2900, 28)
    assert not costs_more_per_day(2900, 28, 2900, 28)


def test_parts_refuse_bad_input():
    with pytest.raises(TypeError):
        part(1.5, 30, 0, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        part(-1, 30, 0, 1)
    with pytest.raises(ValueError):
        part(100, 30, 5, 31)


@given(price=prices, days=st.integers(min_value=1, max_value=400), data=st.data())
def test_the_parts_of_one_price_over_any_cut_of_the_period_add_up_to_the_price(price, days, data):
    cuts = sorted(data.draw(st.lists(st.integers(min_value=0, max_value=days), max_size=12)))
    bounds = [0, *cuts, days]
    assert sum(part(price, days, a, b) for a, b in zip(bounds, bounds[1:])) == price
    for a, b in zip(bounds, bounds[1:]):
        # Each part is the exact share rounded to a neighbouring minor unit.
        assert price * (b - a) // days - 1 <= part(price, days, a, b) <= -(-price * (b - a) // days) + 1


@given(period=periods, first=prices, data=st.data())
def test_no_cent_is_created_or_lost_across_any_sequence_of_changes(period, first, data):
    anchor, interval, count = period
    start, end = period_bounds(anchor, interval, count, 0)
    days = period_days(start, end)
    steps = data.draw(st.lists(st.tuples(st.integers(min_value=0, max_value=days - 1), prices), max_size=8).map(sorted))
    # The subscriber paid the first plan's full price at the start; each change credits the held
    # plan's unused days and charges the next plan's remaining days.
    paid, held, segments, since = first, first, [], 0
    for day, price in steps:
        p = prorate(held, price, start, end, start + timedelta(days=day, seconds=1))
        assert p.day == day
        assert p.credit_minor == held - held * day // days  # used + unused == price
        paid += p.net_minor
        segments.append((held, since, day))
        held, since = price, day
    segments.append((held, since, days))
    # What was paid in all is exactly each plan's share of the days it was held.
    assert paid == sum(part(price, days, a, b) for price, a, b in segments)
    # Holding one price throughout (changes between plans of one price) costs exactly that price.
    if all(price == first for _, price in steps):
        assert paid == first
    assert paid >= 0
