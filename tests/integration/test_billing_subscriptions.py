"""Subscriptions: cancellation policies, undo, delete, predicates, tenancy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app.billing import subscription_views as views
from portal_app.billing import subscriptions as subs
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.invoices import finalize_invoice
from portal_app.billing.payments.card_updates import retry_open_invoices, update_payment_method
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.plans import update_plan
from portal_app.billing.portal_links import issue_portal_link, resolve_portal_token
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.db import new_session
from portal_app.models import Plan, PortalLink, Subscriber
from tests.builders import (
    CHARGE_DECLINES,
    JAN31,
    add_card,
    audit_kinds,
    card,
    emails_of,
    invoices_of,
    make_world,
    rows,
    subscribed_world,
    subscription_of,
)

FEB28 = JAN31.replace(month=2, day=28)
MID = JAN31 + timedelta(days=10)


def _cancel(world, now=MID, **kw):
    with new_session(world.engine) as session, session.begin():
        return subs.cancel_subscription(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            actor="subscriber",
            reason="Too expensive",
            now=now,
            **kw,
        )


def test_at_period_end_keeps_access_and_can_be_undone(engine, gateway):
    world, _ = subscribed_world(engine, gateway, policy="at_period_end")
    result = _cancel(world)
    assert not result.immediate and result.access_ends_at == FEB28
    sub = subscription_of(world)
    assert sub.status == SubscriptionStatus.ACTIVE and sub.cancel_at_period_end
    assert sub.cancellation_reason == "Too expensive"
    assert subs.on_grace_period(sub, MID) and subs.next_renewal_at(sub) is None
    assert not subs.can_self_cancel(sub, rows(engine, Plan)[0])
    (email,) = emails_of(world, "cancellation")
    with new_session(engine) as session, session.begin():
        subs.undo_cancellation(session, sub.id, merchant_id=world.merchant_id, actor="subscriber", now=MID)
    sub = subscription_of(world)
    assert not sub.cancel_at_period_end and sub.cancellation_reason == "" and subs.next_renewal_at(sub) == FEB28
    assert audit_kinds(world)[-2:] == ["subscription_canceled", "cancellation_undone"]


def test_the_grace_period_reads_canceling_for_everyone_until_the_period_ends(engine, gateway):
    world, _ = subscribed_world(engine, gateway, policy="at_period_end")
    _cancel(world)
    sub_id = subscription_of(world).id
    with new_session(engine) as session:
        during = views.subscription_overview(session, sub_id, merchant_id=world.merchant_id, now=MID)
        after = views.subscription_overview(
            session, sub_id, merchant_id=world.merchant_id, now=FEB28 + timedelta(seconds=1)
        )
    assert during.display_status == "canceling" and during.status == "active" and not during.is_ended
    assert after.display_status == "active"  # the run ends it at the period end; until then the row is active
    assert during.can_undo_cancellation and not after.can_undo_cancellation


def _assert_ended_at_once(world, gateway, result, at):
    """Canceled now (not at the period end), retries stopped, the open invoice still payable."""
    sub = subscription_of(world)
    assert result.immediate and result.access_ends_at == at
    assert sub.status == SubscriptionStatus.CANCELED and sub.ended_at == at and not sub.cancel_at_period_end
    assert not subs.on_grace_period(sub, at) and not subs.can_undo_cancellation(sub, at)
    (invoice,) = [i for i in invoices_of(world) if i.status == InvoiceStatus.OPEN]
    assert invoice.next_retry_at is None
    (email,) = emails_of(world, "cancellation")
    assert audit_kinds(world)[-1] == "subscription_canceled"
    before = gateway.charge_request_count()
    run_billing(world.engine, now=at + timedelta(days=10), gateway=gateway)  # past every scheduled retry
    assert gateway.charge_request_count() == before and subscription_of(world).status == SubscriptionStatus.CANCELED


def test_cancel_ends_an_incomplete_subscription_at_once_whatever_the_policy(any_engine, gateway):
    engine = any_engine
    world, started = subscribed_world(engine, gateway, number=CHARGE_DECLINES, policy="at_period_end")
    assert not started.active and subscription_of(world).status == SubscriptionStatus.INCOMPLETE
    assert invoices_of(world)[0].next_retry_at is not None  # dunning retries a first invoice too
    result = _cancel(world)
    _assert_ended_at_once(world, gateway, result, MID)


def test_cancel_ends_an_unpaid_subscription_at_once_whatever_the_policy(any_engine, gateway):
    engine = any_engine
    world, _ = subscribed_world(engine, gateway, policy="at_period_end", dunning_end_state="unpaid")
    add_card(world, gateway, CHARGE_DECLINES, now=JAN31)
    run_billing(engine, now=FEB28, gateway=gateway)
    while (invoice := invoices_of(world)[-1]).next_retry_at is not None:
        run_billing(engine, now=invoice.next_retry_at, gateway=gateway)
    assert subscription_of(world).status == SubscriptionStatus.UNPAID
    at = FEB28 + timedelta(days=10)
    result = _cancel(world, now=at)
    _assert_ended_at_once(world, gateway, result, at)


def test_undo_is_refused_after_the_period_ended(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    _cancel(world)
    with new_session(engine) as session, session.begin(), pytest.raises(NotAllowed):
        subs.undo_cancellation(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            actor="subscriber",
            now=FEB28 + timedelta(seconds=1),
        )


def test_immediately_cancels_now(engine, gateway):
    world, _ = subscribed_world(engine, gateway, policy="immediately")
    result = _cancel(world)
    sub = subscription_of(world)
    assert result.immediate and sub.status == SubscriptionStatus.CANCELED and sub.ended_at == MID
    assert not subs.on_grace_period(sub, MID) and subs.access_ends_at(sub) == MID
    with new_session(engine) as session, session.begin(), pytest.raises(NotAllowed):
        subs.undo_cancellation(session, sub.id, merchant_id=world.merchant_id, actor="subscriber", now=MID)


def test_not_allowed_refuses_in_portal_but_merchant_can_force(engine, gateway):
    world, _ = subscribed_world(engine, gateway, policy="not_allowed")
    plan = rows(engine, Plan)[0]
    assert not subs.can_self_cancel(subscription_of(world), plan)
    with pytest.raises(NotAllowed) as refused:
        _cancel(world)
    assert "contact" in refused.value.message.lower()
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    _cancel(world, mode="at_period_end")
    assert subscription_of(world).cancel_at_period_end


def test_predicates_and_overview(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session:
        view = views.subscription_overview(session, subscription_of(world).id, merchant_id=world.merchant_id, now=MID)
    assert view.status == "active" and view.next_renewal_at == FEB28
    assert view.next_amount.amount_minor == 2900 and view.next_amount.currency == "USD"
    assert view.can_self_cancel and not view.on_grace_period and not view.has_open_invoice
    assert view.amount_due is None
    assert view.display_status == "active" and not view.asks_for_payment and not view.is_ended
    assert not view.can_undo_cancellation
    # A price change shows in the next amount (issued invoices keep theirs).
    with new_session(engine) as session, session.begin():
        update_plan(session, world.plan_id, merchant_id=world.merchant_id, amount_minor=3500)
    with new_session(engine) as session:
        view = views.subscription_overview(session, subscription_of(world).id, merchant_id=world.merchant_id, now=MID)
    assert view.next_amount.amount_minor == 3500
    assert invoices_of(world)[0].total_minor == 2900


def test_the_overview_asks_for_payment_only_when_a_failed_renewal_waits(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28, gateway=gateway)
    with new_session(engine) as session:
        view = views.subscription_overview(session, subscription_of(world).id, merchant_id=world.merchant_id, now=FEB28)
    assert view.status == "past_due" and view.display_status == "past_due"
    assert view.asks_for_payment and view.amount_due.amount_minor == 2900 and not view.is_ended
    # A first invoice never paid (incomplete) is not a failed renewal: the portal shows no "pay now" line.
    other = make_world(engine, slug="other", prefix="OTH")
    add_card(other, gateway, CHARGE_DECLINES, now=JAN31)
    subs.subscribe(
        engine,
        merchant_id=other.merchant_id,
        subscriber_id=other.subscriber_id,
        plan_id=other.plan_id,
        start_at=JAN31,
        gateway=gateway,
    )
    with new_session(engine) as session:
        view = views.subscription_overview(session, subscription_of(other).id, merchant_id=other.merchant_id, now=MID)
    assert view.status == "incomplete" and view.has_open_invoice and not view.asks_for_payment


def test_delete_revokes_links_and_voids_unpaid(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next("insufficient_funds")
    run_billing(engine, now=FEB28, gateway=gateway)
    with new_session(engine) as session, session.begin():
        token = issue_portal_link(session, session.get(Subscriber, world.subscriber_id))
    sub_id = subscription_of(world).id
    with new_session(engine) as session, session.begin():
        assert resolve_portal_token(session, token) is not None
        subs.delete_subscription(
            session, sub_id, merchant_id=world.merchant_id, actor="user:1", now=FEB28 + timedelta(hours=1)
        )
    sub = subscription_of(world)
    assert sub.deleted_at is not None and sub.status == SubscriptionStatus.CANCELED
    assert all(link.revoked_at is not None for link in rows(engine, PortalLink))
    with new_session(engine) as session, session.begin():
        assert resolve_portal_token(session, token) is None
    assert [i.status for i in invoices_of(world)] == [InvoiceStatus.PAID, InvoiceStatus.VOID]
    assert retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, FEB28) == []
    with new_session(engine) as session, session.begin(), pytest.raises(NotAllowed):
        subs.delete_subscription(session, sub.id, merchant_id=world.merchant_id, actor="user:1", now=FEB28)


def test_start_is_incomplete_until_paid(engine, gateway):
    world = make_world(engine)
    with new_session(engine) as session, session.begin():
        started = subs.start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
    assert started.subscription.status == SubscriptionStatus.INCOMPLETE
    assert started.invoice.status == InvoiceStatus.OPEN and started.invoice.number == "FIT-2026-000001"
    assert (started.subscription.current_period_start, started.subscription.current_period_end) == (JAN31, FEB28)
    update_payment_method(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        card_input=card(),
        gateway=gateway,
        now=JAN31,
    )
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE  # the card update paid the invoice


def test_other_merchants_ids_are_not_found(engine, gateway):
    mine, _ = subscribed_world(engine, gateway)
    theirs, _ = subscribed_world(engine, gateway, slug="other", prefix="OTH")
    their_sub = subscription_of(theirs)  # read before the transaction below (SQLite: one writer)
    their_invoice = invoices_of(theirs)[0]
    with new_session(engine) as session, session.begin():
        for call in (
            lambda: subs.cancel_subscription(session, their_sub.id, merchant_id=mine.merchant_id, actor="x", now=MID),
            lambda: subs.undo_cancellation(session, their_sub.id, merchant_id=mine.merchant_id, actor="x", now=MID),
            lambda: subs.delete_subscription(session, their_sub.id, merchant_id=mine.merchant_id, actor="x", now=MID),
            lambda: views.subscription_overview(session, their_sub.id, merchant_id=mine.merchant_id, now=MID),
            lambda: subs.start_subscription(
                session, merchant_id=mine.merchant_id, subscriber=theirs.subscriber_id, plan=mine.plan_id, start_at=MID
            ),
            lambda: subs.start_subscription(
                session, merchant_id=mine.merchant_id, subscriber=mine.subscriber_id, plan=theirs.plan_id, start_at=MID
            ),
            lambda: finalize_invoice(session, their_invoice.id, merchant_id=mine.merchant_id, now=MID),
            lambda: update_plan(session, theirs.plan_id, merchant_id=mine.merchant_id, name="Hacked"),
        ):
            with pytest.raises(NotFound):
                call()
    with pytest.raises(NotFound):
        retry_open_invoices(engine, theirs.subscriber_id, mine.merchant_id, gateway, MID)
    with pytest.raises(NotFound):
        update_payment_method(
            engine,
            merchant_id=mine.merchant_id,
            subscriber_id=theirs.subscriber_id,
            card_input=card(),
            gateway=gateway,
            now=MID,
        )
    result = charge_invoice(
        engine, their_invoice.id, merchant_id=mine.merchant_id, trigger="manual", gateway=gateway, now=MID
    )
    assert result.attempt_id is None and result.outcome.value == "not_payable"
    assert subscription_of(theirs).status == SubscriptionStatus.ACTIVE
    assert rows(engine, Plan, Plan.id == theirs.plan_id)[0].name == "Basic Monthly"
