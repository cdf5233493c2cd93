"""Trials on SQLite and PostgreSQL: a plan with trial days starts trialing without an invoice; one
reminder (email + event) before the end; at trial_end the run charges the first invoice (paid ->
active, declined -> past_due); a cancellation during the trial never costs anything."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import cancel_subscription, subscribe
from portal_app.db import new_session
from portal_app.models import Merchant, OutgoingEvent, Plan, Subscription
from tests.builders import (
    CHARGE_DECLINES,
    JAN31,
    add_card,
    attempts_of,
    audit_kinds,
    emails_of,
    invoices_of,
    make_world,
    rows,
    subscription_of,
)

pytestmark = pytest.mark.integration

S, I = SubscriptionStatus, InvoiceStatus
TRIAL_END = JAN31 + timedelta(days=14)  # Feb 14, 09:30


def _trial_world(engine, gateway, *, number=None, reminder_days=3, policy="at_period_end"):
    world = make_world(engine, policy=policy)
    with new_session(engine) as session, session.begin():
        session.execute(sa.update(Plan).where(Plan.id == world.plan_id).values(trial_days=14))
        session.execute(
            sa.update(Merchant).where(Merchant.id == world.merchant_id).values(trial_reminder_days=reminder_days)
        )
    add_card(world, gateway, *([number] if number else []), now=JAN31)
    result = subscribe(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=JAN31,
        gateway=gateway,
    )
    return world, result


def _events(world) -> list[str]:
    found = rows(world.engine, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id)
    return [e.type for e in sorted(found, key=lambda e: e.id)]


def test_a_trial_starts_trialing_without_an_invoice_and_converts_at_its_end(any_engine, gateway):
    world, result = _trial_world(any_engine, gateway)
    assert (result.invoice_id, result.charge, result.active) == (None, None, False)
    sub = subscription_of(world)
    assert (sub.status, sub.trial_end, sub.current_period_start, sub.current_period_end) == (
        S.TRIALING,
        TRIAL_END,
        JAN31,
        TRIAL_END,
    )
    assert invoices_of(world) == [] and attempts_of(world) == []
    assert "trial_started" in audit_kinds(world)
    assert SubscriptionObject.of(sub).trial_end == TRIAL_END  # what the API and webhooks tell the product

    # Runs during the trial bill nothing.
    for day in (1, 5, 10):
        run_billing(any_engine, now=JAN31 + timedelta(days=day), gateway=gateway)
    assert invoices_of(world) == []

    summary = run_billing(any_engine, now=TRIAL_END + timedelta(minutes=5), gateway=gateway)
    assert (summary.renewed, summary.charges_succeeded) == (1, 1)
    (invoice,) = invoices_of(world)
    assert (invoice.status, invoice.total_minor, invoice.period_start, invoice.period_end) == (
        I.PAID,
        2900,
        TRIAL_END,
        TRIAL_END.replace(month=3),
    )
    sub = subscription_of(world)
    assert (sub.status, sub.period_index, sub.current_period_end) == (S.ACTIVE, 0, TRIAL_END.replace(month=3))
    # The timeline says "active: first invoice paid", not "active again" (it never was active).
    assert "subscription_activated" in audit_kinds(world) and "subscription_reactivated" not in audit_kinds(world)
    # The next renewal follows the anchor at trial_end.
    run_billing(any_engine, now=TRIAL_END.replace(month=3) + timedelta(minutes=5), gateway=gateway)
    assert invoices_of(world)[-1].period_start == TRIAL_END.replace(month=3)


def test_a_first_invoice_that_credit_covers_ends_the_trial_without_a_charge(any_engine, gateway):
    world, _ = _trial_world(any_engine, gateway)
    with new_session(any_engine) as session, session.begin():
        session.execute(
            sa.update(Subscription).where(Subscription.id == subscription_of(world).id).values(credit_minor=5000)
        )
    summary = run_billing(any_engine, now=TRIAL_END + timedelta(minutes=5), gateway=gateway)
    assert (summary.renewed, summary.charges_succeeded) == (1, 0)
    (invoice,) = invoices_of(world)
    assert (invoice.status, invoice.total_minor) == (I.PAID, 0)
    sub = subscription_of(world)
    assert (sub.status, sub.period_index, sub.credit_minor) == (S.ACTIVE, 0, 5000 - 2900)
    assert attempts_of(world) == []


def test_the_reminder_is_sent_exactly_once_with_the_amount_and_date(any_engine, gateway):
    world, _ = _trial_world(any_engine, gateway, reminder_days=3)
    run_billing(any_engine, now=TRIAL_END - timedelta(days=3, minutes=1), gateway=gateway)
    assert emails_of(world, "trial_will_end") == []
    for minutes in (0, 60, 24 * 60, 2 * 24 * 60):
        run_billing(any_engine, now=TRIAL_END - timedelta(days=3) + timedelta(minutes=minutes), gateway=gateway)
    (email,) = emails_of(world, "trial_will_end")
    assert "$29.00" in email.body_text and "February 14, 2026" in email.body_text
    assert _events(world).count("subscription.trial_will_end") == 1
    assert audit_kinds(world).count("trial_reminder_sent") == 1


def test_no_reminder_when_the_merchant_turned_it_off(any_engine, gateway):
    world, _ = _trial_world(any_engine, gateway, reminder_days=0)
    run_billing(any_engine, now=TRIAL_END - timedelta(hours=1), gateway=gateway)
    assert emails_of(world, "trial_will_end") == []
    assert "subscription.trial_will_end" not in _events(world)


def test_a_declined_conversion_goes_past_due_and_dunning_retries(any_engine, gateway):
    world, _ = _trial_world(any_engine, gateway, number=CHARGE_DECLINES)
    summary = run_billing(any_engine, now=TRIAL_END + timedelta(minutes=5), gateway=gateway)
    assert summary.charges_declined == 1
    assert subscription_of(world).status == S.PAST_DUE
    (invoice,) = invoices_of(world)
    assert invoice.status == I.OPEN and invoice.next_retry_at is not None
    assert emails_of(world, "payment_failed")


@pytest.mark.parametrize("policy", ["at_period_end", "immediately"])
def test_a_cancellation_during_the_trial_never_costs_anything(any_engine, gateway, policy):
    world, _ = _trial_world(any_engine, gateway, policy=policy)
    with new_session(any_engine) as session, session.begin():
        cancel_subscription(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            actor="subscriber",
            now=JAN31 + timedelta(days=5),
        )
    for day in (13, 14, 15, 45, 80):
        run_billing(any_engine, now=JAN31 + timedelta(days=day, minutes=5), gateway=gateway)
    sub = subscription_of(world)
    assert sub.status == S.CANCELED
    assert sub.ended_at == (TRIAL_END if policy == "at_period_end" else JAN31 + timedelta(days=5))
    assert invoices_of(world) == [] and attempts_of(world) == []
    assert emails_of(world, "trial_will_end") == []
