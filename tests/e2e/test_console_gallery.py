"""Every console page at 1280 px and 375 px: a screenshot of each (test-artifacts/screenshots/console-*),
axe-core without serious or critical violations (landmarks included), no sideways scrolling and 44 px
tap targets; and the user's guide's Step 1 done literally: Sales > Recurring Plans -> the plan -> the
subscriber's name -> the Customer Portal URL with its copy button."""

from __future__ import annotations

import time

import pytest
from sqlmodel import Session, select

from portal_app import routes
from portal_app.billing import demo
from portal_app.billing.subscription_views import current_subscription
from portal_app.billing.subscriptions import cancel_subscription
from portal_app.models import EmailMessage, Subscriber, utcnow

from .conftest import (
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    make_subscriber,
    screenshot,
)
from .console_nav import open_menu, open_nav

pytestmark = pytest.mark.e2e


def _check(page, name: str, *, top: bool = True) -> None:
    page.mouse.move(1, 1)  # no hover left on the link just clicked
    if top:  # a full-page shot of a scrolled page draws the sticky menu mid-page
        page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(450)  # dialogs and sheets done animating in
    screenshot(page, f"console-{name}")
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    assert_tap_targets(page)
    # The navigation and its menu button live outside <main>: the same 44 px rule.
    small = page.evaluate(
        """() => [...document.querySelectorAll('header a, header button, [role=dialog] a, [role=dialog] button')]
            .filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 44)
            .map(e => (e.innerText || e.getAttribute('aria-label') || '').slice(0, 40))"""
    )
    assert not small, small


def _sign_in(page, server) -> None:
    page.goto(f"{server['base_url']}{routes.CONSOLE}")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard", level=1).wait_for()


def _header_height(page) -> float:
    return page.evaluate(
        "Math.max(...[...document.querySelectorAll('header')].filter(h => h.offsetParent !== null)"
        ".map(h => h.getBoundingClientRect().height))"
    )


def test_step_1_of_the_guide(server, page):
    """ "Navigate to Sales > Recurring Plans in the left-hand menu. Select the plan. Click on the
    subscriber's name. Copy the Customer Portal URL provided in the subscriber's profile."""
    _sign_in(page, server)
    phone = page.viewport_name == "phone"
    menu = page.get_by_role("button", name="Menu", exact=True)
    if phone:
        assert _header_height(page) < 80  # a slim bar, not the ~300 px of a wrapped top menu
        assert menu.is_visible()
    else:
        assert not menu.is_visible()
        box = page.get_by_role("navigation", name="Console").bounding_box()
        assert box["x"] < 40 and box["width"] < 300  # on the left, as the guide says
    nav = open_menu(page)
    sales = nav.get_by_role("group", name="Sales")
    assert sales.get_by_role("link").all_inner_texts() == ["Recurring Plans", "Subscribers"]
    assert nav.get_by_role("link", name="Dashboard").get_attribute("aria-current") == "page"
    sales.get_by_role("link", name="Recurring Plans").click()
    page.get_by_role("heading", name="Recurring Plans", level=1).wait_for()
    assert page.title().startswith("Recurring Plans")
    assert open_menu(page).get_by_role("link", name="Recurring Plans").get_attribute("aria-current") == "page"
    if phone:
        page.keyboard.press("Escape")
        page.get_by_role("dialog").wait_for(state="hidden")
    page.get_by_test_id("plan-link").filter(has_text="Basic Monthly").click()
    page.get_by_test_id("plan-title").filter(has_text="Basic Monthly").wait_for()
    page.get_by_test_id("subscriber-link").filter(has_text=demo.MARCUS.name).click()
    page.get_by_test_id("profile-name").filter(has_text=demo.MARCUS.name).wait_for()
    field = page.get_by_label("Customer Portal URL")
    assert field.is_visible()
    assert page.get_by_role("button", name="Copy link").is_enabled()


