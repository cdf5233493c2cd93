"""Day-based proration of a plan change inside a billing period, in integer minor units. Pure.

A price P covers a period of D whole days. The part of P for days [a, b) is
floor(P*b/D) - floor(P*a/D): the parts telescope, so however a period is cut (any sequence of
changes), the parts of one price over the whole period add up to exactly P, never a cent more or
less. The used part of the old plan is [start, t) and its unused part (credited) is [t, end): used +
unused == P always. The new plan is charged its part for [t, end).

The change instant counts in whole days elapsed since the period start (the day of the change is
not yet used: it is credited on the old plan and charged on the new one).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

DAY = timedelta(days=1)


def period_days(start: datetime, end: datetime) -> int:
    """Whole days in [start, end) (at least 1: a period shorter than a day counts as one)."""
    if end <= start:
        raise ValueError("a period ends after it starts")
    return max(1, -(-(end - start) // DAY))  # ceiling: a partial last day is a day


def days_used(start: datetime, end: datetime, at: datetime) -> int:
    """Whole days of [start, end) elapsed at `at` (0 at the start, never the whole period)."""
    if not start <= at < end:
        raise ValueError("the change instant lies inside the period")
    return min((at - start) // DAY, period_days(start, end) - 1)


def part(price_minor: int, days: int, start_day: int, end_day: int) -> int:
    """The share of `price_minor` for days [start_day, end_day) of a `days`-day period (telescoping)."""
    if isinstance(price_minor, bool) or not isinstance(price_minor, int):
        raise TypeError("prices are whole minor units")
    if price_minor < 0:
        raise ValueError("a price is not negative")
    if not 0 <= start_day <= end_day <= days or days < 1:
        raise ValueError("days lie inside the period")
    return price_minor * end_day // days - price_minor * start_day // days


@dataclasses.dataclass(frozen=True)
class Proration:
    """A change at day `day` of a `days`-day period: the old plan's unused part credited, the new
    plan's remaining part charged. net > 0 is owed today; net < 0 is credit for the subscriber."""

    days: int
    day: int
    credit_minor: int  # the old plan's days [day, days), >= 0
    charge_minor: int  # the new plan's days [day, days), >= 0

    @property
    def net_minor(self) -> int:
        return self.charge_minor - self.credit_minor


def unused_credit(old_price_minor: int, start: datetime, end: datetime, at: datetime) -> int:
    """What the old plan's unused days [at, end) are worth: P - floor(P*used/D)."""
    days = period_days(start, end)
    return part(old_price_minor, days, days_used(start, end, at), days)


def prorate(old_price_minor: int, new_price_minor: int, start: datetime, end: datetime, at: datetime) -> Proration:
    """The credit for the old plan and the charge for the new one when switching at `at` within
    the period [start, end) (same interval: the period stays)."""
    days = period_days(start, end)
    day = days_used(start, end, at)
    return Proration(
        days=days,
        day=day,
        credit_minor=part(old_price_minor, days, day, days),
        charge_minor=part(new_price_minor, days, day, days),
    )


def costs_more_per_day(old_price: int, old_days: int, new_price: int, new_days: int) -> bool:
    """Whether the new plan's price per day is higher (exact: cross-multiplied, no division)."""
    return new_price * old_days > old_price * new_days
