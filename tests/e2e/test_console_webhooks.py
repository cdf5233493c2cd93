"""Console webhooks in a browser: add an endpoint (the signing secret shown once, with Copy), see
its delivery log fill in as the runner delivers (a failed try, then delivered, signed with that
secret), resend a delivery, delete the endpoint. Desktop and 375 px phone."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select
from standardwebhooks import Webhook

from portal_app.billing import demo
from portal_app.billing.objects import SubscriberObject
from portal_app.billing.webhooks_out.delivery import deliver_webhooks
from portal_app.billing.webhooks_out.events import record_event
from portal_app.models import Merchant, Subscriber, utcnow
from tests.webhook_helpers import receiver

from .conftest import AXE_JS, assert_accessible, assert_no_horizontal_scroll, assert_tap_targets, screenshot
from .console_nav import open_nav

pytestmark = pytest.mark.e2e


def _emit(engine) -> str:
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        subscriber = session.exec(select(Subscriber).where(Subscriber.merchant_id == merchant.id)).first()
        event_id = record_event(
            session, merchant_id=merchant.id, type="portal_link.regenerated", obj=SubscriberObject.of(subscriber)
        )
        session.commit()
        return event_id


def test_add_an_endpoint_watch_its_deliveries_resend_and_delete(server, page):
    engine = server["engine"]
    page.goto(f"{server['base_url']}/console")
    page.get_by_label("Email").fill(demo.OWNER_EMAIL)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()
    open_nav(page, "Webhooks", "Webhooks")

    with receiver(codes=[500]) as r:
        page.get_by_test_id("webhook-add").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_label("Endpoint URL").fill("ftp://nope.example")
        dialog.get_by_test_id("webhook-add-submit").click()
        dialog.get_by_text("Enter an http(s):// URL.").wait_for()
        screenshot(page, "console-webhooks-add")
        dialog.get_by_label("Endpoint URL").fill(r.url)
        dialog.get_by_test_id("webhook-add-submit").click()
        secret = dialog.get_by_test_id("webhook-secret").inner_text()
        assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{32}", secret)
        assert dialog.get_by_test_id("webhook-secret-copy").is_visible()
        screenshot(page, "console-webhooks-secret")
        dialog.get_by_test_id("webhook-done").click()
        page.get_by_role("dialog").wait_for(state="detached")
        assert page.get_by_text(secret).count() == 0  # gone with the dialog

        endpoint = page.get_by_test_id("webhook-endpoint").filter(has_text=r.url)
        endpoint.wait_for()
        assert endpoint.get_by_test_id("webhook-status").inner_text() == "Enabled"
        assert "All events" in endpoint.inner_text()

        event_id = _emit(engine)
        deliver_webhooks(engine)  # the receiver answers 500 first
        endpoint.get_by_test_id("webhook-show-deliveries").click()
        delivery = page.get_by_test_id("webhook-delivery").filter(has_text=event_id)
        delivery.wait_for()
        assert delivery.get_by_test_id("delivery-status").inner_text() == "Retrying"
        facts = delivery.get_by_test_id("delivery-facts").inner_text()
        assert "HTTP 500" in facts and "next try" in facts and "attempt 1 of 8" in facts

        deliver_webhooks(engine, now=utcnow() + timedelta(seconds=6))
        page.get_by_role("button", name="Refresh").click()
        delivery.get_by_test_id("delivery-status").filter(has_text="Delivered").wait_for()
        assert "HTTP 200" in delivery.get_by_test_id("delivery-facts").inner_text()
        screenshot(page, "console-webhooks-log")
        assert_no_horizontal_scroll(page)
        if AXE_JS.exists():  # axe-core comes from `make browser` (tools/node_modules)
            assert_accessible(page)
        assert_tap_targets(page)

        delivery.get_by_role("button", name=re.compile(r"^Resend")).click()
        page.get_by_text("Queued: it will be sent within a few seconds.").wait_for()
        delivery.get_by_test_id("delivery-status").filter(has_text="Waiting").wait_for()
        deliver_webhooks(engine)
    assert r.ids() == [event_id] * 3  # the same webhook-id on the failed try, the delivery and the resend
    for headers, body in r.requests:
        assert Webhook(secret).verify(body, headers)["type"] == "portal_link.regenerated"

    endpoint.get_by_test_id("webhook-delete").click()
    page.get_by_test_id("webhook-delete-confirm").click()
    page.get_by_text("Endpoint deleted: nothing more is sent to it.").wait_for()
    assert page.get_by_test_id("webhook-endpoint").filter(has_text=r.url).count() == 0
