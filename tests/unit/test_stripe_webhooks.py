"""Stripe webhooks: signatures (Stripe's documented scheme, computed here independently of the SDK),
deduplication under concurrency on SQLite and PostgreSQL, and dispatch that re-fetches from Stripe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.gateways.base import CardDetails, ChargeOutcome, ChargeResult
from portal_app.billing.gateways.stripe.errors import StripeUnavailable
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.billing.webhooks import (
    WebhookRejected,
    WebhookResult,
    forget_event,
    handle_event,
    process_webhook,
    record_event_once,
    verify_and_parse,
)
from portal_app.models import WebhookEvent
from tests.stripe_stubs import (
    CUSTOMER,
    KEY,
    PI,
    PM,
    SETI,
    WHSEC,
    StubStripeHTTP,
    card_pm,
    event_body,
    payment_intent,
    setup_intent,
    sign,
)

# --------------------------------------------------------------------------- signatures


def test_a_correctly_signed_event_is_accepted():
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))

    event = verify_and_parse(body, sign(body), WHSEC)

    assert (event.id, event.type) == ("evt_1QwebhookA", "payment_intent.succeeded")
    assert event.data.object.id == PI


def test_a_signature_within_tolerance_and_a_rotated_secret_are_accepted():
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))
    old = sign(body, timestamp=int(time.time()) - 290)
    assert verify_and_parse(body, old, WHSEC).id == "evt_1QwebhookA"
    # While a secret rolls, Stripe sends one v1 signature per secret.
    t = int(time.time())
    both = sign(body, "whsec_old", t) + "," + sign(body, WHSEC, t).split(",")[1]
    assert verify_and_parse(body, both, WHSEC).id == "evt_1QwebhookA"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body: (body.replace(b'"succeeded"', b'"canceled"'), sign(body)), id="tampered body"),
        pytest.param(lambda body: (body, sign(body, secret="whsec_wrong")), id="wrong secret"),
        pytest.param(lambda body: (body, None), id="missing header"),
        pytest.param(lambda body: (body, ""), id="empty header"),
        pytest.param(lambda body: (body, sign(body, timestamp=int(time.time()) - 301)), id="301 s old"),
        pytest.param(lambda body: (body, "t=abc,v1=00"), id="malformed header"),
        pytest.param(lambda body: (body, sign(body).replace("v1=", "v0=")), id="no v1 signature"),
    ],
)
def test_forged_stale_or_unsigned_events_are_rejected(tamper):
    body, header = tamper(event_body("payment_intent.succeeded", payment_intent("succeeded")))

    with pytest.raises(WebhookRejected):
        verify_and_parse(body, header, WHSEC)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe\x00", b"[]", b'{"id": "x", "object": "event"}'])
def test_signed_bodies_that_are_not_stripe_events_are_rejected(body):
    with pytest.raises(WebhookRejected):
        verify_and_parse(body, sign(body), WHSEC)


def test_an_unconfigured_secret_is_a_deployment_error_not_a_rejection():
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))
    with pytest.raises(ValueError):
        verify_and_parse(body, sign(body), "")
    with pytest.raises(ValueError):
        verify_and_parse(body, sign(body), WHSEC, tolerance=0)


# --------------------------------------------------------------------------- deduplication


def test_record_event_once_claims_an_id_once(any_engine):
    with Session(any_engine) as session, session.begin():
        assert record_event_once(session, "evt_1", "payment_intent.succeeded") is True
    with Session(any_engine) as session, session.begin():
        assert record_event_once(session, "evt_1", "payment_intent.succeeded") is False
        assert record_event_once(session, "evt_2", "setup_intent.succeeded") is True


def test_a_rolled_back_or_forgotten_claim_can_be_claimed_again(any_engine):
    with Session(any_engine) as session:
        session.begin()
        assert record_event_once(session, "evt_1", "t") is True
        session.rollback()
    with Session(any_engine) as session, session.begin():
        assert record_event_once(session, "evt_1", "t") is True
    with Session(any_engine) as session, session.begin():
        forget_event(session, "evt_1")
    with Session(any_engine) as session, session.begin():
        assert record_event_once(session, "evt_1", "t") is True


@pytest.mark.concurrency
def test_twenty_concurrent_deliveries_claim_exactly_once(any_engine):
    workers = 20
    barrier = threading.Barrier(workers)

    def deliver(_: int) -> bool:
        barrier.wait(timeout=30)
        with Session(any_engine) as session, session.begin():
            return record_event_once(session, "evt_1Qconcurrent", "payment_intent.succeeded")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(deliver, range(workers)))

    assert results.count(True) == 1
    with Session(any_engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar_one() == 1


# --------------------------------------------------------------------------- dispatch


class RecordingCallbacks:
    """The engine side of BillingCallbacks, recording calls."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def _record(self, name: str, **kwargs) -> None:
        if self.fail is not None:
            raise self.fail
        self.calls.append((name, kwargs))

    def payment_succeeded(self, *, idempotency_key: str, gateway_ref: str, result=None) -> None:
        self._record("payment_succeeded", idempotency_key=idempotency_key, gateway_ref=gateway_ref)

    def payment_failed(self, *, idempotency_key: str, result: ChargeResult) -> None:
        self._record("payment_failed", idempotency_key=idempotency_key, result=result)

    def card_setup_succeeded(self, *, customer_ref: str, setup_ref: str, card: CardDetails) -> None:
        self._record("card_setup_succeeded", customer_ref=customer_ref, setup_ref=setup_ref, card=card)

    def card_updated(self, *, card: CardDetails) -> None:
        self._record("card_updated", card=card)


