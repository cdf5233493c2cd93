"""EngineCallbacks against a real database: Stripe's facts settle attempts forward-only, once, with the
same rows as the engine's own settlement (paid invoice, released claim, one receipt, reactivation)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal_app.billing.gateways.base import CardDetails, ChargeOutcome, ChargeResult
from portal_app.billing.payments.attempts import idempotency_key
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.stripe_events import EngineCallbacks
from portal_app.db import new_session
from portal_app.models import Merchant, PaymentMethod, Subscriber
from tests.builders import (
    JAN31,
    VISA,
    attempts_of,
    audit_kinds,
    card,
    emails_of,
    invoices_of,
    rows,
    subscribed_world,
    subscription_of,
)

FEB28 = JAN31.replace(month=2, day=28)
PI = "pi_3QwebhookPaid0001"
DECLINED = ChargeResult(
    ChargeOutcome.DECLINED,
    gateway_ref=PI,
    decline_code="insufficient_funds",
    message="Your card has insufficient funds.",
)


def _past_due(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    invoice = invoices_of(world)[-1]
    assert invoice.status == InvoiceStatus.OPEN
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    return world, invoice


def _unknown_attempt(engine, gateway):
    """A retry whose answer timed out: attempt unknown, claim held (the webhook's favourite case)."""
    world, invoice = _past_due(engine, gateway)
    gateway.timeout_next(reached_gateway=True)
    run_billing(engine, now=invoice.next_retry_at, gateway=gateway)  # the scheduled dunning retry
    attempt = attempts_of(world)[-1]
    assert attempt.status == AttemptStatus.UNKNOWN and attempt.trigger == "retry"
    assert _invoice(world, invoice.id).charging_attempt_id == attempt.id
    return world, invoice, attempt.id


def _key(world, attempt_id: int) -> str:
    (merchant,) = rows(world.engine, Merchant, Merchant.id == world.merchant_id)
    return idempotency_key(merchant, attempt_id, _attempt(world, attempt_id).key_nonce)


def _attempt(world, attempt_id):
    return [a for a in attempts_of(world) if a.id == attempt_id][0]


def _invoice(world, invoice_id):
    return [i for i in invoices_of(world) if i.id == invoice_id][0]


def _callbacks(engine, gateway, at):
    return EngineCallbacks(engine, gateway=gateway, clock=lambda: at)


@pytest.mark.concurrency
def test_twenty_concurrent_successes_settle_an_unknown_attempt_once(any_engine, gateway):
    world, invoice, attempt_id = _unknown_attempt(any_engine, gateway)
    callbacks = _callbacks(any_engine, gateway, invoice.next_retry_at + timedelta(minutes=1))
    receipts_before = len(emails_of(world, "receipt"))
    reactivations_before = audit_kinds(world).count("subscription_reactivated")
    key = _key(world, attempt_id)
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=30)
            callbacks.payment_succeeded(idempotency_key=key, gateway_ref=PI)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert not errors, errors
    attempt = _attempt(world, attempt_id)
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.gateway_ref == PI
    paid = _invoice(world, invoice.id)
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None and paid.next_retry_at is None
    assert len(emails_of(world, "receipt")) - receipts_before == 1
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert audit_kinds(world).count("subscription_reactivated") - reactivations_before == 1


def test_a_failure_after_the_success_never_unpays(engine, gateway):
    world, invoice, attempt_id = _unknown_attempt(engine, gateway)
    callbacks = _callbacks(engine, gateway, invoice.next_retry_at + timedelta(minutes=1))
    key = _key(world, attempt_id)
    callbacks.payment_succeeded(idempotency_key=key, gateway_ref=PI)

    callbacks.payment_failed(idempotency_key=key, result=DECLINED)
    callbacks.payment_failed(
        idempotency_key=key,
        result=ChargeResult(ChargeOutcome.REQUIRES_ACTION, gateway_ref=PI, decline_code="authentication_required"),
    )
    callbacks.payment_succeeded(idempotency_key=key, gateway_ref=PI)  # a redelivery changes nothing either

    attempt = _attempt(world, attempt_id)
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.decline_code == ""
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert len(list(emails_of(world, "receipt"))) == 2  # January's and this one


