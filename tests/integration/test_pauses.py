"""Pausing on SQLite and PostgreSQL: no invoice while paused; the run resumes on the chosen day with
one invoice, charged, on a new anchor; early resume; undoing a scheduled pause; dunning skips a
paused subscription; the refused cases."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from portal_app.billing import pauses
from portal_app.billing.dunning import record_payment_failure
from portal_app.billing.errors import NotAllowed
from portal_app.billing.invoices import create_draft_invoice, finalize_invoice
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import cancel_subscription
from portal_app.db import new_session
from portal_app.models import Invoice, OutgoingEvent, PaymentAttempt, Plan, Subscription
from tests.builders import (
    CHARGE_DECLINES,
    JAN31,
    add_card,
    attempts_of,
    audit_kinds,
    emails_of,
    invoices_of,
    rows,
    subscribed_world,
    subscription_of,
)

pytestmark = pytest.mark.integration

S, I = SubscriptionStatus, InvoiceStatus
FEB10 = JAN31.replace(month=2, day=10)
FEB28 = JAN31.replace(month=2, day=28)  # the first period's end (09:30 UTC)
MAR15 = JAN31.replace(month=3, day=15)


def _world(engine, gateway, *, pause_max_days=60, **kw):
    world, _ = subscribed_world(engine, gateway, start_at=JAN31, **kw)
    with new_session(engine) as session, session.begin():
        session.execute(sa.update(Plan).where(Plan.id == world.plan_id).values(pause_max_days=pause_max_days))
    return world


def _pause(world, resume_on: date, now=FEB10):
    with new_session(world.engine) as session, session.begin():
        return pauses.pause(
            session,
            subscription_of(world).id,
            merchant_id=world.merchant_id,
            resume_on=resume_on,
            now=now,
            actor="subscriber",
        )


def _events(world) -> list[str]:
    found = rows(world.engine, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id)
    return [e.type for e in sorted(found, key=lambda e: e.id)]


def test_no_invoice_while_paused_and_the_run_resumes_on_the_day_with_one_charged_invoice(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    sub = subscription_of(world)
    assert (sub.status, sub.pause_starts_at, sub.resume_at) == (S.ACTIVE, FEB28, MAR15)
    assert [e.kind for e in emails_of(world, "subscription_paused")] == ["subscription_paused"]
    invoices_before = len(invoices_of(world))

    # The paid period runs out: paused, nothing billed; later runs while paused bill nothing either.
    summary = run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert (summary.renewed, summary.invoices_created) == (0, 0)
    assert subscription_of(world).status == S.PAUSED
    assert "subscription.paused" in _events(world)
    # The merchant's product learns when billing resumes (the webhook's subscription object).
    (paused,) = [
        e
        for e in rows(any_engine, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id)
        if e.type == "subscription.paused"
    ]
    obj = json.loads(paused.payload)["data"]["object"]
    assert (obj["status"], obj["resume_at"]) == ("paused", MAR15.isoformat().replace("+00:00", "Z"))
    for day in (1, 5, 15):
        run_billing(any_engine, now=JAN31.replace(month=3, day=day, hour=9, minute=29), gateway=gateway)
    assert len(invoices_of(world)) == invoices_before
    assert subscription_of(world).status == S.PAUSED

    attempts_before = len(attempts_of(world))
    summary = run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway)
    assert summary.charges_succeeded == 1
    sub = subscription_of(world)
    assert (sub.status, sub.anchor_at, sub.period_index) == (S.ACTIVE, MAR15, 0)
    assert (sub.current_period_start, sub.current_period_end) == (MAR15, MAR15.replace(month=4))
    assert (sub.pause_starts_at, sub.resume_at) == (None, None)
    invoices = invoices_of(world)
    assert len(invoices) == invoices_before + 1
    first = invoices[-1]
    assert (first.status, first.period_start, first.period_end) == (I.PAID, MAR15, MAR15.replace(month=4))
    assert len(attempts_of(world)) == attempts_before + 1
    assert "subscription.resumed" in _events(world)
    assert {"pause_scheduled", "subscription_paused", "subscription_resumed"} <= set(audit_kinds(world))
    assert emails_of(world, "subscription_resumed")

    # Repeating the run charges nothing more; the next renewal follows the new anchor.
    assert run_billing(any_engine, now=MAR15 + timedelta(minutes=6), gateway=gateway).charges_attempted == 0
    run_billing(any_engine, now=MAR15.replace(month=4) + timedelta(minutes=5), gateway=gateway)
    last = invoices_of(world)[-1]
    assert (last.period_start, last.period_end) == (MAR15.replace(month=4), MAR15.replace(month=5))


def test_early_resume_charges_at_once_and_anchors_there(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    early = JAN31.replace(month=3, day=4, hour=14, minute=0)
    result, charge = pauses.resume_and_charge(
        any_engine,
        merchant_id=world.merchant_id,
        subscription_id=subscription_of(world).id,
        now=early,
        actor="subscriber",
        gateway=gateway,
    )
    assert result.resumed and charge is not None and charge.paid
    sub = subscription_of(world)
    assert (sub.status, sub.anchor_at, sub.current_period_end) == (S.ACTIVE, early, early.replace(month=4))
    # A second click, and the run on the old resume day, do nothing more.
    again, charge = pauses.resume_and_charge(
        any_engine,
        merchant_id=world.merchant_id,
        subscription_id=sub.id,
        now=early + timedelta(seconds=1),
        actor="subscriber",
        gateway=gateway,
    )
    assert (again.resumed, again.invoice_id, charge) == (False, None, None)
    count = len(invoices_of(world))
    assert run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway).charges_attempted == 0
    assert len(invoices_of(world)) == count


def test_undoing_a_scheduled_pause_clears_it_and_the_period_renews(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    with new_session(any_engine) as session, session.begin():
        result = pauses.resume(
            session, subscription_of(world).id, merchant_id=world.merchant_id, now=FEB10, actor="subscriber"
        )
    assert (result.resumed, result.invoice_id) == (False, None)
    sub = subscription_of(world)
    assert (sub.pause_starts_at, sub.resume_at, sub.status) == (None, None, S.ACTIVE)
    summary = run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert summary.renewed == 1 and subscription_of(world).status == S.ACTIVE


def test_a_declined_resume_charge_goes_past_due_and_dunning_runs(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    add_card(world, gateway, CHARGE_DECLINES, now=FEB28 + timedelta(hours=1))
    summary = run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway)
    assert summary.charges_declined == 1
    assert subscription_of(world).status == S.PAST_DUE
    assert invoices_of(world)[-1].next_retry_at is not None


def test_dunning_skips_a_paused_subscription(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    # An open invoice of a paused subscription that fails automatically is not retried.
    with new_session(any_engine) as session, session.begin():
        draft = create_draft_invoice(session, subscription_of(world).id, merchant_id=world.merchant_id, now=MAR15)
        finalize_invoice(session, draft.id, merchant_id=world.merchant_id, now=MAR15)
        invoice = session.get(Invoice, draft.id)
        attempt = PaymentAttempt(
            merchant_id=world.merchant_id,
            invoice_id=invoice.id,
            amount_minor=invoice.total_minor,
            currency=invoice.currency,
            status="failed",
            trigger="retry",
            gateway="simulated",
            decline_code="insufficient_funds",
        )
        session.add(attempt)
        session.flush()
        step = record_payment_failure(session, invoice=invoice, attempt=attempt, now=MAR15 - timedelta(days=5))
    assert step.next_retry_at is None and not step.final
    assert subscription_of(world).status == S.PAUSED
    assert not emails_of(world, "payment_failed")


@pytest.mark.parametrize(
    "case",
    ["plan_forbids", "too_early", "too_late", "ending", "already_scheduled", "not_active"],
)
def test_refused_pauses(any_engine, gateway, case):
    world = _world(any_engine, gateway, pause_max_days=0 if case == "plan_forbids" else 30)
    resume_on = MAR15.date()
    if case == "too_early":
        resume_on = FEB28.date()
    elif case == "too_late":
        resume_on = (FEB28 + timedelta(days=31)).date()
    elif case in ("ending", "not_active"):
        with new_session(any_engine) as session, session.begin():
            values = {"cancel_at_period_end": True} if case == "ending" else {"status": S.PAST_DUE.value}
            session.execute(
                sa.update(Subscription).where(Subscription.id == subscription_of(world).id).values(**values)
            )
    elif case == "already_scheduled":
        _pause(world, MAR15.date())
    with pytest.raises((NotAllowed, pauses.PauseError)):
        _pause(world, resume_on)
    if case != "already_scheduled":
        assert subscription_of(world).resume_at is None


def test_the_edges_of_the_window_are_allowed(any_engine, gateway):
    world = _world(any_engine, gateway, pause_max_days=30)
    window = pauses.resume_window(subscription_of(world), rows(any_engine, Plan, Plan.id == world.plan_id)[0])
    assert window == ((FEB28 + timedelta(days=1)).date(), (FEB28 + timedelta(days=30)).date())
    _pause(world, window[1])
    assert subscription_of(world).resume_at == FEB28 + timedelta(days=30)


def test_canceling_a_paused_subscription_ends_it_at_once_without_an_invoice(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    canceled_at = MAR15 - timedelta(days=3)
    with new_session(any_engine) as session, session.begin():
        result = cancel_subscription(
            session, subscription_of(world).id, merchant_id=world.merchant_id, actor="subscriber", now=canceled_at
        )
    assert result.immediate
    count = len(invoices_of(world))
    run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway)
    sub = subscription_of(world)
    assert (sub.status, sub.ended_at) == (S.CANCELED, canceled_at)
    assert len(invoices_of(world)) == count


def test_a_scheduled_pause_yields_to_a_cancellation_at_period_end(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    with new_session(any_engine) as session, session.begin():
        cancel_subscription(
            session, subscription_of(world).id, merchant_id=world.merchant_id, actor="subscriber", now=FEB10
        )
    assert not pauses.pause_scheduled(subscription_of(world))
    count = len(invoices_of(world))
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway)
    sub = subscription_of(world)
    assert (sub.status, sub.ended_at) == (S.CANCELED, FEB28)
    assert len(invoices_of(world)) == count


def test_a_paused_subscription_set_to_end_ends_on_its_resume_day_without_an_invoice(any_engine, gateway):
    world = _world(any_engine, gateway)
    _pause(world, MAR15.date())
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    with new_session(any_engine) as session, session.begin():  # stands in for any older period-end flag
        session.execute(
            sa.update(Subscription)
            .where(Subscription.id == subscription_of(world).id)
            .values(cancel_at_period_end=True)
        )
    count = len(invoices_of(world))
    run_billing(any_engine, now=MAR15 + timedelta(minutes=5), gateway=gateway)
    sub = subscription_of(world)
    assert (sub.status, sub.ended_at) == (S.CANCELED, MAR15)
    assert len(invoices_of(world)) == count and "subscription_ended" in audit_kinds(world)
