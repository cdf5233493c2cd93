"""The portal's plan change handlers are public remote calls: they act for the portal session's one
subscriber only, take a plan id from the merchant's list for that plan (anything else is refused and
changes nothing), preview before confirming, and without a live session do nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from reflex.istate.data import RouterData

from portal_app import db
from portal_app.billing import gateways
from portal_app.billing.facades import portal_plan_change as facade
from portal_app.billing.plan_switches import set_switch_targets
from portal_app.billing.plans import create_plan
from portal_app.models import Plan, PlanChange, Subscription
from portal_app.pages.portal.plan_change import PortalPlanChangeState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import JAN31, make_world, rows
from tests.reflex_states import run_handler, signed_in_portal_state

pytestmark = pytest.mark.integration

FEB10 = JAN31 + timedelta(days=10, hours=2)


@pytest.fixture
def portal(portal_and_pro):
    return portal_and_pro[0]


@pytest.fixture
def pro_id(portal_and_pro):
    return portal_and_pro[1]


@pytest.fixture
def portal_and_pro(engine, monkeypatch):
    monkeypatch.setattr(facade, "utcnow", lambda: FEB10)
    monkeypatch.setattr(facade, "get_engine", lambda: engine)
    for state in signed_in_portal_state(engine, monkeypatch, PortalPlanChangeState):
        monkeypatch.setattr(facade, "get_gateway", lambda: gateways.get_gateway())  # the fixture's
        (sub,) = rows(engine, Subscription)
        with db.session_scope() as session:
            pro = create_plan(
                session, merchant_id=sub.merchant_id, name="Pro", amount_minor=4900, currency="USD", interval="month"
            )
            set_switch_targets(session, sub.plan_id, [pro.id], merchant_id=sub.merchant_id, actor="t", now=JAN31)
            pro_id = pro.id
        yield state, pro_id


def test_choose_preview_confirm(engine, portal, pro_id):
    run_handler(PortalPlanChangeState.load_plan_change, portal)
    assert portal.pc_available and [o["name"] for o in portal.pc_options] == ["Pro"]
    assert portal.pc_options[0]["price"] == "$49.00 per month"
    run_handler(PortalPlanChangeState.set_pc_open, portal, True)
    assert portal.pc_open and portal.pc_step == "choose"
    run_handler(PortalPlanChangeState.review_change, portal, {"plan": str(pro_id)})
    assert (portal.pc_step, portal.pv_kind, portal.pv_headline) == ("preview", "charge", "You pay $12.85 today")
    assert [line["amount"] for line in portal.pv_lines] == ["-$18.65", "$31.50"]
    assert portal.pv_next == "Next renewal: February 28, 2026, $49.00"
    assert rows(engine, PlanChange) == []  # a preview changes nothing
    run_handler(PortalPlanChangeState.confirm_change, portal)
    (change,) = rows(engine, PlanChange)
    assert (change.to_plan_id, change.charge_minor - change.credit_minor) == (pro_id, 1285)
    assert not portal.pc_open and portal.plan_name == "Pro"
    # A replayed confirm (double click, a raw client) changes nothing more.
    run_handler(PortalPlanChangeState.confirm_change, portal)
    assert len(rows(engine, PlanChange)) == 1


@pytest.mark.parametrize("form", [{"plan": "999999"}, {"plan": 5}, {"plan": None}, {}, "plan", {"plan": "1 OR 1"}])
def test_a_plan_not_on_the_list_is_refused_and_changes_nothing(engine, portal, form):
    run_handler(PortalPlanChangeState.load_plan_change, portal)
    run_handler(PortalPlanChangeState.review_change, portal, form)
    assert portal.pc_error and portal.pc_step == "choose" and portal.pc_selected == ""
    run_handler(PortalPlanChangeState.confirm_change, portal)
    assert rows(engine, PlanChange) == []


def test_another_merchants_plan_is_not_found_by_the_facade(engine, portal):
    other = make_world(engine, slug="other", prefix="OTH")
    (sub,) = [s for s in rows(engine, Subscription) if s.merchant_id != other.merchant_id]
    with pytest.raises(Exception) as refused:
        facade.preview(merchant_id=sub.merchant_id, subscriber_id=sub.subscriber_id, plan_id=other.plan_id)
    assert refused.value.code == "not_found"
    # A plan of the same merchant that is not offered from this plan is refused.
    with db.session_scope() as session:
        hidden = create_plan(
            session, merchant_id=sub.merchant_id, name="Hidden", amount_minor=100, currency="USD", interval="month"
        )
        hidden_id = hidden.id
    with pytest.raises(Exception) as refused:
        facade.confirm(merchant_id=sub.merchant_id, subscriber_id=sub.subscriber_id, plan_id=hidden_id)
    assert refused.value.code == "not_offered"
    assert rows(engine, PlanChange) == [] and rows(engine, Plan, Plan.id == hidden_id)[0].active


def test_without_a_portal_session_nothing_happens(engine, portal, pro_id):
    run_handler(PortalPlanChangeState.load_plan_change, portal)
    run_handler(PortalPlanChangeState.review_change, portal, {"plan": str(pro_id)})
    portal.router = RouterData.from_router_data({"headers": {"cookie": ""}, "pathname": "/portal", "query": {}})
    run_handler(PortalPlanChangeState.confirm_change, portal)
    run_handler(PortalPlanChangeState.undo_change, portal)
    assert rows(engine, PlanChange) == []


@pytest.mark.parametrize("status", ["past_due", "incomplete"])
def test_money_owed_or_not_active_yet_shows_no_plan_talk(engine, portal, status):
    with db.session_scope() as session:
        session.execute(sa.update(Subscription).values(status=status))
    run_handler(PortalPlanChangeState.load_plan_change, portal)
    assert (portal.pc_available, portal.pc_refusal) == (False, "")
    run_handler(PortalPlanChangeState.set_pc_open, portal, True)
    assert not portal.pc_open


def test_a_subscription_set_to_end_says_why_it_cannot_change(engine, portal):
    with db.session_scope() as session:
        session.execute(sa.update(Subscription).values(cancel_at_period_end=True))
    run_handler(PortalPlanChangeState.load_plan_change, portal)
    assert portal.pc_available and "Undo the cancellation" in portal.pc_refusal