@pytest.fixture
def http() -> StubStripeHTTP:
    stub = StubStripeHTTP()
    yield stub
    assert not stub.script, f"scripted responses never requested: {list(stub.script)}"


@pytest.fixture
def gw(http) -> StripeGateway:
    return StripeGateway("sk_test_51Tst", "pk_test_51Tst", http_client=http, sleep=lambda _: None)


def parsed(event_type: str, obj: dict, **kwargs):
    body = event_body(event_type, obj, **kwargs)
    return verify_and_parse(body, sign(body), WHSEC)


def test_payment_succeeded_is_refetched_before_the_engine_hears_of_it(gw, http):
    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded"))
    callbacks = RecordingCallbacks()

    event = parsed("payment_intent.succeeded", payment_intent("succeeded"))

    result = handle_event(event, gateway=gw, callbacks=callbacks)

    assert result is WebhookResult.PAYMENT_SUCCEEDED
    assert [(r.method, r.path) for r in http.sent] == [("GET", f"/v1/payment_intents/{PI}")]
    assert callbacks.calls == [("payment_succeeded", {"idempotency_key": KEY, "gateway_ref": PI})]


def test_the_payload_body_is_never_trusted(gw, http):
    # The (signed) body claims success; Stripe says the card was declined as stolen.
    http.reply(
        "GET",
        f"/v1/payment_intents/{PI}",
        payment_intent(
            "requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "stolen_card",
                "message": "Your card was declined.",
            },
        ),
    )
    callbacks = RecordingCallbacks()

    event = parsed("payment_intent.succeeded", payment_intent("succeeded"))

    result = handle_event(event, gateway=gw, callbacks=callbacks)

    assert result is WebhookResult.PAYMENT_FAILED
    ((name, kwargs),) = callbacks.calls
    assert name == "payment_failed" and kwargs["idempotency_key"] == KEY
    assert kwargs["result"] == ChargeResult(
        ChargeOutcome.DECLINED,
        gateway_ref=PI,
        decline_code="stolen_card",
        message="Your card was declined.",
        hard=True,
        amount_minor=2900,
        currency="USD",
        customer_ref=CUSTOMER,
    )


def test_payment_failed_needing_authentication_reports_requires_action(gw, http):
    http.reply(
        "GET",
        f"/v1/payment_intents/{PI}",
        payment_intent(
            "requires_payment_method",
            last_payment_error={
                "type": "card_error",
                "code": "authentication_required",
                "decline_code": "authentication_required",
                "message": "Your card was declined. This transaction requires authentication.",
            },
        ),
    )
    callbacks = RecordingCallbacks()

    handle_event(
        parsed("payment_intent.payment_failed", payment_intent("requires_payment_method")),
        gateway=gw,
        callbacks=callbacks,
    )

    assert callbacks.calls[0][1]["result"].outcome is ChargeOutcome.REQUIRES_ACTION


def test_payment_intents_created_outside_the_engine_are_ignored(gw, http):
    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded", key=None))
    callbacks = RecordingCallbacks()

    assert (
        handle_event(
            parsed("payment_intent.succeeded", payment_intent("succeeded", key=None)), gateway=gw, callbacks=callbacks
        )
        is WebhookResult.IGNORED
    )
    assert callbacks.calls == []


