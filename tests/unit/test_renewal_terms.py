"""Renewal terms: the plan billed, its period and the invoice lines (discount, credit), pure."""

from __future__ import annotations

import types
from datetime import UTC, datetime

import pytest

from portal_app.billing.money import Money
from portal_app.billing.renewal_terms import CREDIT_LINE, discount_off, renewal_terms

pytestmark = pytest.mark.unit

JAN31 = datetime(2026, 1, 31, 9, tzinfo=UTC)
BASIC = types.SimpleNamespace(id=1, name="Basic", amount_minor=2900, currency="USD", interval="month", interval_count=1)
PRO = types.SimpleNamespace(id=2, name="Pro", amount_minor=4900, currency="USD", interval="month", interval_count=1)
YEARLY = types.SimpleNamespace(
    id=3, name="Yearly", amount_minor=29000, currency="USD", interval="year", interval_count=1
)
EUROS = types.SimpleNamespace(id=4, name="Euro", amount_minor=2900, currency="EUR", interval="month", interval_count=1)
PLANS = {p.id: p for p in (BASIC, PRO, YEARLY, EUROS)}


def row(**kw):
    values = dict(
        plan_id=1,
        pending_plan_id=None,
        anchor_at=JAN31,
        period_index=0,
        current_period_end=datetime(2026, 2, 28, 9, tzinfo=UTC),
        credit_minor=0,
        discount_kind="",
        discount_value=0,
        discount_cycles_left=0,
    )
    return types.SimpleNamespace(**(values | kw))


def test_a_plain_renewal_bills_the_plan_for_the_anchored_period():
    terms = renewal_terms(row(), PLANS)
    assert (terms.plan_id, terms.period_start.date().isoformat(), terms.period_end.date().isoformat()) == (
        1,
        "2026-02-28",
        "2026-03-31",
    )
    assert [(line.description, line.amount_minor) for line in terms.lines] == [
        ("Basic (2026-02-28 – 2026-03-31)", 2900)
    ]
    assert terms.updates == {"period_index": 1}


def test_a_percentage_discount_rounds_half_up_once_and_counts_down():
    terms = renewal_terms(row(discount_kind="percent", discount_value=15, discount_cycles_left=2), PLANS)
    # 15 % of 29.00 = 4.35
    assert [line.amount_minor for line in terms.lines] == [2900, -435]
    assert terms.lines[1].description == "Discount (15% off)"
    assert terms.updates["discount_cycles_left"] == 1 and "discount_kind" not in terms.updates
    last = renewal_terms(row(discount_kind="amount", discount_value=500, discount_cycles_left=1), PLANS)
    assert last.total_minor == 2400
    assert last.updates | {} == {"period_index": 1, "discount_cycles_left": 0, "discount_kind": "", "discount_value": 0}


def test_discounts_never_exceed_the_price():
    price = Money(2900, "USD")
    assert discount_off("amount", 10_000, price) == price
    assert discount_off("percent", 100, price) == price
    with pytest.raises(ValueError):
        discount_off("percent", 101, price)
    with pytest.raises(ValueError):
        discount_off("bogus", 1, price)


def test_credit_covers_what_is_left_and_the_rest_stays():
    terms = renewal_terms(row(credit_minor=5000), PLANS)
    assert [(line.description, line.amount_minor) for line in terms.lines][1:] == [(CREDIT_LINE, -2900)]
    assert terms.total_minor == 0 and terms.updates["credit_minor"] == 2100
    small = renewal_terms(
        row(credit_minor=100, discount_kind="percent", discount_value=50, discount_cycles_left=1), PLANS
    )
    assert [line.amount_minor for line in small.lines] == [2900, -1450, -100]
    assert small.updates["credit_minor"] == 0


def test_a_scheduled_change_bills_the_new_plan_and_keeps_the_anchor_for_the_same_interval():
    terms = renewal_terms(row(pending_plan_id=2), PLANS)
    assert terms.plan_id == 2 and terms.total_minor == 4900
    assert terms.updates == {"plan_id": 2, "pending_plan_id": None, "period_index": 1}
    assert terms.period_end.date().isoformat() == "2026-03-31"  # anchored on Jan 31: no drift to Mar 28


def test_a_change_to_another_interval_moves_the_anchor_to_the_old_period_end():
    terms = renewal_terms(row(pending_plan_id=3), PLANS)
    assert terms.updates["anchor_at"] == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert terms.updates["period_index"] == 0
    assert (terms.period_start.date().isoformat(), terms.period_end.date().isoformat()) == ("2026-02-28", "2027-02-28")


def test_a_change_never_crosses_currencies():
    with pytest.raises(ValueError):
        renewal_terms(row(pending_plan_id=4), PLANS)
