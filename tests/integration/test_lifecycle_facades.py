"""The facades of pausing and trials on SQLite and PostgreSQL: the console's plan fields and trial
reminder (validated, audited, scoped to the merchant) and the portal's pause view and actions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app import db
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades import portal_pause
from portal_app.billing.facades.console import plan_lifecycle as lifecycle_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import Merchant, Plan
from tests.builders import JAN31, audit_kinds, make_world, rows, subscribed_world, subscription_of

pytestmark = pytest.mark.integration


@pytest.fixture
def wired(any_engine, monkeypatch, gateway):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    monkeypatch.setattr(portal_pause, "get_gateway", lambda: gateway)
    return any_engine


def test_console_saves_the_plan_fields_and_refuses_bad_ones(wired):
    world = make_world(wired)
    saved = lifecycle_facade.save_plan_lifecycle(
        merchant_id=world.merchant_id,
        user_id=1,
        plan_id=str(world.plan_id),
        form={"trial_days": "14", "pause_max_days": "30"},
    )
    assert (saved.trial_days, saved.pause_max_days) == (14, 30)
    assert lifecycle_facade.get_plan_lifecycle(merchant_id=world.merchant_id, plan_id=world.plan_id) == saved
    for bad in ({"trial_days": "-1"}, {"trial_days": "abc"}, {"pause_max_days": "366"}, {"trial_days": "1000"}):
        with pytest.raises(BillingError):
            lifecycle_facade.save_plan_lifecycle(
                merchant_id=world.merchant_id, user_id=1, plan_id=world.plan_id, form={"trial_days": "0", **bad}
            )
    with pytest.raises(BillingError):
        lifecycle_facade.save_plan_lifecycle(merchant_id=world.merchant_id, user_id=1, plan_id=world.plan_id, form="x")
    (plan,) = rows(wired, Plan, Plan.id == world.plan_id)
    assert (plan.trial_days, plan.pause_max_days) == (14, 30)
    other = make_world(wired, slug="other", prefix="OTH")
    with pytest.raises(NotFound):
        lifecycle_facade.save_plan_lifecycle(
            merchant_id=other.merchant_id,
            user_id=1,
            plan_id=world.plan_id,
            form={"trial_days": "1", "pause_max_days": "1"},
        )


def test_console_saves_the_trial_reminder(wired):
    world = make_world(wired)
    assert lifecycle_facade.get_trial_reminder_days(merchant_id=world.merchant_id) == 3
    assert (
        lifecycle_facade.save_trial_reminder_days(
            merchant_id=world.merchant_id, user_id=1, form={"trial_reminder_days": "0"}
        )
        == 0
    )
    with pytest.raises(BillingError):
        lifecycle_facade.save_trial_reminder_days(
            merchant_id=world.merchant_id, user_id=1, form={"trial_reminder_days": "31"}
        )
    (merchant,) = rows(wired, Merchant, Merchant.id == world.merchant_id)
    assert merchant.trial_reminder_days == 0


def test_portal_pause_view_pause_and_resume(wired, gateway):
    world, _ = subscribed_world(wired, gateway, start_at=JAN31)
    who = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}
    assert not portal_pause.lifecycle_view(**who, now=JAN31 + timedelta(days=1)).can_pause  # the plan forbids it
    lifecycle_facade.save_plan_lifecycle(
        merchant_id=world.merchant_id,
        user_id=1,
        plan_id=world.plan_id,
        form={"trial_days": "0", "pause_max_days": "20"},
    )
    view = portal_pause.lifecycle_view(**who, now=JAN31 + timedelta(days=1))
    end = subscription_of(world).current_period_end
    assert view.can_pause and (view.first_resume_day, view.last_resume_day) == (
        (end + timedelta(days=1)).date(),
        (end + timedelta(days=20)).date(),
    )
    for bad in (None, 5, "2026-13-01", "tomorrow", "2026-03-01T00:00", (end + timedelta(days=21)).date().isoformat()):
        with pytest.raises(BillingError):
            portal_pause.pause(**who, resume_on=bad, now=JAN31 + timedelta(days=1))
    starts = portal_pause.pause(
        **who, resume_on=(end + timedelta(days=5)).date().isoformat(), now=JAN31 + timedelta(days=1)
    )
    assert starts == end
    view = portal_pause.lifecycle_view(**who, now=JAN31 + timedelta(days=2))
    assert (view.can_pause, view.pauses_at, view.resume_at, view.paused) == (False, end, end + timedelta(days=5), False)
    outcome = portal_pause.resume(**who, now=JAN31 + timedelta(days=2))  # takes the scheduled pause back
    assert (outcome.resumed, outcome.charge) == (False, None)
    assert subscription_of(world).resume_at is None
    assert "pause_canceled" in audit_kinds(world)


def test_portal_trial_view_says_the_first_charge(wired, gateway):
    world = make_world(wired)
    lifecycle_facade.save_plan_lifecycle(
        merchant_id=world.merchant_id, user_id=1, plan_id=world.plan_id, form={"trial_days": "7", "pause_max_days": "0"}
    )
    from portal_app.billing.subscriptions import subscribe
    from tests.builders import add_card

    add_card(world, gateway, now=JAN31)
    subscribe(
        wired,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=JAN31,
        gateway=SimulatedGateway(),
    )
    view = portal_pause.lifecycle_view(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, now=JAN31)
    assert view.trial_end == JAN31 + timedelta(days=7)
    assert (view.first_charge.amount_minor, view.first_charge.currency) == (2900, "USD")