def test_a_failure_of_an_unknown_attempt_releases_the_claim_and_dunning_goes_on(engine, gateway):
    world, invoice, attempt_id = _unknown_attempt(engine, gateway)
    at = invoice.next_retry_at + timedelta(minutes=1)
    _callbacks(engine, gateway, at).payment_failed(idempotency_key=_key(world, attempt_id), result=DECLINED)

    attempt = _attempt(world, attempt_id)
    assert attempt.status == AttemptStatus.FAILED and attempt.decline_code == "insufficient_funds"
    open_invoice = _invoice(world, invoice.id)
    assert open_invoice.status == InvoiceStatus.OPEN and open_invoice.charging_attempt_id is None
    assert open_invoice.attempt_count == invoice.attempt_count + 1 and open_invoice.next_retry_at > at
    # A late success for the failed attempt: the money moved, so it pays the invoice (tests/integration/
    # test_late_payments.py covers the cases where it cannot).
    _callbacks(engine, gateway, at).payment_succeeded(idempotency_key=_key(world, attempt_id), gateway_ref=PI)
    assert _attempt(world, attempt_id).status == AttemptStatus.SUCCEEDED
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID


def test_a_payment_the_customer_authenticated_later_pays_the_invoice(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.require_action_next()
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    attempt = attempts_of(world)[-1]
    invoice = invoices_of(world)[-1]
    assert attempt.status == AttemptStatus.REQUIRES_ACTION and invoice.charging_attempt_id is None
    callbacks = _callbacks(engine, gateway, FEB28 + timedelta(hours=1))

    callbacks.payment_succeeded(idempotency_key=_key(world, attempt.id), gateway_ref=PI)
    callbacks.payment_succeeded(idempotency_key=_key(world, attempt.id), gateway_ref=PI)

    assert _attempt(world, attempt.id).status == AttemptStatus.SUCCEEDED
    paid = _invoice(world, invoice.id)
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert len(emails_of(world, "receipt")) == 2


def test_a_failed_authentication_fails_the_attempt_without_counting_twice(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.require_action_next()
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    attempt, invoice = attempts_of(world)[-1], invoices_of(world)[-1]
    failed = ChargeResult(ChargeOutcome.DECLINED, gateway_ref=PI, decline_code="authentication_failed")

    _callbacks(engine, gateway, FEB28 + timedelta(hours=1)).payment_failed(
        idempotency_key=_key(world, attempt.id), result=failed
    )

    settled = _attempt(world, attempt.id)
    assert settled.status == AttemptStatus.FAILED and settled.decline_code == "authentication_failed"
    after = _invoice(world, invoice.id)
    assert after.status == InvoiceStatus.OPEN and after.attempt_count == invoice.attempt_count


@pytest.mark.parametrize(
    "key",
    [
        "m1-20200101000000000000-attempt-1",  # right shape, another database's merchant instant
        "portal-charge-123",
        "",
    ],
)
def test_keys_that_are_not_ours_change_nothing(engine, gateway, key):
    world, invoice, attempt_id = _unknown_attempt(engine, gateway)
    callbacks = _callbacks(engine, gateway, invoice.next_retry_at)
    callbacks.payment_succeeded(idempotency_key=key, gateway_ref=PI)
    callbacks.payment_failed(idempotency_key=key, result=DECLINED)
    assert _attempt(world, attempt_id).status == AttemptStatus.UNKNOWN
    assert _invoice(world, invoice.id).status == InvoiceStatus.OPEN


def _stripe_customer(world, ref: str = "cus_T1webhook") -> str:
    with new_session(world.engine) as session, session.begin():
        subscriber = session.get(Subscriber, world.subscriber_id)
        subscriber.gateway_customer_id = ref
        session.add(subscriber)
    return ref


def test_a_setup_the_portal_never_heard_of_saves_the_card_and_pays_open_invoices(engine, gateway):
    world, invoice = _past_due(engine, gateway)
    (subscriber,) = rows(engine, Subscriber, Subscriber.id == world.subscriber_id)
    # The card exists at the gateway (the browser confirmed it there), not yet in our tables.
    new_card = gateway.attach_card(customer_ref=subscriber.gateway_customer_id, card_input=card(VISA)).card
    callbacks = _callbacks(engine, gateway, invoice.next_retry_at)

    for _ in range(2):  # a redelivery (or the portal having saved it) adds nothing
        callbacks.card_setup_succeeded(customer_ref=subscriber.gateway_customer_id, setup_ref="seti_1Qx", card=new_card)

    cards = rows(
        engine,
        PaymentMethod,
        PaymentMethod.subscriber_id == world.subscriber_id,
        PaymentMethod.gateway_ref == new_card.gateway_ref,
    )
    assert len(cards) == 1 and cards[0].is_default and cards[0].last4 == "4242"
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_a_setup_of_an_unknown_customer_is_ignored(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    before = rows(engine, PaymentMethod)
    _callbacks(engine, gateway, FEB28).card_setup_succeeded(
        customer_ref="cus_Tsomeoneelse", setup_ref="seti_1Qx", card=CardDetails("pm_1Qother", "visa", "1111", 1, 2030)
    )
    assert len(rows(engine, PaymentMethod)) == len(before)


def test_a_card_network_update_refreshes_brand_last4_and_expiry(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        session.add(
            PaymentMethod(
                merchant_id=world.merchant_id,
                subscriber_id=world.subscriber_id,
                gateway="stripe",
                gateway_ref="pm_1Qrefreshed",
                brand="visa",
                last4="4242",
                exp_month=1,
                exp_year=2026,
                is_default=False,
            )
        )
    callbacks = _callbacks(engine, gateway, FEB28)
    updated = CardDetails("pm_1Qrefreshed", "mastercard", "4444", 9, 2031)

    callbacks.card_updated(card=updated)
    callbacks.card_updated(card=updated)  # idempotent: no second change, no second audit event

    (pm,) = rows(engine, PaymentMethod, PaymentMethod.gateway_ref == "pm_1Qrefreshed")
    assert (pm.brand, pm.last4, pm.exp_month, pm.exp_year) == ("mastercard", "4444", 9, 2031)
    assert audit_kinds(world).count("payment_method_refreshed") == 1
    callbacks.card_updated(card=CardDetails("pm_1Qnotours", "visa", "0000", 1, 2030))  # unknown: nothing


# --------------------------------------------------------------------------- the portal's Stripe facade


@pytest.fixture
def stripe_http():
    from tests.stripe_stubs import StubStripeHTTP

    stub = StubStripeHTTP()
    yield stub
    assert not stub.script, f"scripted responses never requested: {list(stub.script)}"


@pytest.fixture
def stripe_facade(engine, stripe_http, monkeypatch):
    """The portal facade's Stripe card entry on this database and a Stripe gateway answering from the stub."""
    from portal_app.billing.facades import portal as portal_facade
    from portal_app.billing.gateways.stripe.gateway import StripeGateway

    gw = StripeGateway("sk_test_51Tst", "pk_test_51Tst", http_client=stripe_http, max_retries=0)
    monkeypatch.setattr(portal_facade, "get_gateway", lambda: gw)
    monkeypatch.setattr(portal_facade, "get_engine", lambda: engine)
    return portal_facade


def test_start_card_setup_creates_the_customer_once_and_returns_only_the_client_secret(
    engine, stripe_facade, stripe_http
):
    from tests.builders import make_world
    from tests.stripe_stubs import setup_intent

    world = make_world(engine)
    stripe_http.reply("POST", "/v1/customers", {"id": "cus_T1new", "object": "customer"})
    stripe_http.reply("POST", "/v1/setup_intents", setup_intent("requires_payment_method", customer="cus_T1new"))
    stripe_http.reply("POST", "/v1/setup_intents", setup_intent("requires_payment_method", customer="cus_T1new"))

    for _ in range(2):
        secret = stripe_facade.start_card_setup(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
        assert secret.startswith("seti_") and "_secret_" in secret

    (subscriber,) = rows(engine, Subscriber, Subscriber.id == world.subscriber_id)
    assert subscriber.gateway_customer_id == "cus_T1new"
    setups = [r for r in stripe_http.sent if r.path == "/v1/setup_intents"]
    assert [r.form["customer"] for r in setups] == ["cus_T1new", "cus_T1new"]
    assert all(r.form["usage"] == "off_session" for r in setups)
    assert stripe_facade.publishable_key() == "pk_test_51Tst"


def test_the_facade_is_scoped_to_the_callers_merchant(engine, stripe_facade):
    from portal_app.billing.errors import NotFound
    from tests.builders import make_world

    world = make_world(engine)
    with pytest.raises(NotFound):
        stripe_facade.start_card_setup(merchant_id=world.merchant_id + 1, subscriber_id=world.subscriber_id)
    with pytest.raises(NotFound):
        stripe_facade.finish_payment_authentication(
            merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, payment_intent_id="pi_3Qsomeoneelse"
        )


def test_a_payment_waiting_for_3ds_is_offered_then_settled_after_asking_stripe(
    engine, gateway, stripe_facade, stripe_http
):
    from tests.stripe_stubs import CUSTOMER, payment_intent

    world, _ = subscribed_world(engine, gateway)
    gateway.require_action_next()
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    attempt, invoice = attempts_of(world)[-1], invoices_of(world)[-1]
    with new_session(engine) as session, session.begin():  # as the Stripe gateway records it
        row = session.get(type(attempt), attempt.id)
        row.gateway_ref = PI
        session.get(Subscriber, world.subscriber_id).gateway_customer_id = CUSTOMER  # the intent's customer
        session.add(row)
    key = _key(world, attempt.id)
    stripe_http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("requires_payment_method", pi_id=PI, key=key))

    pending = stripe_facade.payment_to_authenticate(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)

    assert pending.client_secret == f"{PI}_secret_Xyz" and pending.invoice_number == invoice.number
    assert pending.amount.amount_minor == invoice.total_minor and pending.payment_method_ref

    stripe_http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded", pi_id=PI, key=key))
    assert (
        stripe_facade.finish_payment_authentication(
            merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, payment_intent_id=PI
        )
        is True
    )
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert _attempt(world, attempt.id).status == AttemptStatus.SUCCEEDED
    assert (
        stripe_facade.payment_to_authenticate(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id) is None
    )


def test_saving_the_same_card_twice_keeps_one_row(engine):
    """The browser and the setup_intent.succeeded webhook can both save one card."""
    from sqlmodel import Session, select

    from portal_app.billing.gateways.base import CardDetails
    from portal_app.billing.gateways.simulated import SimulatedGateway
    from portal_app.billing.payments.cards import save_card
    from portal_app.models import Merchant, PaymentMethod, Subscriber, utcnow

    with Session(engine, expire_on_commit=False) as session:
        merchant = Merchant(name="M", slug="m", invoice_prefix="M")
        session.add(merchant)
        session.flush()
        subscriber = Subscriber(merchant_id=merchant.id, name="S", email="s@example.com")
        session.add(subscriber)
        session.commit()
    card = CardDetails("pm_123", "visa", "4242", 12, 2030)
    first = save_card(engine, subscriber, card, SimulatedGateway(), actor="subscriber", now=utcnow())
    second = save_card(engine, subscriber, card, SimulatedGateway(), actor="webhook", now=utcnow())
    assert first.id == second.id
    with Session(engine) as session:
        assert len(session.exec(select(PaymentMethod)).all()) == 1