def test_setup_intent_succeeded_reports_the_saved_card(gw, http):
    http.reply("GET", f"/v1/setup_intents/{SETI}", setup_intent("succeeded", payment_method=card_pm()))
    callbacks = RecordingCallbacks()

    result = handle_event(
        parsed("setup_intent.succeeded", setup_intent("succeeded", payment_method=PM)), gateway=gw, callbacks=callbacks
    )

    assert result is WebhookResult.CARD_SAVED
    assert callbacks.calls == [
        (
            "card_setup_succeeded",
            {
                "customer_ref": CUSTOMER,
                "setup_ref": SETI,
                "card": CardDetails(gateway_ref=PM, brand="visa", last4="4242", exp_month=12, exp_year=2031),
            },
        )
    ]
    assert [r.method for r in http.sent] == ["GET"]  # webhooks only read from Stripe


def test_automatically_updated_card_reports_the_new_expiry(gw, http):
    http.reply("GET", f"/v1/payment_methods/{PM}", card_pm(exp_month=3, exp_year=2034, last4="1881"))
    callbacks = RecordingCallbacks()

    result = handle_event(parsed("payment_method.automatically_updated", card_pm()), gateway=gw, callbacks=callbacks)

    assert result is WebhookResult.CARD_UPDATED
    assert callbacks.calls == [("card_updated", {"card": CardDetails(PM, "visa", "1881", 3, 2034)})]


@pytest.mark.parametrize(
    ("event_type", "obj", "livemode"),
    [
        ("customer.created", {"id": CUSTOMER, "object": "customer"}, False),
        ("payment_intent.succeeded", payment_intent("succeeded"), True),  # a live event at a test key
        ("payment_intent.succeeded", payment_intent("succeeded", pi_id="pi_../../v1/customers"), False),
    ],
)
def test_other_types_modes_and_odd_ids_are_ignored_without_calling_stripe(gw, http, event_type, obj, livemode):
    callbacks = RecordingCallbacks()

    event = parsed(event_type, obj, livemode=livemode)

    assert handle_event(event, gateway=gw, callbacks=callbacks) is WebhookResult.IGNORED
    assert http.sent == [] and callbacks.calls == []


def test_process_webhook_handles_a_delivery_once(engine, gw, http):
    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded"))
    callbacks = RecordingCallbacks()
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))

    first = process_webhook(body, sign(body), secret=WHSEC, gateway=gw, callbacks=callbacks, engine=engine)
    again = process_webhook(body, sign(body), secret=WHSEC, gateway=gw, callbacks=callbacks, engine=engine)

    assert (first, again) == (WebhookResult.PAYMENT_SUCCEEDED, WebhookResult.DUPLICATE)
    assert len(http.sent) == 1 and len(callbacks.calls) == 1


def test_process_webhook_releases_the_claim_when_handling_fails(engine, gw, http):
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))
    for _ in range(3):
        http.reply("GET", f"/v1/payment_intents/{PI}", {"error": {"type": "api_error", "message": "down"}}, status=500)
    with pytest.raises(StripeUnavailable):
        process_webhook(body, sign(body), secret=WHSEC, gateway=gw, callbacks=RecordingCallbacks(), engine=engine)

    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded"))
    with pytest.raises(RuntimeError, match="engine down"):
        process_webhook(
            body,
            sign(body),
            secret=WHSEC,
            gateway=gw,
            callbacks=RecordingCallbacks(fail=RuntimeError("engine down")),
            engine=engine,
        )

    # Stripe's next delivery of the same event is handled, not dropped as a duplicate.
    http.reply("GET", f"/v1/payment_intents/{PI}", payment_intent("succeeded"))
    callbacks = RecordingCallbacks()
    assert (
        process_webhook(body, sign(body), secret=WHSEC, gateway=gw, callbacks=callbacks, engine=engine)
        is WebhookResult.PAYMENT_SUCCEEDED
    )
    assert len(callbacks.calls) == 1


def test_process_webhook_rejects_before_touching_the_database(engine, gw, http):
    body = event_body("payment_intent.succeeded", payment_intent("succeeded"))
    with pytest.raises(WebhookRejected):
        process_webhook(
            body,
            sign(body, secret="whsec_wrong"),
            secret=WHSEC,
            gateway=gw,
            callbacks=RecordingCallbacks(),
            engine=engine,
        )
    with Session(engine) as session:
        assert session.execute(sa.select(sa.func.count()).select_from(WebhookEvent)).scalar_one() == 0
