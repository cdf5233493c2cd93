"""The console outbox in a browser: an email the SMTP server refused shows as failed, with the
server's answer and a Resend button; Resend puts it back (this server runs without SMTP, so back in
the outbox) and the timeline records who did it. Desktop and 375 px phone."""

from __future__ import annotations

import re
import time

import pytest
from sqlmodel import Session, select

from portal_app.billing import demo
from portal_app.models import AuditEvent, EmailMessage, Merchant
from tests.smtp_servers import failed_email

from .conftest import assert_accessible, assert_no_horizontal_scroll, assert_tap_targets, screenshot
from .console_nav import open_nav

pytestmark = pytest.mark.e2e


def test_a_failed_email_shows_and_resend_puts_it_back(server, page):
    engine = server["engine"]
    address = f"bounce-{page.viewport_name}-{time.time_ns()}@example.com"
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
    email_id = failed_email(engine, merchant.id, address)

    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    open_nav(page, "Sent emails", "Sent emails")

    message = page.get_by_test_id("outbox-message").filter(has_text=address)
    message.wait_for()
    assert message.get_by_test_id("email-status").inner_text() == "Failed"
    assert "refused this email for good" in message.get_by_test_id("email-delivery").inner_text()
    error = message.get_by_test_id("email-error").inner_text()
    assert "550" in error and address not in error  # the server's answer, the address reduced to its domain
    resend = message.get_by_role("button", name=re.compile(r"^Resend"))
    assert resend.is_visible()
    screenshot(page, "console-outbox-failed")
    assert_no_horizontal_scroll(page)
    assert_accessible(page)
    assert_tap_targets(page)

    resend.click()
    page.get_by_text("No mail server is configured: the email is kept here, not sent.").wait_for()
    message.get_by_test_id("email-status").filter(has_text="Not sent").wait_for()
    assert message.get_by_role("button", name=re.compile(r"^Resend")).count() == 0
    assert message.get_by_test_id("email-error").count() == 0
    screenshot(page, "console-outbox-resent")
    with Session(engine) as session:
        row = session.get(EmailMessage, email_id)
        assert (row.status, row.attempts, row.error) == ("outbox", 0, "")
        events = session.exec(select(AuditEvent).where(AuditEvent.kind == "email_resent")).all()
        assert any(f'"email": {email_id}' in e.detail and e.actor.startswith("user:") for e in events)
