"""Retention offers in the portal, driven like a subscriber on desktop and phone, in English and
Spanish: "Cancel subscription" shows the plan's offer first; accepting keeps the subscription and
the next payment shown is the discounted one; "No thanks, cancel" goes on to the confirmation."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal_app import i18n
from portal_app.billing import demo
from portal_app.billing.money import Money
from portal_app.billing.retention import plan_offer
from portal_app.models import Merchant, Plan, RetentionOffer, Subscription
from portal_app.pages.portal.retention import offer_texts

from .conftest import assert_accessible, assert_no_horizontal_scroll, make_subscriber, open_portal, screenshot

pytestmark = pytest.mark.e2e

PLAN = "Basic Monthly"


@contextlib.contextmanager
def offer_on_plan(engine, kind: str = "percent", value: int = 20, cycles: int = 3):
    """The demo plan carries a retention offer for the block (and none after it, for other tests)."""

    def set_offer(kind: str, value: int, cycles: int) -> Plan:
        with Session(engine, expire_on_commit=False) as session:
            merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
            plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.name == PLAN)).one()
            plan.retention_kind, plan.retention_value, plan.retention_cycles = kind, value, cycles
            session.add(plan)
            session.commit()
            return plan

    plan = set_offer(kind, value, cycles)
    try:
        yield plan
    finally:
        set_offer("", 0, 0)


def _subscription(engine, subscriber_id) -> Subscription:
    with Session(engine) as session:
        return session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()


@pytest.mark.parametrize("language", ["en", "es"])
def test_accepting_the_offer_keeps_the_subscription_at_the_discounted_price(server, page, language):
    engine = server["engine"]
    with offer_on_plan(engine) as plan:
        subscriber_id, token = make_subscriber(engine, plan=PLAN, language=language)
        open_portal(page, server, token)
        offer = plan_offer(plan)
        title, body = offer_texts(offer, language)
        if language == "en":
            assert title == "Before you go: 20% off your next 3 invoices"
        else:
            assert title == "Antes de irse: 20\xa0% de descuento en sus próximas 3 facturas"
        page.get_by_test_id("cancel-button").click()
        dialog = page.get_by_test_id("offer-dialog")
        expect(dialog).to_be_visible()
        expect(page.get_by_test_id("offer-title")).to_have_text(title)
        expect(page.get_by_test_id("offer-body")).to_have_text(body)
        assert_no_horizontal_scroll(page)
        assert_accessible(page)
        screenshot(page, f"retention-offer-{language}")
        page.get_by_role("button", name=i18n.t(language, "offer_accept")).click()
        expect(dialog).to_be_hidden()
        page.get_by_text(i18n.t(language, "toast_offer_accepted")).first.wait_for()
        discounted = i18n.fmt_money(Money(plan.amount_minor - plan.amount_minor * 20 // 100, plan.currency), language)
        expect(page.get_by_test_id("next-amount")).to_have_text(discounted)
        expect(page.get_by_test_id("cancel-button")).to_be_visible()  # still subscribed, may still cancel
        screenshot(page, f"retention-accepted-{language}")
    sub = _subscription(engine, subscriber_id)
    assert not sub.cancel_at_period_end and sub.status == "active"
    assert (sub.discount_kind, sub.discount_value, sub.discount_cycles_left) == ("percent", 20, 3)


def test_no_thanks_goes_on_to_the_cancellation(server, page):
    engine = server["engine"]
    with offer_on_plan(engine):
        subscriber_id, token = make_subscriber(engine, plan=PLAN)
        open_portal(page, server, token)
        page.get_by_test_id("cancel-button").click()
        page.get_by_role("button", name="No thanks, cancel").click()
        dialog = page.get_by_role("dialog", name="Cancel your subscription?")
        dialog.wait_for()
        dialog.get_by_text("I'm not using it").click()
        dialog.get_by_role("button", name="Cancel subscription").click()
        page.get_by_role("button", name="Undo cancellation").wait_for()
        # Undo, then cancel again: the offer is not shown a second time.
        page.get_by_role("button", name="Undo cancellation").click()
        page.get_by_test_id("cancel-button").click()
        page.get_by_role("dialog", name="Cancel your subscription?").wait_for()
        assert page.get_by_test_id("offer-dialog").count() == 0
    with Session(engine) as session:
        offers = session.exec(select(RetentionOffer).where(RetentionOffer.subscriber_id == subscriber_id)).all()
    assert len(offers) == 1 and offers[0].declined_at is not None and offers[0].accepted_at is None
    assert _subscription(engine, subscriber_id).discount_cycles_left == 0


def test_the_merchant_sets_the_offer_and_sees_the_dashboard_card(server, page):
    engine = server["engine"]
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    card = page.get_by_test_id("retention-card")
    expect(card).to_be_visible()
    assert int(page.get_by_test_id("retention-shown").inner_text()) >= 0
    with offer_on_plan(engine, "", 0, 0) as plan:
        page.goto(f"{server['base_url']}/console/plans/{plan.id}")
        section = page.get_by_test_id("retention-section")
        section.wait_for()
        page.get_by_label("Offer").click()
        page.get_by_role("option", name="Percentage off").click()
        page.get_by_label("Percent off (1-100)").fill("15")
        page.get_by_label("For how many invoices (1-24)").fill("2")
        page.get_by_test_id("retention-save").click()
        section.get_by_text("Retention offer saved.").wait_for()
        with Session(engine) as session:
            saved = session.get(Plan, plan.id)
        assert (saved.retention_kind, saved.retention_value, saved.retention_cycles) == ("percent", 15, 2)
        page.get_by_label("For how many invoices (1-24)").fill("40")
        page.get_by_test_id("retention-save").click()
        section.get_by_role("alert").wait_for()
        assert_no_horizontal_scroll(page)
        section.scroll_into_view_if_needed()
        screenshot(page, "console-retention-offer")
