"""The portal facade (billing/facades/portal.py): the page's read model in one call that owns its
transaction, carrying the predicates the page shows instead of status strings to compare."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app import db
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.statuses import InvoiceStatus
from portal_app.models import EmailMessage, Subscriber, utcnow
from tests.builders import CHARGE_DECLINES, invoices_of, rows, subscribed_world


@pytest.fixture
def wired(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    return engine


def test_summary_hides_void_invoices_and_says_canceling_during_the_grace_period(wired, gateway):
    now = utcnow()
    world, _ = subscribed_world(wired, gateway, start_at=now - timedelta(days=3))
    ids = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}
    summary = portal_facade.portal_summary(**ids)
    assert [row.status for row in summary.invoices] == ["paid"]
    assert summary.subscription.display_status == "active" and summary.subscription.can_self_cancel

    portal_facade.cancel(**ids, reason_code="too_expensive", reason_text="")
    sub = portal_facade.portal_summary(**ids).subscription
    assert sub.display_status == "canceling" and sub.on_grace_period and not sub.can_self_cancel
    assert not sub.asks_for_payment and not sub.is_ended


def test_summary_lists_an_open_invoice_and_drops_it_once_voided(wired, gateway):
    now = utcnow()
    world, _ = subscribed_world(wired, gateway, start_at=now - timedelta(days=3), number=CHARGE_DECLINES)
    ids = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}
    (invoice,) = invoices_of(world)
    assert [row.invoice_id for row in portal_facade.portal_summary(**ids).invoices] == [invoice.id]
    with db.session_scope() as session:
        settle_invoice(session, invoice.id, InvoiceStatus.VOID, merchant_id=world.merchant_id, actor="test", now=now)
    summary = portal_facade.portal_summary(**ids)
    assert summary.invoices == [] and summary.invoice_years == {}


def test_summary_of_another_merchants_subscriber_is_none(wired, gateway):
    world, _ = subscribed_world(wired, gateway)
    assert portal_facade.portal_summary(merchant_id=world.merchant_id + 1, subscriber_id=world.subscriber_id) is None


def test_test_mode_comes_from_the_gateway(monkeypatch):
    class LiveGateway:
        test_mode = False

    assert portal_facade.test_mode() is True  # the simulated gateway never moves real money
    monkeypatch.setattr(portal_facade, "get_gateway", LiveGateway)
    assert portal_facade.test_mode() is False


def test_new_link_request_queues_an_email_only_for_a_known_address(wired, gateway):
    world, _ = subscribed_world(wired, gateway)
    before = len(rows(wired, EmailMessage))
    portal_facade.request_new_link(email="nobody@example.com")
    assert len(rows(wired, EmailMessage)) == before
    (subscriber,) = rows(wired, Subscriber)
    portal_facade.request_new_link(email=subscriber.email)
    (sent,) = rows(wired, EmailMessage)[before:]
    assert sent.to_address == subscriber.email and sent.subscriber_id == world.subscriber_id
