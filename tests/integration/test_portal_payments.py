"""The portal's payment problem and "Pay now" (billing/facades/portal_payments.py): what is owed and
why, and charging one of the subscriber's own open invoices with the card on file."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app import db
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_payments
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.billing.payments.cards import ensure_gateway_customer, save_card
from portal_app.models import Subscriber, utcnow
from portal_app.ratelimit import RateLimiter
from tests.builders import CHARGE_DECLINES, VISA, attempts_of, card, invoices_of, subscribed_world, subscription_of


@pytest.fixture
def wired(engine, gateway, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(portal_payments, "get_gateway", lambda: gateway)
    # A fresh limiter per test: ids repeat across tests' databases, counts must not.
    monkeypatch.setattr(portal_payments, "pay_now_limiter", RateLimiter("pay-now-test", limit=5, window_seconds=3600))
    return engine


def _card_on_file_without_retry(world, gateway, number: str) -> None:
    with db.new_session(world.engine) as session:
        subscriber = session.get(Subscriber, world.subscriber_id)
        session.expunge(subscriber)
    customer = ensure_gateway_customer(world.engine, subscriber, gateway)
    setup = gateway.attach_card(customer_ref=customer, card_input=card(number))
    save_card(world.engine, subscriber, setup.card, gateway, actor="test", now=utcnow())


def test_an_incomplete_subscription_reports_its_amount_and_the_decline(wired, gateway):
    world, _ = subscribed_world(wired, gateway, start_at=utcnow() - timedelta(hours=1), number=CHARGE_DECLINES)
    summary = portal_facade.portal_summary(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    problem = summary.payment_problem
    assert problem.status == "incomplete" and problem.amount_due.amount_minor == 2900
    assert problem.decline_code == "generic_decline"


def test_an_active_subscription_has_no_problem(wired, gateway):
    world, _ = subscribed_world(wired, gateway, start_at=utcnow() - timedelta(days=2))
    summary = portal_facade.portal_summary(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    assert summary.payment_problem is None
    assert summary.brand_color.startswith("#") and summary.website_url == ""


def test_pay_now_charges_the_card_on_file_with_the_manual_trigger(wired, gateway):
    world, _ = subscribed_world(wired, gateway, start_at=utcnow() - timedelta(hours=1), number=CHARGE_DECLINES)
    (invoice,) = invoices_of(world)
    ids = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}
    declined = portal_payments.pay_invoice(**ids, invoice_id=str(invoice.id))
    assert declined.outcome is PaymentOutcome.DECLINED and declined.decline_code == "generic_decline"
    assert invoices_of(world)[0].status == "open" and subscription_of(world).status == "incomplete"
    assert attempts_of(world)[-1].trigger == "manual"

    _card_on_file_without_retry(world, gateway, VISA)
    paid = portal_payments.pay_invoice(**ids, invoice_id=invoice.id)
    assert paid.outcome is PaymentOutcome.SUCCEEDED
    assert invoices_of(world)[0].status == "paid" and subscription_of(world).status == "active"
    again = portal_payments.pay_invoice(**ids, invoice_id=invoice.id)
    assert again.outcome is PaymentOutcome.ALREADY_PAID and gateway.succeeded_charge_count() == 1


@pytest.mark.parametrize("bad", ["abc", "", "-1", "0", -3, True, None, 1.5, "9" * 30, {"id": 1}])
def test_pay_now_refuses_malformed_ids(wired, gateway, bad):
    world, _ = subscribed_world(wired, gateway, number=CHARGE_DECLINES)
    with pytest.raises(NotFound):
        portal_payments.pay_invoice(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, invoice_id=bad)


def test_pay_now_refuses_someone_elses_invoice(wired, gateway):
    victim, _ = subscribed_world(wired, gateway, number=CHARGE_DECLINES)
    attacker, _ = subscribed_world(wired, gateway, slug="other", prefix="OTH")
    (invoice,) = invoices_of(victim)
    before = len(attempts_of(victim))
    with pytest.raises(NotFound):
        portal_payments.pay_invoice(
            merchant_id=attacker.merchant_id, subscriber_id=attacker.subscriber_id, invoice_id=invoice.id
        )
    with pytest.raises(NotFound):  # the victim's merchant, another subscriber id
        portal_payments.pay_invoice(
            merchant_id=victim.merchant_id, subscriber_id=attacker.subscriber_id, invoice_id=invoice.id
        )
    assert len(attempts_of(victim)) == before


def test_pay_now_stops_after_five_tries_an_hour_and_says_so_in_spanish(wired, gateway):
    world, _ = subscribed_world(wired, gateway, start_at=utcnow() - timedelta(hours=1), number=CHARGE_DECLINES)
    (invoice,) = invoices_of(world)
    ids = {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}
    for _ in range(5):
        assert portal_payments.pay_invoice(**ids, invoice_id=invoice.id).outcome is PaymentOutcome.DECLINED
    tries = len(attempts_of(world))
    with pytest.raises(BillingError) as err:
        portal_payments.pay_invoice(**ids, invoice_id=invoice.id)
    assert err.value.code == "rate_limited" and len(attempts_of(world)) == tries  # the gateway was not called
    assert portal_facade.error_text(err.value, "es").startswith("Demasiados intentos de pago")
