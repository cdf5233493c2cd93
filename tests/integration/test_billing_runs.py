"""Billing runs: anchored renewals, idempotence, period-end cancellations, expiring cards."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal_app.billing.runs import count_due_renewals, run_billing, send_card_expiring_emails
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import cancel_subscription, next_renewal_at, subscribe
from portal_app.db import new_session
from portal_app.models import AuditEvent, Invoice, PaymentMethod, Subscription
from portal_app.routes import portal_url
from tests.builders import (
    JAN31,
    UTC,
    add_card,
    attempts_of,
    emails_of,
    invoices_of,
    make_subscriber,
    rows,
    subscribed_world,
    subscription_of,
)


def test_monthly_renewals_follow_the_anchor_across_short_months(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=JAN31)
    expected = [
        (JAN31, JAN31.replace(month=2, day=28)),
        (JAN31.replace(month=2, day=28), JAN31.replace(month=3, day=31)),
        (JAN31.replace(month=3, day=31), JAN31.replace(month=4, day=30)),
        (JAN31.replace(month=4, day=30), JAN31.replace(month=5, day=31)),
    ]
    for _, end in expected[:-1]:
        summary = run_billing(engine, now=end + timedelta(minutes=5), gateway=gateway)
        assert summary.renewed == 1 and summary.charges_succeeded == 1
    invoices = invoices_of(world)
    assert [(i.period_start, i.period_end) for i in invoices] == expected
    assert [i.number for i in invoices] == [f"FIT-2026-00000{n}" for n in range(1, 5)]
    assert all(i.status == InvoiceStatus.PAID for i in invoices)
    sub = subscription_of(world)
    assert sub.period_index == 3 and sub.anchor_at == JAN31
    assert (sub.current_period_start, sub.current_period_end) == expected[-1]
    assert sub.status == SubscriptionStatus.ACTIVE


def test_late_run_renews_one_period_per_run_without_drift(engine, gateway):
    world, _ = subscribed_world(engine, gateway, start_at=JAN31)
    late = JAN31.replace(month=4, day=15)
    run_billing(engine, now=late, gateway=gateway)
    run_billing(engine, now=late, gateway=gateway)
    # Each run advances a subscription one period: Feb 28 -> Mar 31, then Mar 31 -> Apr 30.
    assert [i.period_end.date().isoformat() for i in invoices_of(world)] == ["2026-02-28", "2026-03-31", "2026-04-30"]
    assert run_billing(engine, now=late, gateway=gateway).renewed == 0


def test_same_now_twice_creates_nothing_new(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    at = JAN31.replace(month=2, day=28) + timedelta(hours=1)
    first = run_billing(engine, now=at, gateway=gateway)
    assert first.renewed == 1 and first.charges_declined == 1
    before = (len(invoices_of(world)), len(attempts_of(world)), gateway.charge_request_count(), len(emails_of(world)))
    second = run_billing(engine, now=at, gateway=gateway)
    assert second.renewed == 0 and second.charges_attempted == 0 and second.retries == 0
    after = (len(invoices_of(world)), len(attempts_of(world)), gateway.charge_request_count(), len(emails_of(world)))
    assert after == before


def test_yearly_and_weekly_plans_renew_on_their_anchor(engine, gateway):
    leap = datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
    world, _ = subscribed_world(engine, gateway, start_at=leap, interval="year")
    run_billing(engine, now=datetime(2025, 3, 1, tzinfo=UTC), gateway=gateway)
    assert subscription_of(world).current_period_end == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert invoices_of(world)[-1].number == "FIT-2025-000001"  # numbering restarts each year


def test_cancel_at_period_end_ends_at_the_run_without_invoice(any_engine, gateway):
    engine = any_engine
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        cancel_subscription(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            actor="subscriber",
            reason="Too expensive",
            now=JAN31 + timedelta(days=3),
        )
    period_end = JAN31.replace(month=2, day=28)
    assert run_billing(engine, now=period_end - timedelta(seconds=1), gateway=gateway).ended == 0
    summary = run_billing(engine, now=period_end + timedelta(hours=2), gateway=gateway)
    assert summary.ended == 1 and summary.renewed == 0
    sub = subscription_of(world)
    assert sub.status == SubscriptionStatus.CANCELED and sub.ended_at == period_end
    # When and why it was canceled stay; the flag records that it ended at the period end (as Stripe's).
    assert sub.canceled_at == JAN31 + timedelta(days=3) and sub.cancellation_reason == "Too expensive"
    assert sub.cancel_at_period_end
    assert len(invoices_of(world)) == 1
    kinds = [e.kind for e in rows(engine, AuditEvent, AuditEvent.subscriber_id == world.subscriber_id)]
    assert "subscription_ended" in kinds


def test_past_due_subscriptions_keep_renewing(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    add_card(world, gateway, "4000000000000341", now=JAN31)
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    summary = run_billing(engine, now=JAN31.replace(month=3, day=31), gateway=gateway)
    assert summary.renewed == 1
    assert [i.status for i in invoices_of(world)] == [InvoiceStatus.PAID, InvoiceStatus.OPEN, InvoiceStatus.OPEN]


@pytest.mark.parametrize("status", list(SubscriptionStatus))
def test_the_run_renews_exactly_what_the_portal_announces(engine, gateway, status):
    """One renewal rule: the run, the "next renewal" shown and the card-expiry warning agree."""
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        # Test setup only: put the row in each status without going through its transitions.
        session.execute(sa.update(Subscription).values(status=status.value))
    (card,) = rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)
    announced = next_renewal_at(subscription_of(world)) is not None
    at_period_end = JAN31.replace(month=2, day=28)
    warned = send_card_expiring_emails(engine, now=datetime(card.exp_year, card.exp_month, 10, tzinfo=UTC))
    assert count_due_renewals(engine, now=at_period_end) == int(announced) == warned
    renewing = (SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE, SubscriptionStatus.TRIALING)
    assert announced is (status in renewing)  # trialing: the first invoice at trial_end (trials.py)


def test_many_subscriptions_in_batches(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        ids = [make_subscriber(session, world.merchant_id, f"Member {n}").id for n in range(25)]
    for sid in ids:
        add_card(world, gateway, now=JAN31, subscriber_id=sid)
        subscribe(
            engine,
            merchant_id=world.merchant_id,
            subscriber_id=sid,
            plan_id=world.plan_id,
            start_at=JAN31,
            gateway=gateway,
        )
    at = JAN31.replace(month=2, day=28)
    assert count_due_renewals(engine, now=at) == 26
    seen = []
    summary = run_billing(engine, now=at, gateway=gateway, batch_size=7, progress=lambda *a: seen.append(a))
    assert summary.renewed == 26 and summary.charges_succeeded == 26
    assert seen[-1] == ("renewals", 26, 26)
    numbers = sorted(i.number for i in rows(engine, Invoice))
    assert numbers == [f"FIT-2026-{n:06d}" for n in range(1, 53)]


def test_card_expiring_email_once_per_card(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    (card,) = rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)
    # Expires at the end of the month: warned within 30 days of that.
    soon = datetime(card.exp_year, card.exp_month, 10, tzinfo=UTC)
    early = soon - timedelta(days=40)
    assert send_card_expiring_emails(engine, now=early) == 0
    assert send_card_expiring_emails(engine, now=soon) == 1
    assert send_card_expiring_emails(engine, now=soon + timedelta(days=1)) == 0
    (email,) = emails_of(world, "card_expiring")
    assert "4242" in email.body_text and portal_url(current_portal_token_of(world)) in email.body_text
    # A new card (same expiry for the test) is a new card: warned again.
    add_card(world, gateway, now=soon + timedelta(days=2))
    assert send_card_expiring_emails(engine, now=soon + timedelta(days=2)) == 1


def current_portal_token_of(world):
    from portal_app.billing.portal_links import current_portal_token
    from portal_app.models import Subscriber

    with new_session(world.engine) as session:
        return current_portal_token(session, session.get(Subscriber, world.subscriber_id))


def test_retry_run_pays_after_decline(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    invoice = invoices_of(world)[-1]
    assert run_billing(engine, now=invoice.next_retry_at - timedelta(seconds=1), gateway=gateway).retries == 0
    summary = run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
    assert summary.retries == 1 and summary.charges_succeeded == 1
    assert invoices_of(world)[-1].status == InvoiceStatus.PAID
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


@pytest.mark.concurrency
def test_concurrent_runs_renew_and_charge_each_subscription_once(any_engine, gateway):
    import threading

    world, _ = subscribed_world(any_engine, gateway)
    with new_session(any_engine) as session, session.begin():
        ids = [make_subscriber(session, world.merchant_id, f"Member {n}").id for n in range(29)]
    for sid in ids:
        add_card(world, gateway, now=JAN31, subscriber_id=sid)
        subscribe(
            any_engine,
            merchant_id=world.merchant_id,
            subscriber_id=sid,
            plan_id=world.plan_id,
            start_at=JAN31,
            gateway=gateway,
        )
    before = gateway.succeeded_charge_count()
    at = JAN31.replace(month=2, day=28)
    barrier, errors, summaries = threading.Barrier(4), [], []

    def runner():
        try:
            barrier.wait()
            summaries.append(run_billing(any_engine, now=at, gateway=gateway, batch_size=5))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(s.renewed for s in summaries) == 30
    assert gateway.succeeded_charge_count() - before == 30
    invoices = rows(any_engine, Invoice)
    assert len(invoices) == 60 and all(i.status == InvoiceStatus.PAID for i in invoices)
    assert sorted(i.number for i in invoices) == [f"FIT-2026-{n:06d}" for n in range(1, 61)]
