"""Step-up verification in the portal, on desktop and phone, in English and Spanish: with the
merchant's switch on, a subscriber who cancels is asked for the code emailed to them (read here from
the outbox), a wrong code is refused, the right one lets the same cancellation go on."""

from __future__ import annotations

import contextlib
import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from portal_app import i18n
from portal_app.billing import demo
from portal_app.models import EmailMessage, Merchant, Subscriber, Subscription

from .conftest import assert_accessible, assert_no_horizontal_scroll, make_subscriber, open_portal, screenshot

pytestmark = pytest.mark.e2e


@contextlib.contextmanager
def step_up_on(engine):
    """The demo merchant asks for the emailed code during the block (and not after, for other tests)."""

    def switch(value: bool) -> None:
        with Session(engine) as session:
            merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
            merchant.step_up_required = value
            session.add(merchant)
            session.commit()

    switch(True)
    try:
        yield
    finally:
        switch(False)


def _codes(engine, subscriber_id) -> list[str]:
    with Session(engine) as session:
        rows = session.exec(
            select(EmailMessage)
            .where(EmailMessage.subscriber_id == subscriber_id, EmailMessage.kind == "step_up_code")
            .order_by(EmailMessage.id)
        ).all()
    return [re.search(r"\b(\d{6})\b", row.body_text).group(1) for row in rows]


@pytest.mark.parametrize("language", ["en", "es"])
def test_cancelling_asks_for_the_emailed_code_then_goes_on(server, page, language):
    engine = server["engine"]
    t = lambda key, **kw: i18n.t(language, key, **kw)  # noqa: E731
    with step_up_on(engine):
        subscriber_id, token = make_subscriber(engine, language=language)
        with Session(engine) as session:
            email = session.get(Subscriber, subscriber_id).email
        open_portal(page, server, token)
        page.get_by_test_id("cancel-button").click()
        dialog = page.get_by_role("dialog", name=t("cancel_title"))
        dialog.wait_for()
        dialog.get_by_text(t("reason_too_expensive")).click()
        dialog.get_by_role("button", name=t("confirm_cancel")).click()

        step = page.get_by_test_id("step-up-dialog")
        expect(step).to_be_visible()
        expect(page.get_by_test_id("step-up-hint")).to_have_text(t("step_up_sent", email=email[0] + "***@example.com"))
        (code,) = _codes(engine, subscriber_id)
        assert _subscription(engine, subscriber_id).cancel_at_period_end is False
        assert code not in page.content()
        assert_no_horizontal_scroll(page)
        assert_accessible(page)
        screenshot(page, f"step-up-{language}")

        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        page.get_by_test_id("step-up-code").fill(wrong)
        page.get_by_test_id("step-up-verify").click()
        expect(step.get_by_role("alert")).to_have_text(
            i18n.refusal_text("That code is not right. Please check the email and try again.", language)
        )
        assert _subscription(engine, subscriber_id).cancel_at_period_end is False

        page.get_by_test_id("step-up-code").fill(code)
        page.get_by_test_id("step-up-verify").click()
        expect(step).to_be_hidden()
        page.get_by_role("button", name=t("undo_cancel")).wait_for()
        screenshot(page, f"step-up-done-{language}")
    sub = _subscription(engine, subscriber_id)
    assert sub.cancel_at_period_end and sub.cancellation_reason == "too_expensive"


def _subscription(engine, subscriber_id) -> Subscription:
    with Session(engine) as session:
        return session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()


def test_the_merchant_turns_email_verification_on_in_settings(server, page):
    engine = server["engine"]
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    page.goto(f"{server['base_url']}/console/settings")
    switch = page.get_by_role("switch")
    switch.wait_for()
    expect(switch).to_have_attribute("data-state", "unchecked")
    try:
        page.get_by_text("Require email verification for changes").click()
        expect(switch).to_have_attribute("data-state", "checked")
        page.get_by_text("Email verification is on.").first.wait_for()
        with Session(engine) as session:
            assert session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one().step_up_required
        assert_no_horizontal_scroll(page)
        page.get_by_test_id("step-up-section").scroll_into_view_if_needed()
        screenshot(page, "console-step-up-setting")
        page.get_by_text("Require email verification for changes").click()
        expect(switch).to_have_attribute("data-state", "unchecked")
        page.get_by_text("Email verification is off.").first.wait_for()
    finally:
        with Session(engine) as session:
            merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
            merchant.step_up_required = False
            session.add(merchant)
            session.commit()
    with Session(engine) as session:
        assert not session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one().step_up_required
