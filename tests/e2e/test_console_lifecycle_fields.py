"""The console's trial and pausing fields on a plan page and the trial reminder in Settings, saved
and shown again after a reload; a value out of range is refused inline."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.models import Merchant, Plan

from .conftest import assert_no_horizontal_scroll, screenshot

pytestmark = pytest.mark.e2e


def _sign_in(page, server) -> None:
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_plan_trial_and_pausing_fields_and_the_trial_reminder(server, page):
    engine = server["engine"]
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.name == "Basic Monthly")).one()
        plan_id, merchant_id = plan.id, merchant.id
    _sign_in(page, server)
    page.goto(server["base_url"] + routes.console_plan_url(plan_id))
    form = page.get_by_role("form", name="Free trial and pausing")
    form.wait_for()
    form.get_by_label("Free trial (days)").fill("400")
    form.get_by_role("button", name="Save trial and pausing").click()
    page.get_by_test_id("plan-lifecycle-error").wait_for()
    form.get_by_label("Free trial (days)").fill("7")
    form.get_by_label("Pausing (longest pause in days)").fill("21")
    form.get_by_role("button", name="Save trial and pausing").click()
    page.get_by_text("Trial and pausing saved.").wait_for()
    with Session(engine) as session:
        saved = session.get(Plan, plan_id)
        assert (saved.trial_days, saved.pause_max_days) == (7, 21)
        saved.trial_days = saved.pause_max_days = 0  # leave the demo plan as other tests expect it
        session.add(saved)
        session.commit()
    assert_no_horizontal_scroll(page)
    screenshot(page, "console-plan-lifecycle")

    page.goto(server["base_url"] + routes.CONSOLE_SETTINGS)
    reminder = page.get_by_role("form", name="Trial reminder")
    reminder.wait_for()
    field = reminder.get_by_label("Remind subscribers before a trial ends (days)")
    field.fill("5")
    reminder.get_by_role("button", name="Save reminder").click()
    page.get_by_text("Trial reminder saved.").wait_for()
    with Session(engine) as session:
        assert session.get(Merchant, merchant_id).trial_reminder_days == 5
    page.reload()
    page.get_by_role("form", name="Trial reminder").wait_for()
    page.wait_for_function(
        "document.getElementById('trial-reminder-days') && document.getElementById('trial-reminder-days').value === '5'"
    )