def test_every_console_page(server, page):
    base = server["base_url"]
    engine = server["engine"]
    canceling_name = f"Gallery Canceling {page.viewport_name}"
    canceling_id, _ = make_subscriber(engine, name=canceling_name)
    with Session(engine) as session:
        subscriber = session.get(Subscriber, canceling_id)
        sub = current_subscription(session, subscriber.merchant_id, canceling_id)
        cancel_subscription(
            session, sub.id, merchant_id=subscriber.merchant_id, actor="test", now=utcnow(), mode="at_period_end"
        )
        session.commit()

    page.goto(f"{base}{routes.CONSOLE}")
    page.get_by_role("heading", name="Merchant console").wait_for()
    _check(page, "login")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("login-error").wait_for()
    page.wait_for_function("(v) => document.getElementById('console-email').value === v", arg=demo.OWNER_EMAIL)
    _check(page, "login-error")

    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard", level=1).wait_for()
    page.locator(".recharts-surface").first.wait_for()
    page.get_by_test_id("metric-deleted").wait_for()
    _check(page, "dashboard")
    if page.viewport_name == "phone":
        open_menu(page)
        _check(page, "menu")
        page.keyboard.press("Escape")
        page.get_by_role("dialog").wait_for(state="hidden")

    open_nav(page, "Recurring Plans", "Recurring Plans")
    _check(page, "plans")
    page.get_by_test_id("plan-link").filter(has_text="Basic Monthly").click()
    page.get_by_test_id("plan-title").filter(has_text="Basic Monthly").wait_for()
    row = page.get_by_test_id("subscriber-row").filter(has_text=canceling_name)
    row.wait_for()
    assert "Active · cancels" in row.inner_text()
    _check(page, "plan")

    open_nav(page, "Subscribers", "Subscribers")
    page.get_by_label("Name or email").fill("ÑUÑEZ")
    page.get_by_role("button", name="Search").click()
    page.wait_for_function("document.querySelectorAll('[data-testid=subscriber-row]').length === 1")
    assert demo.ZOE.name in page.get_by_test_id("subscriber-row").inner_text()
    _check(page, "subscribers-search")
    page.get_by_label("Name or email").fill("gallery canceling " + page.viewport_name)
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("subscriber-row").filter(has_text=canceling_name).wait_for()
    assert "Active · cancels" in page.get_by_test_id("subscriber-row").inner_text()

    page.get_by_test_id("subscriber-link").filter(has_text=canceling_name).click()
    page.get_by_test_id("profile-name").filter(has_text=canceling_name).wait_for()
    assert page.get_by_test_id("profile-status").inner_text().startswith("Active · cancels")
    assert page.get_by_test_id("profile-status").get_attribute("data-status") == "canceling"
    _check(page, "profile")
    page.get_by_role("button", name="Regenerate link").click()
    dialog = page.get_by_role("alertdialog")
    dialog.wait_for()
    assert "already emailed or shared" in dialog.inner_text()
    _check(page, "regenerate-dialog")
    dialog.get_by_role("button", name="Keep the current link").click()
    dialog.wait_for(state="hidden")

    open_nav(page, "Sent emails", "Sent emails")
    message = page.get_by_test_id("outbox-message").first
    message.locator("summary").click()
    body = message.get_by_test_id("email-body")
    assert "monospace" not in body.evaluate("e => getComputedStyle(e).fontFamily")
    assert body.evaluate("e => getComputedStyle(e).whiteSpace") in ("pre-line", "pre-wrap")
    assert "outbox" not in page.locator("main").inner_text().lower()
    _check(page, "sent-emails")

    open_nav(page, "Webhooks", "Webhooks")
    _check(page, "webhooks")
    open_nav(page, "API keys", "Settings")
    page.get_by_role("heading", name="API keys").scroll_into_view_if_needed()
    _check(page, "api-keys", top=False)
    open_nav(page, "Settings", "Settings")
    _check(page, "settings")


