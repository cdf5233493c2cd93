"""Charging: exactly one charge under races and faults, unknown outcomes, card updates, 3DS."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from portal_app import i18n
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.payments import charging, settlement
from portal_app.billing.payments.attempts import PaymentOutcome
from portal_app.billing.payments.card_updates import (
    CardUpdateOutcome,
    confirm_payment_method_setup,
    retry_open_invoices,
)
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.payments.settlement import settle_unknown_attempts
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.models import PaymentMethod, Subscriber
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


def _past_due_world(engine, gateway, code="insufficient_funds"):
    """Paid first month, then the Feb 28 renewal is declined: one open invoice, retry tomorrow."""
    world, _ = subscribed_world(engine, gateway)
    gateway.fail_next(code)
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    open_invoice = invoices_of(world)[-1]
    assert open_invoice.status == InvoiceStatus.OPEN
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    return world, open_invoice


def _customer(world):
    (subscriber,) = rows(world.engine, Subscriber, Subscriber.id == world.subscriber_id)
    return subscriber.gateway_customer_id


def test_first_invoice_is_charged_and_activates(engine, gateway):
    world, result = subscribed_world(engine, gateway)
    assert result.charge.outcome is PaymentOutcome.SUCCEEDED
    assert result.charge.amount.amount_minor == 2900 and result.charge.invoice_number == "FIT-2026-000001"
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    (invoice,) = invoices_of(world)
    assert invoice.status == InvoiceStatus.PAID and invoice.charging_attempt_id is None
    (attempt,) = attempts_of(world)
    assert attempt.status == AttemptStatus.SUCCEEDED and attempt.gateway_ref.startswith("ch_")
    assert len(gateway.charges_for(_customer(world))) == 1
    assert len(emails_of(world, "receipt")) == 1


@pytest.mark.concurrency
def test_fifty_racers_on_one_open_invoice_charge_once(any_engine, gateway):
    world, invoice = _past_due_world(any_engine, gateway)
    retry_at = invoice.next_retry_at
    before = gateway.succeeded_charge_count()
    barrier = threading.Barrier(50)
    errors: list[BaseException] = []

    def racer(i: int) -> None:
        try:
            barrier.wait()
            if i % 3 == 0:
                retry_open_invoices(any_engine, world.subscriber_id, world.merchant_id, gateway, retry_at)
            elif i % 3 == 1:
                run_billing(any_engine, now=retry_at, gateway=gateway)
            else:
                charge_invoice(
                    any_engine,
                    invoice.id,
                    merchant_id=world.merchant_id,
                    trigger="manual",
                    gateway=gateway,
                    now=retry_at,
                )
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert gateway.succeeded_charge_count() - before == 1
    paid = [i for i in invoices_of(world) if i.id == invoice.id][0]
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None
    tries = [a for a in attempts_of(world) if a.invoice_id == invoice.id]
    assert [a.status for a in tries].count(AttemptStatus.SUCCEEDED) == 1
    assert not [a for a in tries if a.status in (AttemptStatus.PENDING, AttemptStatus.UNKNOWN)]
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_crash_between_gateway_and_commit_never_charges_twice(engine, gateway, monkeypatch):
    world, invoice = _past_due_world(engine, gateway)
    at = invoice.next_retry_at
    before = gateway.succeeded_charge_count()

    def crash(*args, **kwargs):
        raise RuntimeError("worker died after the gateway answered")

    monkeypatch.setattr(charging, "record_outcomes", crash)
    (first,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    assert first.outcome is PaymentOutcome.UNKNOWN
    assert gateway.succeeded_charge_count() - before == 1  # the money moved
    monkeypatch.undo()

    # The claim is still held: nobody may charge again until the outcome is settled.
    (again,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    assert again.outcome is PaymentOutcome.IN_PROGRESS
    again = charge_invoice(engine, invoice.id, merchant_id=world.merchant_id, trigger="manual", gateway=gateway, now=at)
    assert again.outcome is PaymentOutcome.IN_PROGRESS
    summary = run_billing(engine, now=at + timedelta(minutes=1), gateway=gateway)
    assert summary.settled == 1 and summary.charges_attempted == 0
    assert gateway.succeeded_charge_count() - before == 1
    settled = [i for i in invoices_of(world) if i.id == invoice.id][0]
    assert settled.status == InvoiceStatus.PAID and settled.charging_attempt_id is None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at) == []
    assert gateway.succeeded_charge_count() - before == 1


def test_crash_that_cannot_even_mark_unknown_is_settled_after_the_grace(engine, gateway, monkeypatch):
    """The worker dies for good after the gateway call: the attempt stays pending, claim held."""
    world, invoice = _past_due_world(engine, gateway)
    at = invoice.next_retry_at
    before = gateway.succeeded_charge_count()

    def crash(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(charging, "record_outcomes", crash)
    monkeypatch.setattr(charging, "mark_unknown", lambda *args, **kwargs: None)  # best effort, failed too
    retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    monkeypatch.undo()
    (attempt,) = [a for a in attempts_of(world) if a.invoice_id == invoice.id and a.trigger == "card_update"]
    assert attempt.status == AttemptStatus.PENDING

    # Within the grace period it may still be in flight somewhere: left alone, and nobody charges.
    assert settle_unknown_attempts(engine, gateway=gateway, now=at + timedelta(minutes=1)).checked == 0
    (blocked,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    assert blocked.outcome is PaymentOutcome.IN_PROGRESS
    late = settle_unknown_attempts(engine, gateway=gateway, now=at + settlement.PENDING_GRACE + timedelta(minutes=1))
    assert late.succeeded == 1
    assert gateway.succeeded_charge_count() - before == 1
    assert [i for i in invoices_of(world) if i.id == invoice.id][0].status == InvoiceStatus.PAID


@pytest.mark.parametrize("reached", [True, False])
def test_timeout_leaves_unknown_then_settles_by_replaying_the_same_key(engine, gateway, reached):
    world, invoice = _past_due_world(engine, gateway)
    at = invoice.next_retry_at
    before = gateway.succeeded_charge_count()
    gateway.timeout_next(reached_gateway=reached)
    (result,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at)
    assert result.outcome is PaymentOutcome.UNKNOWN
    unknown = [a for a in attempts_of(world) if a.id == result.attempt_id][0]
    assert unknown.status == AttemptStatus.UNKNOWN
    held = [i for i in invoices_of(world) if i.id == invoice.id][0]
    assert held.charging_attempt_id == unknown.id  # the claim stays until settled

    summary = settle_unknown_attempts(engine, gateway=gateway, now=at + timedelta(minutes=5))
    settled = [a for a in attempts_of(world) if a.id == unknown.id][0]
    inv = [i for i in invoices_of(world) if i.id == invoice.id][0]
    # Reached: the replay answers the first result. Never reached: the replay under the same key is the
    # first request the gateway sees, so it charges now. One charge either way, on the same attempt.
    assert summary.succeeded == 1
    assert settled.status == AttemptStatus.SUCCEEDED
    assert inv.status == InvoiceStatus.PAID and inv.charging_attempt_id is None
    assert retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, at) == []
    assert gateway.succeeded_charge_count() - before == 1
    assert [c.idempotency_key for c in gateway.charges_for(_customer(world))][-1].endswith(f"-attempt-{unknown.id}")


def test_gateway_exception_is_unknown_not_a_second_charge(engine, gateway, monkeypatch):
    world, invoice = _past_due_world(engine, gateway)
    real_charge = type(gateway).charge

    def charge_then_explode(self, **kwargs):
        real_charge(self, **kwargs)
        raise TimeoutError("read timed out")

    monkeypatch.setattr(type(gateway), "charge", charge_then_explode)
    (result,) = retry_open_invoices(engine, world.subscriber_id, world.merchant_id, gateway, invoice.next_retry_at)
    monkeypatch.undo()
    assert result.outcome is PaymentOutcome.UNKNOWN
    before = gateway.succeeded_charge_count()
    run_billing(engine, now=invoice.next_retry_at + timedelta(days=10), gateway=gateway)
    assert gateway.succeeded_charge_count() == before
    assert [i for i in invoices_of(world) if i.id == invoice.id][0].status == InvoiceStatus.PAID


def test_card_update_on_past_due_pays_restores_active_and_sends_receipt(engine, gateway):
    world, invoice = _past_due_world(engine, gateway)
    receipts = len(emails_of(world, "receipt"))
    result = add_card(world, gateway, VISA, now=FEB28 + timedelta(hours=3))
    assert result.outcome is CardUpdateOutcome.UPDATED
    assert result.card.last4 == "4242" and result.all_paid
    (charge,) = result.charges
    assert charge.outcome is PaymentOutcome.SUCCEEDED and charge.invoice_number == invoice.number
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert len(emails_of(world, "receipt")) == receipts + 1
    cards = rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)
    assert [c.is_default for c in sorted(cards, key=lambda c: c.id)] == [False, True]
    assert "payment_method_updated" in audit_kinds(world)
    assert "subscription_reactivated" in audit_kinds(world)


def test_card_update_retries_every_open_invoice_at_once(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    add_card(world, gateway, "4000000000000341", now=JAN31)  # saves, then every charge is declined
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    run_billing(engine, now=JAN31.replace(month=3) + timedelta(minutes=1), gateway=gateway)
    open_ones = [i for i in invoices_of(world) if i.status == InvoiceStatus.OPEN]
    assert len(open_ones) == 2
    result = add_card(world, gateway, VISA, now=JAN31.replace(month=3) + timedelta(hours=1))
    assert [c.invoice_number for c in result.charges] == [i.number for i in open_ones]
    assert result.all_paid
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_declined_new_card_is_not_saved(engine, gateway):
    world, _ = _past_due_world(engine, gateway)
    result = add_card(world, gateway, "4000000000009995", now=FEB28 + timedelta(hours=1))
    assert result.outcome is CardUpdateOutcome.DECLINED
    assert result.decline_code == "insufficient_funds"
    assert "insuficientes" in portal_facade.card_update_text(result, "es")  # worded at the edge, in their language
    assert len(rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)) == 1


def test_card_that_saves_but_declines_reports_the_decline(engine, gateway):
    world, invoice = _past_due_world(engine, gateway)
    result = add_card(world, gateway, "4000000000000341", now=FEB28 + timedelta(hours=1))
    assert result.outcome is CardUpdateOutcome.UPDATED
    (charge,) = result.charges
    assert charge.outcome is PaymentOutcome.DECLINED
    assert "check with your bank" in portal_facade.charge_text(charge, "en")
    after = [i for i in invoices_of(world) if i.id == invoice.id][0]
    # An on-session try does not move the dunning schedule.
    assert after.attempt_count == invoice.attempt_count and after.next_retry_at == invoice.next_retry_at
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE


def test_3ds_card_setup_then_confirm_pays_open_invoices(engine, gateway):
    world, invoice = _past_due_world(engine, gateway)
    pending = add_card(world, gateway, "4000002500003155", now=FEB28 + timedelta(hours=1))
    assert pending.outcome is CardUpdateOutcome.REQUIRES_ACTION and pending.setup_ref
    assert len(rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)) == 1
    done = confirm_payment_method_setup(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        setup_ref=pending.setup_ref,
        approved=True,
        gateway=gateway,
        now=FEB28 + timedelta(hours=1),
    )
    assert done.outcome is CardUpdateOutcome.UPDATED and done.card.last4 == "3155"
    assert done.all_paid and subscription_of(world).status == SubscriptionStatus.ACTIVE


def test_3ds_refused_keeps_old_card(engine, gateway):
    world, _ = _past_due_world(engine, gateway)
    pending = add_card(world, gateway, "4000002500003155", now=FEB28 + timedelta(hours=1))
    refused = confirm_payment_method_setup(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        setup_ref=pending.setup_ref,
        approved=False,
        gateway=gateway,
        now=FEB28 + timedelta(hours=1),
    )
    assert refused.outcome is CardUpdateOutcome.DECLINED
    assert len(rows(engine, PaymentMethod, PaymentMethod.subscriber_id == world.subscriber_id)) == 1


def test_charge_needing_authentication_is_requires_action_and_dunned(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    gateway.require_action_next()
    summary = run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    assert summary.charges_requires_action == 1
    invoice = invoices_of(world)[-1]
    attempt = attempts_of(world)[-1]
    assert attempt.status == AttemptStatus.REQUIRES_ACTION and attempt.decline_code == "authentication_required"
    assert invoice.charging_attempt_id is None and invoice.next_retry_at == FEB28 + timedelta(minutes=1, days=1)
    assert subscription_of(world).status == SubscriptionStatus.PAST_DUE
    (email,) = emails_of(world, "payment_failed")
    # Paying later supersedes the attempt waiting for authentication.
    add_card(world, gateway, VISA, now=FEB28 + timedelta(hours=2))
    assert [a for a in attempts_of(world) if a.id == attempt.id][0].status == AttemptStatus.FAILED


def test_no_card_on_file_is_a_soft_decline(engine, gateway):
    from portal_app.billing.subscriptions import start_subscription
    from portal_app.db import new_session
    from tests.builders import make_world

    world = make_world(engine)
    with new_session(engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
    result = charge_invoice(
        engine, started.invoice.id, merchant_id=world.merchant_id, trigger="renewal", gateway=gateway, now=JAN31
    )
    assert result.outcome is PaymentOutcome.DECLINED and result.decline_code == "no_payment_method"
    assert result.next_retry_at == JAN31 + timedelta(days=1)
    assert subscription_of(world).status == SubscriptionStatus.INCOMPLETE  # never paid: not "past due"
    assert gateway.charge_request_count() == 0


def test_decline_messages_are_human():
    for code in ("insufficient_funds", "generic_decline"):
        assert "check with your bank" in i18n.decline_message(code, "en")
    for code in ("expired_card", "incorrect_cvc", "lost_card", "stolen_card"):
        assert "use another card" in i18n.decline_message(code, "en")
    assert "bank asks you to confirm" in i18n.decline_message("authentication_required", "en")
    assert i18n.decline_message("something_new", "en") == i18n.decline_message("generic_decline", "en")


def test_idempotency_keys_do_not_collide_across_databases(tmp_path, gateway):
    """Attempt ids restart per database; the gateway store lives on in the process."""
    from sqlmodel import SQLModel

    from portal_app import db

    outcomes = []
    for name in ("one", "two"):
        eng = db.make_engine(f"sqlite:///{tmp_path / name}.db")
        SQLModel.metadata.create_all(eng)
        world, result = subscribed_world(eng, gateway, amount_minor=2900 if name == "one" else 3900)
        outcomes.append(result.charge.outcome)
        eng.dispose()
    assert outcomes == [PaymentOutcome.SUCCEEDED, PaymentOutcome.SUCCEEDED]
    assert gateway.succeeded_charge_count() == 2


def test_card_update_recovers_from_a_customer_the_gateway_lost(engine, gateway):
    """A gateway customer can vanish (deleted in the dashboard, a test-mode reset): make a new one."""
    import sqlalchemy as sa

    from portal_app.db import new_session

    world, invoice = _past_due_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        session.execute(
            sa.update(Subscriber)
            .where(Subscriber.id == world.subscriber_id)
            .values(gateway_customer_id="cus_sim_forgotten")
        )
    result = add_card(world, gateway, VISA, now=FEB28 + timedelta(hours=1))
    assert result.outcome is CardUpdateOutcome.UPDATED and result.all_paid
    assert _customer(world) not in ("", "cus_sim_forgotten")
