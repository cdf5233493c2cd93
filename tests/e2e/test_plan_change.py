"""Change plan in the portal, driven like a subscriber (desktop and 375 px phone, English and Spanish):
the preview shows what is paid today and the next renewal, Confirm switches the plan and the prorated
invoice appears; a downgrade is scheduled for the period end and can be undone."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal_app.billing.money import Money
from portal_app.billing.proration import prorate
from portal_app.models import Invoice, Plan, Subscription, utcnow

from .conftest import assert_no_horizontal_scroll, make_subscriber, open_portal, screenshot

pytestmark = pytest.mark.e2e

WORDS = {
    "en": {"change": "Change plan", "review": "Review change", "confirm": "Confirm change", "pay": "You pay {} today"},
    "es": {
        "change": "Cambiar de plan",
        "review": "Revisar el cambio",
        "confirm": "Confirmar el cambio",
        "pay": "Hoy paga {}",
    },
}


def _subscription(engine, subscriber_id) -> Subscription:
    with Session(engine) as session:
        return session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()


def _plan(engine, name: str) -> Plan:
    with Session(engine) as session:
        return session.exec(select(Plan).where(Plan.name == name)).one()


@pytest.mark.parametrize("lang", ["en", "es"])
def test_upgrade_preview_confirm_and_the_invoice(server, page, lang):
    engine, words = server["engine"], WORDS[lang]
    subscriber_id, token = make_subscriber(engine, language=lang)
    open_portal(page, server, token)
    sub, pro = _subscription(engine, subscriber_id), _plan(engine, "Pro Monthly")
    # What the engine owes today, computed independently of the page: 3 days of the period are used.
    owed = prorate(2900, pro.amount_minor, sub.current_period_start, sub.current_period_end, utcnow())
    amount = Money(owed.net_minor, "USD").format(lang)

    page.get_by_test_id("change-plan-button").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id(f"pc-option-{pro.id}").click()
    dialog.get_by_role("button", name=words["review"]).click()
    headline = page.get_by_test_id("pc-headline")
    headline.wait_for()
    assert headline.inner_text() == words["pay"].format(amount)
    assert headline.get_attribute("data-kind") == "charge"
    assert Money(4900, "USD").format(lang) in page.get_by_test_id("pc-next").inner_text()
    assert_no_horizontal_scroll(page)
    screenshot(page, f"portal-plan-change-preview-{lang}")

    dialog.get_by_role("button", name=words["confirm"]).click()
    page.get_by_test_id("plan-name").filter(has_text="Pro Monthly").wait_for()
    with Session(engine) as session:
        invoice = session.exec(
            select(Invoice).where(Invoice.subscriber_id == subscriber_id).order_by(Invoice.id.desc())
        ).first()
    assert (invoice.total_minor, invoice.status) == (owed.net_minor, "paid")
    page.get_by_text(invoice.number).first.wait_for()
    assert _subscription(engine, subscriber_id).plan_id == pro.id
    assert_no_horizontal_scroll(page)
    screenshot(page, f"portal-plan-changed-{lang}")


def test_a_downgrade_waits_for_the_period_end_and_can_be_undone(server, page):
    engine = server["engine"]
    subscriber_id, token = make_subscriber(engine, plan="Pro Monthly")
    open_portal(page, server, token)
    basic = _plan(engine, "Basic Monthly")
    page.get_by_test_id("change-plan-button").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_test_id(f"pc-option-{basic.id}").click()
    dialog.get_by_role("button", name="Review change").click()
    headline = page.get_by_test_id("pc-headline")
    headline.wait_for()
    assert headline.get_attribute("data-kind") == "scheduled"
    dialog.get_by_role("button", name="Confirm change").click()
    pending = page.get_by_test_id("pc-pending")
    pending.wait_for()
    assert pending.inner_text().startswith("Changes to Basic Monthly on ")
    assert _subscription(engine, subscriber_id).pending_plan_id == basic.id
    screenshot(page, "portal-plan-change-scheduled")
    page.get_by_test_id("pc-undo").click()
    page.get_by_test_id("pc-pending").wait_for(state="detached")
    assert _subscription(engine, subscriber_id).pending_plan_id is None


def test_the_merchant_sets_downgrade_timing_and_a_plans_switch_list(server, page):
    from portal_app import routes
    from portal_app.billing import demo
    from portal_app.models import Merchant, PlanSwitch

    engine = server["engine"]

    def timing() -> str:
        with Session(engine) as session:
            return session.exec(select(Merchant.downgrade_timing).where(Merchant.slug == demo.MERCHANT_SLUG)).one()

    def targets(plan_id: int) -> set[int]:
        with Session(engine) as session:
            return set(session.exec(select(PlanSwitch.target_plan_id).where(PlanSwitch.plan_id == plan_id)))

    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    page.goto(server["base_url"] + routes.CONSOLE_SETTINGS)
    section = page.get_by_test_id("downgrade-timing")
    section.get_by_role("radio", name="Immediately", exact=False).click()
    page.get_by_text("Downgrade timing saved.").wait_for()
    assert timing() == "immediately"
    section.get_by_role("radio", name="At the end of the paid period", exact=False).click()
    page.get_by_text("Downgrade timing saved.").first.wait_for()

    basic, pro, yearly = (_plan(engine, name) for name in ("Basic Monthly", "Pro Monthly", "Pro Yearly"))
    page.goto(server["base_url"] + routes.console_plan_url(basic.id))
    switches = page.get_by_test_id("plan-switches")
    switches.get_by_test_id("switch-Pro Monthly").wait_for()
    assert switches.get_by_test_id("switch-Pro Monthly").get_attribute("data-state") == "checked"
    assert switches.get_by_test_id("switch-Pro Yearly").get_attribute("data-state") == "unchecked"
    assert_no_horizontal_scroll(page)
    screenshot(page, "console-plan-switches")
    switches.get_by_test_id("switch-Pro Yearly").click()
    switches.get_by_role("button", name="Save plan switches").click()
    page.get_by_text("Plan switches saved.").wait_for()
    assert targets(basic.id) == {pro.id, yearly.id}
    switches.get_by_test_id("switch-Pro Yearly").click()
    switches.get_by_role("button", name="Save plan switches").click()
    page.wait_for_timeout(500)
    page.get_by_text("Plan switches saved.").first.wait_for()
    # Put back as the demo had it (the server is shared by the session's tests).
    for _ in range(20):
        if targets(basic.id) == {pro.id} and timing() == "period_end":
            break
        page.wait_for_timeout(250)
    assert targets(basic.id) == {pro.id} and timing() == "period_end"
