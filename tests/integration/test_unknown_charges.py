"""Charges whose outcome is unknown: settled under their own key, never charged a second time.

A lagging gateway (the answer lost, the replay still in flight, Search not indexed yet), the key's
lifetime running out, a key reused after a database restore, and "no card on file".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import SQLModel, select

from portal_app import db
from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, IdempotencyKeyReused
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.payments import charging
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.billing.payments.card_updates import retry_open_invoices
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.payments.settlement import settle_unknown_attempts
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import start_subscription
from portal_app.db import new_session
from portal_app.models import AuditEvent, PaymentMethod, Subscriber
from tests.builders import (
    JAN31,
    attempts_of,
    emails_of,
    invoices_of,
    make_world,
    rows,
    subscribed_world,
    subscription_of,
)

FEB28 = JAN31.replace(month=2, day=28)


class LaggingGateway(SimulatedGateway):
    """Stripe on a bad day. A charge whose answer timed out went through, but for a while replays of its
    key answer "still in flight" (Stripe's 409) and Search does not find it (eventually consistent)."""

    def __init__(self, *, in_flight: int = 0, search_lag: int = 10**6):
        super().__init__()
        self.in_flight = in_flight
        self.search_lag = search_lag
        self.lost: set[str] = set()
        self.searches = 0

    def charge(self, **request) -> ChargeResult:
        key = request["idempotency_key"]
        if key in self.lost and self.in_flight > 0:
            self.in_flight -= 1
            return ChargeResult(ChargeOutcome.ERROR, message="409: another request with this key is in progress")
        result = super().charge(**request)
        if result.outcome is ChargeOutcome.ERROR:
            self.lost.add(key)
        return result

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        self.searches += 1
        if self.search_lag > 0:
            self.search_lag -= 1
            return None  # not indexed yet, although the charge happened
        return super().lookup_charge(idempotency_key=idempotency_key)


def _customer(world) -> str:
    (subscriber,) = rows(world.engine, Subscriber, Subscriber.id == world.subscriber_id)
    return subscriber.gateway_customer_id


def _past_due(engine, gateway):
    """Paid first month; the Feb 28 renewal declined: one open invoice, its retry due a day later."""
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    invoice = invoices_of(world)[-1]
    assert invoice.status == InvoiceStatus.OPEN and invoice.next_retry_at is not None
    return world, invoice


def _invoice(world, invoice_id):
    return [i for i in invoices_of(world) if i.id == invoice_id][0]


def _attempts(world, invoice_id):
    return [a for a in attempts_of(world) if a.invoice_id == invoice_id]


def _review_events(world):
    return [
        json.loads(e.detail)
        for e in rows(world.engine, AuditEvent, AuditEvent.subscriber_id == world.subscriber_id)
        if e.kind == "payment_needs_review"
    ]


def _charges_of_invoice(gateway, world, invoice) -> int:
    return sum(c.description == f"Invoice {invoice.number}" for c in gateway.charges_for(_customer(world)))


@pytest.fixture
def lagging():
    gw = LaggingGateway(in_flight=3)
    gw.reset()
    yield gw
    gw.reset()


# --- a lagging gateway -------------------------------------------------------------------------


def test_a_lagging_lookup_never_leads_to_a_second_charge(any_engine, lagging):
    world, invoice = _past_due(any_engine, lagging)
    at = invoice.next_retry_at
    lagging.timeout_next()  # the retry goes through at the gateway; its answer is lost
    run_billing(any_engine, now=at, gateway=lagging)
    (unknown,) = [a for a in _attempts(world, invoice.id) if a.trigger == "retry"]
    assert unknown.status == AttemptStatus.UNKNOWN
    assert _charges_of_invoice(lagging, world, invoice) == 1

    # Three runs: the replay is still in flight and Search misses the charge. Nobody charges again.
    for minutes in (1, 2, 3):
        summary = run_billing(any_engine, now=at + timedelta(minutes=minutes), gateway=lagging)
        assert summary.charges_attempted == 0 and summary.settled == 0
        assert _invoice(world, invoice.id).charging_attempt_id == unknown.id
        (blocked,) = retry_open_invoices(any_engine, world.subscriber_id, world.merchant_id, lagging, at)
        assert blocked.outcome is PaymentOutcome.IN_PROGRESS
    assert lagging.searches >= 3  # it did ask; a miss was not taken for "never charged"
    assert _charges_of_invoice(lagging, world, invoice) == 1

    # The replay answers at last: the first result, under the same key. Paid once.
    summary = run_billing(any_engine, now=at + timedelta(minutes=4), gateway=lagging)
    assert summary.settled == 1 and summary.charges_attempted == 0
    settled = [a for a in attempts_of(world) if a.id == unknown.id][0]
    assert settled.status == AttemptStatus.SUCCEEDED
    paid = _invoice(world, invoice.id)
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert _charges_of_invoice(lagging, world, invoice) == 1
    assert len(_attempts(world, invoice.id)) == 2  # the declined renewal and the settled retry
    run_billing(any_engine, now=at + timedelta(days=2), gateway=lagging)
    assert _charges_of_invoice(lagging, world, invoice) == 1


def test_a_stored_charge_reference_is_retrieved_instead_of_searched(engine, gateway):
    """An attempt that stored the gateway's reference (an answer "still processing") is retrieved by it."""
    world, invoice = _past_due(engine, gateway)
    at = invoice.next_retry_at
    real_charge = SimulatedGateway.charge

    def processing(self, **request):
        result = real_charge(self, **request)
        return ChargeResult(ChargeOutcome.ERROR, gateway_ref=result.gateway_ref, message="still processing")

    SimulatedGateway.charge = processing
    try:
        (first,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    finally:
        SimulatedGateway.charge = real_charge
    unknown = [a for a in attempts_of(world) if a.id == first.attempt_id][0]
    assert unknown.status == AttemptStatus.UNKNOWN and unknown.gateway_ref.startswith("ch_sim_")
    requests = gateway.charge_request_count()
    assert settle_unknown_attempts(engine, gateway=gateway, now=at + timedelta(minutes=1)).succeeded == 1
    assert gateway.charge_request_count() == requests  # retrieved by reference: no replay needed
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert _charges_of_invoice(gateway, world, invoice) == 1


# --- past the key's lifetime -------------------------------------------------------------------


@pytest.mark.parametrize("left", ["unknown", "pending"])
def test_past_the_key_lifetime_the_attempt_goes_to_review_and_is_never_charged_again(
    engine, gateway, left, monkeypatch
):
    world, invoice = _past_due(engine, gateway)
    at = invoice.next_retry_at
    # The charge never reached the gateway: a replay today would charge (Stripe forgot the key by now).
    gateway.timeout_next(reached_gateway=False)
    if left == "pending":  # and the worker died before it could record anything
        monkeypatch.setattr(charging, "record_outcomes", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("gone")))
        monkeypatch.setattr(charging, "mark_unknown", lambda *a, **k: None)
    retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    monkeypatch.undo()
    (attempt,) = [a for a in _attempts(world, invoice.id) if a.trigger == "card_update"]
    assert attempt.status == left
    requests = gateway.charge_request_count()

    # Nobody settled it for a day (the runner was down): too late to ask under the key.
    summary = settle_unknown_attempts(engine, gateway=gateway, now=at + timedelta(hours=25))
    assert summary.review == 1 and summary.still_unknown == 0
    assert gateway.charge_request_count() == requests  # no replay past the key's lifetime
    reviewed = [a for a in attempts_of(world) if a.id == attempt.id][0]
    assert reviewed.status == AttemptStatus.REVIEW
    held = _invoice(world, invoice.id)
    assert held.status == InvoiceStatus.OPEN and held.charging_attempt_id is None and held.next_retry_at is None
    (event,) = _review_events(world)
    assert event["attempt_id"] == attempt.id and event["reason"] == "key_expired"

    # Never charged automatically again: runs, dunning, card updates, a second settlement.
    later = at + timedelta(days=3)
    summary = run_billing(engine, now=later, gateway=gateway)
    assert summary.charges_attempted == 0
    (blocked,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, later)
    assert blocked.outcome is PaymentOutcome.IN_REVIEW
    again = charge_invoice(
        engine, invoice.id, merchant_id=world.merchant_id, trigger="retry", gateway=gateway, now=later
    )
    assert again.outcome is PaymentOutcome.IN_REVIEW
    assert settle_unknown_attempts(engine, gateway=gateway, now=later).checked == 0
    assert gateway.charge_request_count() == requests
    assert _charges_of_invoice(gateway, world, invoice) == 0

    # A merchant decides (here: the customer paid by bank transfer).
    with new_session(engine) as session, session.begin():
        settle_invoice(
            session, invoice.id, InvoiceStatus.PAID, merchant_id=world.merchant_id, actor="user:1", now=later
        )
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID


# --- a reused key (database restored from a backup) ---------------------------------------------


class ReusedKeyGateway(SimulatedGateway):
    """The gateway already saw the attempt's key with an old 100 charge (attempt ids repeat after a
    restore): a new request under it is refused, and Search finds the old charge."""

    def charge(self, **request) -> ChargeResult:
        raise IdempotencyKeyReused("Keys for idempotent requests can only be used with the same parameters")

    def lookup_charge(self, *, idempotency_key: str) -> ChargeResult | None:
        return ChargeResult(
            ChargeOutcome.SUCCEEDED, gateway_ref="ch_sim_old100", amount_minor=100, currency="USD", customer_ref="x"
        )


def test_a_reused_key_goes_to_review_and_never_pays_the_invoice(engine, gateway):
    world, invoice = _past_due(engine, gateway)
    at = invoice.next_retry_at
    reused = ReusedKeyGateway()
    (result,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, reused, at)
    assert result.outcome is PaymentOutcome.UNKNOWN

    summary = settle_unknown_attempts(engine, gateway=reused, now=at + timedelta(minutes=1))
    assert summary.review == 1 and summary.succeeded == 0
    assert _invoice(world, invoice.id).status == InvoiceStatus.OPEN  # the old 100 charge pays nothing
    (event,) = _review_events(world)
    assert event["reason"] == "key_reused" and event["amount_minor"] == 2900
    run_billing(engine, now=at + timedelta(days=3), gateway=gateway)
    assert _charges_of_invoice(gateway, world, invoice) == 0


@pytest.mark.parametrize(
    ("reported", "differs"),
    [
        ({"amount_minor": 100}, "amount"),
        ({"currency": "EUR"}, "currency"),
        ({"customer_ref": "cus_sim_other"}, "customer"),
    ],
)
def test_an_answer_that_does_not_match_the_attempt_goes_to_review(engine, gateway, reported, differs):
    world, invoice = _past_due(engine, gateway)
    at = invoice.next_retry_at
    gateway.timeout_next(reached_gateway=False)
    (result,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    assert result.outcome is PaymentOutcome.UNKNOWN

    class Mismatching(SimulatedGateway):
        def charge(self, **request) -> ChargeResult:
            facts = {"amount_minor": 2900, "currency": "USD", "customer_ref": request["customer_ref"], **reported}
            return ChargeResult(ChargeOutcome.SUCCEEDED, gateway_ref="ch_sim_elsewhere", **facts)

    summary = settle_unknown_attempts(engine, gateway=Mismatching(), now=at + timedelta(minutes=1))
    assert summary.review == 1 and summary.succeeded == 0
    assert _invoice(world, invoice.id).status == InvoiceStatus.OPEN
    (event,) = _review_events(world)
    assert event["reason"] == f"mismatch: {differs}"


def test_keys_stay_unique_when_a_restored_database_repeats_attempt_ids(tmp_path, gateway):
    """Two databases holding the same merchant row (a restore): attempt 1 of each gets its own key."""
    created = datetime(2026, 1, 1, tzinfo=UTC)
    outcomes, keys = [], []
    for name in ("before", "restored"):
        engine = db.make_engine(f"sqlite:///{tmp_path / name}.db")
        SQLModel.metadata.create_all(engine)
        world, result = subscribed_world(engine, gateway, created_at=created)
        outcomes.append(result.charge.outcome)
        (attempt,) = attempts_of(world)
        assert attempt.id == 1
        keys += [c.idempotency_key for c in gateway.charges_for(_customer(world))]
        engine.dispose()
    assert outcomes == [PaymentOutcome.SUCCEEDED, PaymentOutcome.SUCCEEDED]
    assert len(set(keys)) == 2 and all(k.endswith("-attempt-1") for k in keys)


# --- no card on file -----------------------------------------------------------------------------


def test_no_card_on_file_is_our_failure_never_sent_to_the_gateway(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():  # the card is removed (detached)
        for card in session.exec(select(PaymentMethod)).all():
            card.detached_at = JAN31 + timedelta(days=1)
            session.add(card)
    requests = gateway.charge_request_count()
    summary = run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    assert gateway.charge_request_count() == requests
    assert summary.charges_not_sent == 1 and summary.charges_declined == 0 and summary.charges_attempted == 0
    attempt = attempts_of(world)[-1]
    assert attempt.status == AttemptStatus.FAILED and attempt.decline_code == "no_payment_method"
    assert attempt.gateway == ""  # never sent: not the processor's decline
    # Dunning still runs its course and asks the customer for a card.
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    assert invoices_of(world)[-1].next_retry_at == FEB28 + timedelta(minutes=1, days=1)
    (email,) = emails_of(world, "payment_failed")
    assert "no card on file" in email.body_text.lower()


def test_a_first_invoice_without_a_card_is_not_sent(engine, gateway):
    world = make_world(engine)
    with new_session(engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
    result = charge_invoice(
        engine, started.invoice.id, merchant_id=world.merchant_id, trigger="renewal", gateway=gateway, now=JAN31
    )
    assert result.decline_code == "no_payment_method"
    (attempt,) = attempts_of(world)
    assert attempt.gateway == "" and "not sent" in attempt.failure_message


# --- Stripe mode: the real gateway over a scripted HTTP stub ------------------------------------


def test_stripe_timeout_settles_by_replaying_the_same_request_not_by_a_search_miss(engine):
    import stripe

    from portal_app.billing.gateways.stripe.gateway import StripeGateway
    from tests.stripe_stubs import CUSTOMER, PM, StubStripeHTTP, api_error, payment_intent

    http = StubStripeHTTP()
    gw = StripeGateway("sk_test_51Tst", "pk_test_51Tst", http_client=http, max_retries=0, sleep=lambda _: None)
    world = make_world(engine)
    with new_session(engine) as session, session.begin():
        subscriber = session.get(Subscriber, world.subscriber_id)
        subscriber.gateway_customer_id = CUSTOMER
        session.add(subscriber)
        session.add(
            PaymentMethod(
                merchant_id=world.merchant_id,
                subscriber_id=world.subscriber_id,
                gateway="stripe",
                gateway_ref=PM,
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2031,
            )
        )
        invoice = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        ).invoice

    # The charge reached Stripe, the answer did not.
    http.fail("POST", "/v1/payment_intents", stripe.APIConnectionError("read timed out"))
    first = charge_invoice(engine, invoice.id, merchant_id=world.merchant_id, trigger="renewal", gateway=gw, now=JAN31)
    assert first.outcome is PaymentOutcome.UNKNOWN
    sent = http.sent[-1]

    # A minute later: the replay is still in flight (409) and Search has not indexed the intent yet.
    http.reply(
        "POST",
        "/v1/payment_intents",
        api_error("idempotency_error", "There is currently another in-progress request using this key."),
        status=409,
    )
    empty = {"object": "search_result", "data": [], "has_more": False, "url": "/v1/payment_intents/search"}
    http.reply("GET", "/v1/payment_intents/search", empty)
    summary = settle_unknown_attempts(engine, gateway=gw, now=JAN31 + timedelta(minutes=1))
    assert summary.still_unknown == 1 and summary.failed == 0
    assert _invoice(world, invoice.id).charging_attempt_id == first.attempt_id
    # Nobody charges meanwhile (the stub would refuse any request).
    again = charge_invoice(engine, invoice.id, merchant_id=world.merchant_id, trigger="retry", gateway=gw, now=JAN31)
    assert again.outcome is PaymentOutcome.IN_PROGRESS

    # The replay answers the first result: paid, once, by the same request under the same key.
    http.reply("POST", "/v1/payment_intents", payment_intent("succeeded", key=sent.headers["Idempotency-Key"]))
    summary = settle_unknown_attempts(engine, gateway=gw, now=JAN31 + timedelta(minutes=2))
    assert summary.succeeded == 1
    replays = [r for r in http.sent if r.method == "POST"]
    assert len(replays) == 3
    assert {r.headers["Idempotency-Key"] for r in replays} == {sent.headers["Idempotency-Key"]}
    assert all(r.form == sent.form for r in replays)  # exactly the same request, or Stripe would refuse it
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert not http.script


# --- where attempts are listed ------------------------------------------------------------------


def test_the_console_timeline_and_dashboard_show_review_and_not_sent_attempts(engine, gateway, monkeypatch):
    from portal_app.billing.facades.console import dashboard as dashboard_facade
    from portal_app.billing.facades.console import profile as profile_facade

    monkeypatch.setattr(db, "get_engine", lambda: engine)
    world, invoice = _past_due(engine, gateway)
    gateway.timeout_next(reached_gateway=False)
    retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, invoice.next_retry_at)
    settle_unknown_attempts(engine, gateway=gateway, now=invoice.next_retry_at + timedelta(hours=25))
    with new_session(engine) as session, session.begin():
        for card in session.exec(select(PaymentMethod)).all():
            card.detached_at = FEB28
            session.add(card)
    run_billing(engine, now=JAN31.replace(month=3, day=31, hour=10), gateway=gateway)  # the March renewal

    entries = profile_facade.subscriber_timeline(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    by_title = {e.title: e for e in entries}
    review = by_title["Charge of $29.00 needs review"]
    assert "not charged automatically" in review.detail and "resolve it under Payments to review" in review.detail
    assert any(t.startswith("Payment needs review") for t in by_title)
    not_sent = by_title["Charge of $29.00 not sent"]
    assert "nothing was sent to the payment processor" in not_sent.detail
    assert dashboard_facade.dashboard_metrics(merchant_id=world.merchant_id).needs_review == 1
