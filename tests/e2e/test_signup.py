"""The hosted signup page in Chromium, desktop and 375 px: sign up with 4242…, land on /portal with no
token in the address bar and the welcome email in the outbox; the 3DS card; Spanish; not available."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from sqlmodel import Session, select

from portal_app.billing.demo import MERCHANT_SLUG
from portal_app.models import EmailMessage, Merchant, Plan, Subscriber

from .conftest import AXE_JS, assert_accessible, assert_no_horizontal_scroll, assert_tap_targets, screenshot

pytestmark = pytest.mark.e2e


def _plan_id(engine, name: str = "Basic Monthly") -> int:
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == MERCHANT_SLUG)).one()
        return session.exec(select(Plan.id).where(Plan.merchant_id == merchant.id, Plan.name == name)).one()


def _email(page, tag: str) -> str:
    return f"signup-{tag}-{page.viewport_name}-{time.time_ns()}@example.com"


def _fill(page, *, name: str, email: str, number: str, labels=("Full name", "Email", "Card number")) -> None:
    page.get_by_label(labels[0]).fill(name)
    page.get_by_label(labels[1]).fill(email)
    page.get_by_label(labels[2]).fill(number)
    page.get_by_label("(MM/").fill("12/30")
    page.get_by_label("(CVC)").fill("123")


def _landed(page, server) -> None:
    """On the portal, the grant's token gone from the address bar (/portal, or /portal/ as served)."""
    try:
        page.wait_for_url(re.compile(re.escape(server["base_url"]) + r"/portal/?$"), timeout=45_000)
    except PlaywrightTimeoutError as err:
        # Say where the browser stayed and what it showed (a refusal, a spinner), not only "timeout".
        screenshot(page, "signup-not-landed")
        raise AssertionError(
            f"never reached /portal: at {page.url}, showing {page.inner_text('body')[:800]!r}"
        ) from err
    page.get_by_test_id("plan-name").wait_for()
    assert "/session" not in page.url


def _welcome(engine, email: str) -> EmailMessage:
    with Session(engine) as session:
        return session.exec(
            select(EmailMessage).where(EmailMessage.to_address == email, EmailMessage.kind == "invitation")
        ).one()


def test_sign_up_with_a_card_lands_in_the_portal_with_the_welcome_email(server, page):
    url = f"{server['base_url']}/signup/{MERCHANT_SLUG}/{_plan_id(server['engine'])}"
    page.goto(url)
    page.get_by_test_id("signup-title").wait_for()
    assert "Subscribe to Basic Monthly" in page.get_by_test_id("signup-title").inner_text()
    assert "Test mode" in page.content()
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)
    if AXE_JS.exists():  # axe-core comes with `make dev-deps` (tools/node_modules)
        assert_accessible(page)
    screenshot(page, "signup-form")
    email = _email(page, "visa")
    _fill(page, name="Sam Signup", email=email, number="4242 4242 4242 4242")
    page.get_by_test_id("signup-submit").click()
    _landed(page, server)
    assert page.get_by_test_id("subscription-status").get_attribute("data-status") == "active"
    assert "4242" in page.get_by_test_id("card-label").inner_text()
    assert_no_horizontal_scroll(page)
    screenshot(page, "signup-landed-portal")
    welcome = _welcome(server["engine"], email)
    assert "/portal/" in welcome.body_text
    # Back on the signup page with the same email: the same answer up to the charge, then "check your email".
    page.goto(url)
    page.get_by_test_id("signup-title").wait_for()
    _fill(page, name="Sam Again", email=email, number="4242 4242 4242 4242")
    page.get_by_test_id("signup-submit").click()
    page.get_by_test_id("signup-done").wait_for()
    assert email in page.get_by_test_id("signup-done").inner_text()
    assert page.get_by_test_id("signup-done").evaluate("e => e.scrollWidth <= e.clientWidth")  # long emails wrap
    assert_no_horizontal_scroll(page)
    screenshot(page, "signup-check-email")
    with Session(server["engine"]) as session:
        assert len(session.exec(select(Subscriber).where(Subscriber.email == email)).all()) == 1
        assert session.exec(
            select(EmailMessage).where(EmailMessage.to_address == email, EmailMessage.kind == "new_link")
        ).one()


def test_a_3ds_card_is_approved_with_the_bank_then_lands(server, page):
    page.goto(f"{server['base_url']}/signup/{MERCHANT_SLUG}/{_plan_id(server['engine'])}")
    page.get_by_test_id("signup-title").wait_for()
    email = _email(page, "3ds")
    _fill(page, name="Tess Threeds", email=email, number="4000 0025 0000 3155")
    page.get_by_test_id("signup-submit").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    screenshot(page, "signup-3ds")
    dialog.get_by_role("button", name="Confirm").click()
    _landed(page, server)
    _welcome(server["engine"], email)


def test_spanish_signup_speaks_formal_spanish_and_welcomes_in_spanish(server, page):
    page.goto(f"{server['base_url']}/signup/{MERCHANT_SLUG}/{_plan_id(server['engine'])}?lang=es")
    page.get_by_test_id("signup-title").wait_for()
    assert "Suscríbase a Basic Monthly" in page.get_by_test_id("signup-title").inner_text()
    email = _email(page, "es")
    _fill(
        page,
        name="Lucía Pérez",
        email=email,
        number="4242 4242 4242 4242",
        labels=("Nombre completo", "Correo electrónico", "Número de tarjeta"),
    )
    assert_no_horizontal_scroll(page)
    screenshot(page, "signup-form-es")
    page.get_by_test_id("signup-submit").click()
    _landed(page, server)
    with Session(server["engine"]) as session:
        assert session.exec(select(Subscriber.language).where(Subscriber.email == email)).one() == "es"
    welcome = _welcome(server["engine"], email)
    assert "Your billing portal" not in welcome.subject


def test_an_unknown_plan_is_not_available(server, page):
    page.goto(f"{server['base_url']}/signup/{MERCHANT_SLUG}/999999")
    page.get_by_test_id("signup-unavailable").wait_for()
    assert "not available" in page.content()
    screenshot(page, "signup-not-available")
