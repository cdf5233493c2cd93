"""POST /api/stripe/webhook end to end, offline: Starlette's TestClient, events signed here with the
endpoint secret, the real stripe SDK answering from a stubbed HTTP client, and the engine's tables."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal_app.api.stripe import stripe_routes
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.billing.payments.attempts import idempotency_key
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.models import Merchant, Subscriber, WebhookEvent
from portal_app.routes import STRIPE_WEBHOOK
from tests.builders import JAN31, attempts_of, emails_of, invoices_of, rows, subscribed_world, subscription_of
from tests.stripe_stubs import CUSTOMER, PI, WHSEC, StubStripeHTTP, event_body, payment_intent, sign

FEB28 = JAN31.replace(month=2, day=28)
PI_PATH = f"/v1/payment_intents/{PI}"


@pytest.fixture
def http() -> StubStripeHTTP:
    stub = StubStripeHTTP()
    yield stub
    assert not stub.script, f"scripted responses never requested: {list(stub.script)}"


@pytest.fixture
def stripe_gw(http) -> StripeGateway:
    return StripeGateway("sk_test_51Tst", "pk_test_51Tst", http_client=http, max_retries=0, sleep=lambda _: None)


def _client(engine, stripe_gw, *, gateway_name: str = "stripe", **kwargs) -> TestClient:
    settings = SimpleNamespace(gateway=gateway_name, stripe_webhook_secret=WHSEC)
    app = Starlette(
        routes=stripe_routes(settings=lambda: settings, gateway=lambda: stripe_gw, engine=lambda: engine, **kwargs)
    )
    return TestClient(app)


@pytest.fixture
def unknown_charge(engine, gateway):
    """A past-due subscriber whose scheduled retry timed out: attempt unknown, claim held."""
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    invoice = invoices_of(world)[-1]
    gateway.timeout_next(reached_gateway=True)
    run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
    attempt = attempts_of(world)[-1]
    assert attempt.status == AttemptStatus.UNKNOWN
    (merchant,) = rows(engine, Merchant, Merchant.id == world.merchant_id)
    with Session(engine) as session:  # the Stripe customer the stubbed PaymentIntents belong to
        session.get(Subscriber, world.subscriber_id).gateway_customer_id = CUSTOMER
        session.commit()
    return SimpleNamespace(
        world=world, invoice=invoice, attempt=attempt, key=idempotency_key(merchant, attempt.id, attempt.key_nonce)
    )


def _state(charge):
    attempt = [a for a in attempts_of(charge.world) if a.id == charge.attempt.id][0]
    invoice = [i for i in invoices_of(charge.world) if i.id == charge.invoice.id][0]
    return attempt.status, invoice.status


def _claimed_events(engine) -> int:
    with Session(engine) as session:
        return session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar_one()


def test_a_signed_payment_event_settles_the_unknown_charge(engine, stripe_gw, http, unknown_charge):
    http.reply("GET", PI_PATH, payment_intent("succeeded", key=unknown_charge.key))
    body = event_body("payment_intent.succeeded", payment_intent("succeeded", key=unknown_charge.key))

    response = _client(engine, stripe_gw).post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})

    assert response.status_code == 200
    assert response.json() == {"received": True, "result": "payment_succeeded"}
    assert _state(unknown_charge) == (AttemptStatus.SUCCEEDED, InvoiceStatus.PAID)
    assert subscription_of(unknown_charge.world).status == SubscriptionStatus.ACTIVE


def test_a_duplicate_delivery_has_one_effect(engine, stripe_gw, http, unknown_charge):
    http.reply("GET", PI_PATH, payment_intent("succeeded", key=unknown_charge.key))  # one Stripe read only
    body = event_body("payment_intent.succeeded", payment_intent("succeeded", key=unknown_charge.key))
    client = _client(engine, stripe_gw)
    receipts = len(emails_of(unknown_charge.world, "receipt"))

    first = client.post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})
    again = client.post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["result"] == "duplicate"
    assert len(emails_of(unknown_charge.world, "receipt")) - receipts == 1
    assert _claimed_events(engine) == 1


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda body: (body.replace(b'"livemode": false', b'"livemode": true'), sign(body)), id="tampered"),
        pytest.param(lambda body: (body, sign(body, timestamp=int(time.time()) - 600)), id="ten minutes old"),
        pytest.param(lambda body: (body, None), id="missing header"),
        pytest.param(lambda body: (body, sign(body, secret="whsec_someone_else")), id="wrong secret"),
        pytest.param(lambda body: (b"{}", sign(b"{}")), id="signed non-event"),
    ],
)
def test_forged_stale_or_unsigned_requests_are_400_with_no_effect(engine, stripe_gw, http, unknown_charge, forge):
    body, header = forge(event_body("payment_intent.succeeded", payment_intent("succeeded", key=unknown_charge.key)))
    headers = {"Stripe-Signature": header} if header is not None else {}

    response = _client(engine, stripe_gw).post(STRIPE_WEBHOOK, content=body, headers=headers)

    assert response.status_code == 400
    assert http.sent == []  # Stripe was not even asked
    assert _state(unknown_charge) == (AttemptStatus.UNKNOWN, InvoiceStatus.OPEN)
    assert _claimed_events(engine) == 0


def test_stripe_unreachable_is_500_and_the_retry_is_handled(engine, stripe_gw, http, unknown_charge):
    http.reply("GET", PI_PATH, {"error": {"type": "api_error", "message": "down"}}, status=500)
    body = event_body("payment_intent.succeeded", payment_intent("succeeded", key=unknown_charge.key))
    client = _client(engine, stripe_gw)

    failed = client.post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})
    assert failed.status_code == 500 and _claimed_events(engine) == 0
    assert _state(unknown_charge) == (AttemptStatus.UNKNOWN, InvoiceStatus.OPEN)

    http.reply("GET", PI_PATH, payment_intent("succeeded", key=unknown_charge.key))
    retried = client.post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})
    assert retried.status_code == 200
    assert _state(unknown_charge) == (AttemptStatus.SUCCEEDED, InvoiceStatus.PAID)


def test_the_route_is_404_when_the_gateway_is_simulated(engine, stripe_gw, http):
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))
    response = _client(engine, stripe_gw, gateway_name="simulated").post(
        STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)}
    )
    assert response.status_code == 404 and http.sent == []


def test_oversized_bodies_are_413_before_any_work(engine, stripe_gw, http):
    client = _client(engine, stripe_gw, max_body_bytes=1024)
    big = b"{" + b" " * 2048 + b"}"
    assert client.post(STRIPE_WEBHOOK, content=big, headers={"Stripe-Signature": sign(big)}).status_code == 413

    def chunks():  # no Content-Length: the limit holds while streaming
        yield b"{"
        yield b" " * 2048
        yield b"}"

    streamed = client.post(STRIPE_WEBHOOK, content=chunks(), headers={"Stripe-Signature": sign(big)})
    assert streamed.status_code == 413
    assert _claimed_events(engine) == 0 and http.sent == []


def test_only_post_is_routed(engine, stripe_gw):
    assert _client(engine, stripe_gw).get(STRIPE_WEBHOOK).status_code == 405


def test_a_payment_event_for_another_amount_holds_the_charge_for_review(
    engine, gateway, stripe_gw, http, unknown_charge
):
    # Stripe says 1.00 was charged under our key, the attempt asked for 29.00: a person decides, nothing pays.
    http.reply("GET", PI_PATH, payment_intent("succeeded", key=unknown_charge.key, amount=100))
    body = event_body("payment_intent.succeeded", payment_intent("succeeded", key=unknown_charge.key, amount=100))

    response = _client(engine, stripe_gw).post(STRIPE_WEBHOOK, content=body, headers={"Stripe-Signature": sign(body)})

    assert response.status_code == 200
    assert _state(unknown_charge) == (AttemptStatus.REVIEW, InvoiceStatus.OPEN)
    assert subscription_of(unknown_charge.world).status == SubscriptionStatus.PAST_DUE
    invoice = [i for i in invoices_of(unknown_charge.world) if i.id == unknown_charge.invoice.id][0]
    run_billing(engine, now=invoice.next_retry_at + timedelta(days=8), gateway=gateway)  # no automatic charge
    assert attempts_of(unknown_charge.world)[-1].id == unknown_charge.attempt.id