def test_a_failed_sign_in_keeps_the_email(server, page):
    email = f"typed-{page.viewport_name}-{time.time_ns()}@example.com"
    page.goto(f"{server['base_url']}{routes.CONSOLE}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_test_id("login-error").wait_for()
    page.wait_for_function("(v) => document.getElementById('console-email').value === v", arg=email)
    assert email not in page.url and "example.com" not in page.url
    # A fresh visit without an error starts empty again.
    page.goto(f"{server['base_url']}{routes.CONSOLE}")
    page.get_by_role("heading", name="Merchant console").wait_for()
    page.wait_for_timeout(500)
    assert page.get_by_label("Email").input_value() == ""
    assert page.evaluate("sessionStorage.getItem('console-login-email')") is None


def test_regenerate_or_regenerate_and_email(server, page):
    engine = server["engine"]
    subscriber_id, token = make_subscriber(engine, name=f"Regen Person {page.viewport_name}")

    def invitations() -> list[EmailMessage]:
        with Session(engine) as session:
            return session.exec(
                select(EmailMessage).where(
                    EmailMessage.subscriber_id == subscriber_id, EmailMessage.kind == "invitation"
                )
            ).all()

    before = len(invitations())
    _sign_in(page, server)
    page.goto(server["base_url"] + routes.console_subscriber_url(subscriber_id))
    page.get_by_test_id("profile-name").wait_for()

    page.get_by_role("button", name="Regenerate link").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Regenerate", exact=True).click()
    page.get_by_text("New portal link created. The old link no longer works.").wait_for()
    assert len(invitations()) == before
    page.goto(f"{server['base_url']}/portal/{token}")
    page.get_by_role("heading", name="This link was replaced by a newer one").wait_for()

    page.goto(server["base_url"] + routes.console_subscriber_url(subscriber_id))
    page.get_by_test_id("profile-name").wait_for()
    page.get_by_role("button", name="Copy link").wait_for()
    page.get_by_role("button", name="Show link").click()
    page.wait_for_function("document.querySelector('[data-testid=portal-url]').value.includes('/portal/')")
    second = page.get_by_test_id("portal-url").input_value()
    page.get_by_role("button", name="Regenerate link").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Regenerate and email the new link").click()
    page.get_by_text("emailed to", exact=False).wait_for()
    mails = invitations()
    assert len(mails) == before + 1
    assert second.rsplit("/", 1)[1] not in mails[-1].body_text and "/portal/" in mails[-1].body_text
    page.goto(second)
    page.get_by_role("heading", name="This link was replaced by a newer one").wait_for()


def test_settings_business_details_and_brand_colour(server, page):
    _sign_in(page, server)
    open_nav(page, "Settings", "Settings")
    # The form is filled in (and re-keyed) when the page's data arrives: type after that, as a person would.
    page.wait_for_function("document.querySelector('[data-testid=brand-swatch]')?.dataset.color")
    page.get_by_label("Brand colour").fill("#FFEE00")
    page.get_by_role("button", name="Save business details").click()
    error = page.get_by_test_id("field-error-brand_color")
    error.wait_for()
    assert "contrast" in error.inner_text()
    assert page.get_by_test_id("brand-swatch").get_attribute("data-color") == "#FFEE00"
    assert page.get_by_label("Brand colour").get_attribute("aria-invalid") == "true"
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "console-settings-brand-refused")
    page.get_by_label("Website").fill("http://acme.example")
    page.get_by_label("Brand colour").fill("#0B5CAB")
    page.get_by_role("button", name="Save business details").click()
    page.get_by_test_id("field-error-website_url").wait_for()
    page.get_by_label("Website").fill("https://acme.example")
    page.get_by_label("Legal name").fill("Acme Fitness LLC")
    page.get_by_label("Tax ID").fill("US-12-3456789")
    page.get_by_label("Address").fill("1 Main Street\nSpringfield")
    page.get_by_role("button", name="Save business details").click()
    page.get_by_text("Business details saved.").wait_for()
    page.reload()
    page.get_by_role("heading", name="Settings", level=1).wait_for()
    page.wait_for_function("document.getElementById('biz-website_url').value === 'https://acme.example'")
    assert page.get_by_label("Legal name").input_value() == "Acme Fitness LLC"
    assert page.get_by_label("Tax ID").input_value() == "US-12-3456789"
    assert page.get_by_label("Address").input_value() == "1 Main Street\nSpringfield"
    assert page.get_by_test_id("brand-swatch").get_attribute("data-color") == "#0B5CAB"
    # Back to the defaults so other tests see the demo merchant as seeded.
    for label in ("Website", "Brand colour", "Legal name", "Tax ID", "Address"):
        page.get_by_label(label).fill("")
    page.get_by_role("button", name="Save business details").click()
    page.get_by_text("Business details saved.").wait_for()
