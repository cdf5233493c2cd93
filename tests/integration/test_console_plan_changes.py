"""Console plan change controls: the downgrade timing setting and a plan's switch list, through their
facades, scoped by merchant (another merchant's plan reads as not found) with bad input refused."""

from __future__ import annotations

import pytest

from portal_app import db
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.console import plan_change_settings, plan_switches
from portal_app.billing.plans import create_plan
from portal_app.models import Merchant, PlanSwitch
from tests.builders import make_world, rows

pytestmark = pytest.mark.integration


@pytest.fixture
def worlds(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    a, b = make_world(engine), make_world(engine, slug="gym", prefix="GYM")
    with db.session_scope() as session:
        ids = {
            name: create_plan(
                session, merchant_id=a.merchant_id, name=name, amount_minor=amount, currency=currency, interval="month"
            ).id
            for name, amount, currency in (("Pro", 4900, "USD"), ("Lite", 1900, "USD"), ("Euro", 2900, "EUR"))
        }
    return a, b, ids


def test_the_switch_list_offers_same_currency_plans_and_saves_checked_ones(engine, worlds):
    a, b, ids = worlds
    options = plan_switches.switch_options(merchant_id=a.merchant_id, plan_id=str(a.plan_id))
    assert [(o.name, o.offered) for o in options] == [("Lite", False), ("Pro", False)]
    plan_switches.save_switch_targets(
        merchant_id=a.merchant_id, user_id=1, plan_id=a.plan_id, target_ids=[str(ids["Pro"])]
    )
    options = plan_switches.switch_options(merchant_id=a.merchant_id, plan_id=a.plan_id)
    assert [(o.name, o.offered) for o in options] == [("Lite", False), ("Pro", True)]
    plan_switches.save_switch_targets(merchant_id=a.merchant_id, user_id=1, plan_id=a.plan_id, target_ids=[])
    assert rows(engine, PlanSwitch) == []


@pytest.mark.parametrize(
    "targets", [["x"], [True], "1", None, [-1], [str(10**30)]], ids=["text", "bool", "str", "none", "neg", "huge"]
)
def test_bad_switch_lists_are_refused(engine, worlds, targets):
    a, _, _ = worlds
    with pytest.raises(BillingError):
        plan_switches.save_switch_targets(merchant_id=a.merchant_id, user_id=1, plan_id=a.plan_id, target_ids=targets)
    assert rows(engine, PlanSwitch) == []


def test_another_merchants_plans_are_not_found(engine, worlds):
    a, b, ids = worlds
    with pytest.raises(NotFound):
        plan_switches.switch_options(merchant_id=b.merchant_id, plan_id=a.plan_id)
    with pytest.raises(NotFound):  # B's own plan offering A's plan
        plan_switches.save_switch_targets(
            merchant_id=b.merchant_id, user_id=1, plan_id=b.plan_id, target_ids=[ids["Pro"]]
        )
    with pytest.raises(BillingError):  # another currency
        plan_switches.save_switch_targets(
            merchant_id=a.merchant_id, user_id=1, plan_id=a.plan_id, target_ids=[ids["Euro"]]
        )
    assert rows(engine, PlanSwitch) == []


def test_downgrade_timing(engine, worlds):
    a, b, _ = worlds
    assert plan_change_settings.downgrade_timing(merchant_id=a.merchant_id) == "period_end"
    plan_change_settings.save_downgrade_timing(merchant_id=a.merchant_id, user_id=1, timing="immediately")
    assert plan_change_settings.downgrade_timing(merchant_id=a.merchant_id) == "immediately"
    assert plan_change_settings.downgrade_timing(merchant_id=b.merchant_id) == "period_end"
    for bad in ("soon", "", None, 1, ["immediately"]):
        with pytest.raises(BillingError):
            plan_change_settings.save_downgrade_timing(merchant_id=a.merchant_id, user_id=1, timing=bad)
    assert [m.downgrade_timing for m in rows(engine, Merchant, Merchant.id == a.merchant_id)] == ["immediately"]
