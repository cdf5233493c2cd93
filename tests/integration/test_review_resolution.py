"""A merchant resolves a payment in review from the console: it was charged (mark paid), it was not
(retry: the next run charges once, with a new attempt and key), or the invoice is void. Refused, with
nothing changed: another merchant's attempt, an attempt not in review, a second click."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing.errors import BillingError, NotAllowed, NotFound
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.billing.payments.card_updates import retry_open_invoices
from portal_app.billing.payments.refunds import ENDED_IN_FLIGHT, REFUND_FAILED
from portal_app.billing.payments.settlement import settle_unknown_attempts
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.db import new_session
from portal_app.models import AuditEvent, PaymentAttempt
from tests.builders import (
    JAN31,
    attempts_of,
    emails_of,
    invoices_of,
    make_world,
    rows,
    subscribed_world,
    subscription_of,
    table_snapshot,
)

FEB28 = JAN31.replace(month=2, day=28)
USER = 7


@pytest.fixture
def any_db(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    return any_engine


def _in_review(engine, gateway):
    """Past due (the Feb renewal declined); the card-update retry timed out before reaching the gateway and
    nobody settled it within the key's lifetime: the attempt is in review (test_unknown_charges' way)."""
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    invoice = invoices_of(world)[-1]
    at = invoice.next_retry_at
    gateway.timeout_next(reached_gateway=False)
    retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    settle_unknown_attempts(engine, gateway=gateway, now=at + timedelta(hours=25))
    (attempt,) = [a for a in attempts_of(world) if a.status == AttemptStatus.REVIEW]
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    return world, invoice, attempt, at + timedelta(hours=26)


def _invoice(world, invoice_id):
    return [i for i in invoices_of(world) if i.id == invoice_id][0]


def _attempt(world, attempt_id):
    return [a for a in attempts_of(world) if a.id == attempt_id][0]


def _resolutions(world):
    return [
        json.loads(e.detail)
        for e in rows(world.engine, AuditEvent, AuditEvent.subscriber_id == world.subscriber_id)
        if e.kind == "payment_review_resolved"
    ]


def _resolve(world, attempt_id, resolution, now, merchant_id=None):
    return profile_facade.resolve_payment_review(
        merchant_id=merchant_id or world.merchant_id,
        user_id=USER,
        attempt_id=str(attempt_id),
        resolution=resolution,
        now=now,
    )


def _profile_reviews(world):
    return profile_facade.subscriber_profile(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id).reviews


def test_the_profile_lists_the_review_with_its_reason(any_db, gateway):
    world, invoice, attempt, _ = _in_review(any_db, gateway)
    (item,) = _profile_reviews(world)
    assert item.attempt_id == attempt.id and item.invoice_number == invoice.number
    assert "too late to ask the payment processor" in item.reason


def test_it_was_charged_marks_the_invoice_paid_and_restores_the_subscription(any_db, gateway):
    world, invoice, attempt, now = _in_review(any_db, gateway)
    receipts = len(emails_of(world, "receipt"))
    assert _resolve(world, attempt.id, "paid", now) == invoice.number
    assert _attempt(world, attempt.id).status == AttemptStatus.SUCCEEDED
    paid = _invoice(world, invoice.id)
    assert paid.status == InvoiceStatus.PAID and paid.paid_at is not None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert len(emails_of(world, "receipt")) == receipts + 1
    (event,) = _resolutions(world)
    assert event["resolution"] == "paid" and event["attempt_id"] == attempt.id and event["actor"] == f"user:{USER}"
    assert _profile_reviews(world) == []
    titles = [
        e.title
        for e in profile_facade.subscriber_timeline(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    ]
    assert "Payment review resolved" in titles
    run_billing(any_db, now=now + timedelta(days=2), gateway=gateway)
    assert len([a for a in attempts_of(world) if a.invoice_id == invoice.id]) == 2  # never charged again


def test_it_was_not_charged_retries_on_the_next_run_with_a_new_attempt_and_key(any_db, gateway):
    world, invoice, attempt, now = _in_review(any_db, gateway)
    _resolve(world, attempt.id, "retry", now)
    assert _attempt(world, attempt.id).status == AttemptStatus.FAILED
    retried = _invoice(world, invoice.id)
    assert retried.status == InvoiceStatus.OPEN and retried.charging_attempt_id is None
    assert retried.next_retry_at is not None and retried.next_retry_at <= now
    (event,) = _resolutions(world)
    assert event["resolution"] == "retry" and event["attempt_id"] == attempt.id
    timeline = profile_facade.subscriber_timeline(merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    (entry,) = [e for e in timeline if e.title == "Charge of $29.00 was not charged"]
    assert "charged again on the next billing run" in entry.detail

    requests = gateway.charge_request_count()
    summary = run_billing(any_db, now=now + timedelta(minutes=1), gateway=gateway)
    assert summary.charges_attempted == 1
    assert gateway.charge_request_count() == requests + 1
    new = [a for a in attempts_of(world) if a.invoice_id == invoice.id and a.id > attempt.id]
    assert len(new) == 1 and new[0].status == AttemptStatus.SUCCEEDED
    assert new[0].key_nonce != attempt.key_nonce
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    run_billing(any_db, now=now + timedelta(minutes=2), gateway=gateway)
    assert gateway.charge_request_count() == requests + 1  # once


def test_void_the_invoice(any_db, gateway):
    world, invoice, attempt, now = _in_review(any_db, gateway)
    _resolve(world, attempt.id, "void", now)
    assert _attempt(world, attempt.id).status == AttemptStatus.FAILED
    voided = _invoice(world, invoice.id)
    assert voided.status == InvoiceStatus.VOID and voided.voided_at is not None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE  # nothing open is owed any more
    (event,) = _resolutions(world)
    assert event["resolution"] == "void"


@pytest.mark.parametrize("how", ["another_merchant", "not_in_review", "second_click", "bad_resolution", "bad_id"])
def test_refusals_change_nothing(any_db, gateway, how):
    world, invoice, attempt, now = _in_review(any_db, gateway)
    other = make_world(any_db, slug="other", prefix="OTH")
    target, resolution, merchant_id = attempt.id, "paid", world.merchant_id
    if how == "another_merchant":
        merchant_id = other.merchant_id
    elif how == "not_in_review":
        target = [a for a in attempts_of(world) if a.status == AttemptStatus.SUCCEEDED][0].id
    elif how == "second_click":
        _resolve(world, attempt.id, "void", now)
    elif how == "bad_resolution":
        resolution = "refund"
    else:
        target = "1 OR 1=1"
    before = table_snapshot(any_db)
    expected = NotFound if how in ("another_merchant", "bad_id") else NotAllowed
    with pytest.raises(expected) as err:
        _resolve(world, target, resolution, now, merchant_id=merchant_id)
    assert isinstance(err.value, BillingError) and err.value.message
    assert table_snapshot(any_db) == before


def test_money_being_refunded_is_not_offered_but_a_failed_refund_is(any_db, gateway):
    world, invoice, attempt, now = _in_review(any_db, gateway)
    table = PaymentAttempt.__table__
    with new_session(any_db) as session, session.begin():
        session.execute(sa.update(table).where(table.c.id == attempt.id).values(decline_code=ENDED_IN_FLIGHT))
    assert _profile_reviews(world) == []
    before = table_snapshot(any_db)
    with pytest.raises(NotAllowed):
        _resolve(world, attempt.id, "paid", now)
    assert table_snapshot(any_db) == before

    with new_session(any_db) as session, session.begin():
        session.execute(
            sa.update(table)
            .where(table.c.id == attempt.id)
            .values(decline_code=REFUND_FAILED, failure_message="card closed")
        )
    (item,) = _profile_reviews(world)
    assert "refunding it failed: card closed" in item.reason
    _resolve(world, attempt.id, "void", now)
    assert _invoice(world, invoice.id).status == InvoiceStatus.VOID
