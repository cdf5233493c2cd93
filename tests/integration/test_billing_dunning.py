"""Dunning: retry schedule from the first failure, hard declines, the end state, recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import cancel_subscription
from portal_app.db import new_session
from portal_app.models import PaymentMethod
from tests.builders import (
    JAN31,
    VISA,
    add_card,
    attempts_of,
    audit_kinds,
    emails_of,
    invoices_of,
    rows,
    subscribed_world,
    subscription_of,
)

FEB28 = JAN31.replace(month=2, day=28)


def _failing_renewal(engine, gateway, **world_kw):
    """Subscribed and paid; the card then declines every charge; the Feb 28 renewal fails."""
    world, _ = subscribed_world(engine, gateway, **world_kw)
    add_card(world, gateway, "4000000000000341", now=JAN31)
    first_failure = FEB28 + timedelta(minutes=3)
    run_billing(engine, now=first_failure, gateway=gateway)
    return world, first_failure


def _run_retries(engine, gateway, world, until_count):
    """Run billing at each scheduled retry until the invoice has failed `until_count` times."""
    while True:
        invoice = invoices_of(world)[-1]
        if invoice.attempt_count >= until_count or invoice.next_retry_at is None:
            return invoice
        run_billing(engine, now=invoice.next_retry_at, gateway=gateway)


def test_soft_declines_follow_the_schedule_from_the_first_failure(engine, gateway):
    world, first = _failing_renewal(engine, gateway)
    retries = []
    invoice = invoices_of(world)[-1]
    while invoice.next_retry_at is not None:
        retries.append(invoice.next_retry_at)
        # Runs a little late each time: the schedule stays anchored on the first failure.
        run_billing(engine, now=invoice.next_retry_at + timedelta(hours=2), gateway=gateway)
        invoice = invoices_of(world)[-1]
    assert retries == [first + timedelta(days=d) for d in (1, 3, 5, 7)]
    assert invoice.attempt_count == 5  # the renewal and four retries
    assert len(emails_of(world, "payment_failed")) == 5
    body = emails_of(world, "payment_failed")[0].body_text
    assert invoice.number in body and "http" in body


def test_schedule_is_per_merchant(engine, gateway):
    world, first = _failing_renewal(engine, gateway, dunning_schedule_days="2,4")
    invoice = invoices_of(world)[-1]
    assert invoice.next_retry_at == first + timedelta(days=2)
    run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
    assert invoices_of(world)[-1].next_retry_at == first + timedelta(days=4)


def test_past_due_during_dunning_then_unpaid_at_the_end(engine, gateway):
    world, _ = _failing_renewal(engine, gateway, dunning_end_state="unpaid")
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    invoice = _run_retries(engine, gateway, world, until_count=99)
    assert subscription_of(world).status == SubscriptionStatus.UNPAID
    assert invoice.status == InvoiceStatus.OPEN and invoice.next_retry_at is None  # still payable
    assert "subscription_unpaid" in audit_kinds(world)
    # Paying it (new card) restores the subscription at once.
    result = add_card(world, gateway, VISA, now=FEB28 + timedelta(days=9))
    assert result.all_paid and subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_canceled_end_state_writes_the_invoice_off(engine, gateway):
    world, _ = _failing_renewal(engine, gateway, dunning_end_state="canceled")
    invoice = _run_retries(engine, gateway, world, until_count=99)
    sub = subscription_of(world)
    assert sub.status == SubscriptionStatus.CANCELED and sub.ended_at is not None
    assert sub.canceled_at == sub.ended_at and sub.cancellation_reason == "Payment failed"
    assert invoice.status == InvoiceStatus.UNCOLLECTIBLE
    # Nothing left to charge: a card update charges nothing.
    before = gateway.charge_request_count()
    result = add_card(world, gateway, VISA, now=FEB28 + timedelta(days=9))
    assert result.charges == () and gateway.charge_request_count() == before


@pytest.mark.parametrize("code", ["lost_card", "stolen_card"])
def test_a_hard_decline_retires_the_card_and_ends_the_subscription_on_schedule(engine, gateway, code):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next(code)
    first_failure = FEB28 + timedelta(minutes=3)
    run_billing(engine, now=first_failure, gateway=gateway)
    invoice = invoices_of(world)[-1]
    assert invoice.status == InvoiceStatus.OPEN and invoice.attempt_count == 1
    assert attempts_of(world)[-1].hard_decline
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    (card,) = rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)
    assert card.detached_at is not None and not card.is_default  # never charged again
    assert "payment_method_retired" in audit_kinds(world)

    before = gateway.charge_request_count()
    retries = []
    while invoice.next_retry_at is not None:
        retries.append(invoice.next_retry_at)
        run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
        invoice = invoices_of(world)[-1]
    assert retries == [first_failure + timedelta(days=d) for d in (1, 3, 5, 7)]  # the merchant's schedule
    assert subscription_of(world).status == SubscriptionStatus.UNPAID  # its end policy, not past_due forever
    run_billing(engine, now=FEB28.replace(month=3, day=31) + timedelta(hours=1), gateway=gateway)  # next renewal
    assert gateway.charge_request_count() == before  # the lost card was never asked again
    email = emails_of(world, "payment_failed")[0]
    assert "stolen" not in email.body_text.lower() and "lost" not in email.body_text.lower()

    result = add_card(world, gateway, VISA, now=FEB28.replace(month=4, day=2))  # a new card restores it
    assert result.all_paid and [c.invoice_id for c in result.charges] == [invoice.id]
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_success_on_a_retry_restores_active(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds", times=2)
    run_billing(engine, now=FEB28, gateway=gateway)
    invoice = _run_retries(engine, gateway, world, until_count=2)
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
    assert invoices_of(world)[-1].status == InvoiceStatus.PAID
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert invoices_of(world)[-1].next_retry_at is None


def test_a_subscription_ended_at_period_end_is_retried_no_more(any_engine, gateway):
    engine = any_engine
    # Weekly plan: the period Feb 7 -> Feb 14 ends on the day the last retry (first failure + 7) is due.
    world, _ = subscribed_world(engine, gateway, interval="week")
    add_card(world, gateway, "4000000000000341", now=JAN31)
    first_failure = JAN31 + timedelta(days=7)
    run_billing(engine, now=first_failure, gateway=gateway)
    with new_session(engine) as session, session.begin():
        result = cancel_subscription(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            actor="subscriber",
            now=first_failure + timedelta(hours=1),
        )
    assert not result.immediate and subscription_of(world).status == SubscriptionStatus.PAST_DUE
    invoice = _run_retries(engine, gateway, world, until_count=4)  # retries go on during the grace period
    period_end = subscription_of(world).current_period_end
    assert invoice.next_retry_at == period_end and len(emails_of(world, "payment_failed")) == 4
    before = gateway.charge_request_count()
    summary = run_billing(engine, now=period_end, gateway=gateway)
    assert summary.ended == 1 and summary.retries == 0 and summary.charges_attempted == 0
    sub, invoice = subscription_of(world), invoices_of(world)[-1]
    assert sub.status == SubscriptionStatus.CANCELED and sub.ended_at == period_end
    assert invoice.status == InvoiceStatus.OPEN and invoice.next_retry_at is None  # still payable in the portal
    run_billing(engine, now=period_end + timedelta(days=30), gateway=gateway)
    assert gateway.charge_request_count() == before and len(emails_of(world, "payment_failed")) == 4


def test_ending_after_the_last_retry_stops_the_other_invoices_retries_too(any_engine, gateway):
    engine = any_engine
    # Weekly plan, past due: the Feb 14 run renews (a second invoice, declined) before the first
    # invoice's last retry fails and cancels the subscription.
    world, _ = subscribed_world(engine, gateway, interval="week", dunning_end_state="canceled")
    add_card(world, gateway, "4000000000000341", now=JAN31)
    run_billing(engine, now=JAN31 + timedelta(days=7), gateway=gateway)
    _run_retries(engine, gateway, world, until_count=4)
    run_billing(engine, now=JAN31 + timedelta(days=14), gateway=gateway)
    first, second = invoices_of(world)[1:]
    assert subscription_of(world).status == SubscriptionStatus.CANCELED
    assert first.status == InvoiceStatus.UNCOLLECTIBLE
    assert second.status == InvoiceStatus.OPEN and second.next_retry_at is None
    before = gateway.charge_request_count()
    run_billing(engine, now=JAN31 + timedelta(days=30), gateway=gateway)
    assert gateway.charge_request_count() == before
