"""Money that moves late or lands where it cannot apply (issue 10, 5(b) and 5(d)): a late success pays its
invoice once; a charge that cannot apply (invoice settled elsewhere, voided, another amount, a subscription
that ended while the charge was in flight) is refunded or held for review, always audited, never ignored."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest

from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, RefundResult
from portal_app.billing.payments import charging
from portal_app.billing.payments.attempts import idempotency_key
from portal_app.billing.payments.refunds import CHARGE_MISMATCH, INVOICE_SETTLED, REFUND_FAILED
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.stripe_events import EngineCallbacks
from portal_app.billing.subscriptions import cancel_subscription, delete_subscription
from portal_app.db import new_session
from portal_app.models import Merchant, Subscriber
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
PI = "pi_3QlateSuccess0001"
CUSTOMER = "cus_T1late0000001"


class RefundDesk:
    """The simulated gateway, with refunds answered here (the late charges of these tests were made at
    Stripe, which the simulated gateway never saw) and recorded for the assertions."""

    def __init__(self, inner, *, succeed: bool = True) -> None:
        self.inner, self.succeed, self.refunded = inner, succeed, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def refund(self, *, gateway_ref, amount_minor, currency, idempotency_key, reason) -> RefundResult:
        self.refunded.append((gateway_ref, amount_minor, currency, reason))
        if not self.succeed:
            return RefundResult(False, message="The refund could not be processed.")
        return RefundResult(True, gateway_ref="re_3Qlate0001")


def _key(world, attempt_id: int) -> str:
    (merchant,) = rows(world.engine, Merchant, Merchant.id == world.merchant_id)
    return idempotency_key(merchant, attempt_id, _attempt(world, attempt_id).key_nonce)


def _attempt(world, attempt_id):
    return next(a for a in attempts_of(world) if a.id == attempt_id)


def _invoice(world, invoice_id):
    return next(i for i in invoices_of(world) if i.id == invoice_id)


def _paid_at_stripe(amount_minor: int = 2900, currency: str = "USD") -> ChargeResult:
    """What the re-fetched PaymentIntent says it charged."""
    return ChargeResult(
        ChargeOutcome.SUCCEEDED, gateway_ref=PI, amount_minor=amount_minor, currency=currency, customer_ref=CUSTOMER
    )


def _failed_3ds(engine, gateway):
    """February's renewal asked for 3DS and the customer failed it: attempt failed, invoice open, retry due."""
    world, _ = subscribed_world(engine, gateway)
    gateway.require_action_next()
    run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    attempt, invoice = attempts_of(world)[-1], invoices_of(world)[-1]
    assert attempt.status == AttemptStatus.REQUIRES_ACTION and invoice.next_retry_at is not None
    callbacks = EngineCallbacks(engine, gateway=gateway, clock=lambda: FEB28 + timedelta(hours=1))
    callbacks.payment_failed(
        idempotency_key=_key(world, attempt.id),
        result=ChargeResult(ChargeOutcome.DECLINED, gateway_ref=PI, decline_code="authentication_failed"),
    )
    assert _attempt(world, attempt.id).status == AttemptStatus.FAILED
    return world, attempt, invoice


def _late_success(world, gateway, attempt, at, result=None):
    with new_session(world.engine) as session, session.begin():  # charged at Stripe, whose customer this is
        session.get(Subscriber, world.subscriber_id).gateway_customer_id = CUSTOMER
    EngineCallbacks(world.engine, gateway=gateway, clock=lambda: at).payment_succeeded(
        idempotency_key=_key(world, attempt.id), gateway_ref=PI, result=result or _paid_at_stripe()
    )


# --------------------------------------------------------------------------- 5(b) a late success


def test_a_late_success_after_a_failed_3ds_pays_the_invoice_and_the_retry_charges_nothing(engine, gateway):
    world, attempt, invoice = _failed_3ds(engine, gateway)
    requests = gateway.charge_request_count()

    _late_success(world, gateway, attempt, FEB28 + timedelta(hours=2))

    assert _attempt(world, attempt.id).status == AttemptStatus.SUCCEEDED
    paid = _invoice(world, invoice.id)
    assert paid.status == InvoiceStatus.PAID and paid.charging_attempt_id is None and paid.next_retry_at is None
    assert subscription_of(world).status == SubscriptionStatus.ACTIVE
    assert len(emails_of(world, "receipt")) == 2
    run_billing(engine, now=invoice.next_retry_at + timedelta(minutes=1), gateway=gateway)  # the old retry slot
    assert gateway.charge_request_count() == requests and len(attempts_of(world)) == 2


def test_a_late_success_for_an_invoice_paid_meanwhile_is_refunded(engine, gateway):
    world, attempt, invoice = _failed_3ds(engine, gateway)
    add_card(world, gateway, VISA, now=FEB28 + timedelta(hours=2))  # the new card pays the invoice at once
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID
    desk = RefundDesk(gateway)

    _late_success(world, desk, attempt, FEB28 + timedelta(hours=3))
    _late_success(world, desk, attempt, FEB28 + timedelta(hours=4))  # a redelivery refunds nothing more

    held = _attempt(world, attempt.id)
    assert held.status == AttemptStatus.REFUNDED and held.decline_code == INVOICE_SETTLED
    assert desk.refunded == [(PI, 2900, "USD", "duplicate")]
    assert _invoice(world, invoice.id).status == InvoiceStatus.PAID  # by the new card, untouched
    kinds = audit_kinds(world)
    assert kinds.count("payment_held_for_review") == 1 and kinds.count("payment_refunded") == 1


def test_a_late_success_for_another_amount_is_held_for_review_and_blocks_charging(engine, gateway):
    world, attempt, invoice = _failed_3ds(engine, gateway)
    requests = gateway.charge_request_count()
    desk = RefundDesk(gateway)

    _late_success(world, desk, attempt, FEB28 + timedelta(hours=2), result=_paid_at_stripe(100))

    held = _attempt(world, attempt.id)
    assert held.status == AttemptStatus.REVIEW and held.decline_code == CHARGE_MISMATCH
    assert _invoice(world, invoice.id).status == InvoiceStatus.OPEN
    assert desk.refunded == []  # another amount than we asked for: a person decides
    assert "payment_held_for_review" in audit_kinds(world)
    run_billing(engine, now=invoice.next_retry_at + timedelta(minutes=1), gateway=gateway)
    add_card(world, gateway, VISA, now=invoice.next_retry_at + timedelta(hours=1))  # retries open invoices
    assert gateway.charge_request_count() == requests  # the review keeps every automatic charge away


def test_a_late_success_for_a_voided_invoice_whose_refund_fails_stays_in_review(engine, gateway):
    world, attempt, invoice = _failed_3ds(engine, gateway)
    with new_session(engine) as session, session.begin():
        delete_subscription(
            session, subscription_of(world).id, merchant_id=world.merchant_id, actor="user:1", now=FEB28
        )
    assert _invoice(world, invoice.id).status == InvoiceStatus.VOID
    desk = RefundDesk(gateway, succeed=False)

    _late_success(world, desk, attempt, FEB28 + timedelta(hours=2))

    held = _attempt(world, attempt.id)
    assert held.status == AttemptStatus.REVIEW and held.decline_code == REFUND_FAILED
    assert len(desk.refunded) == 1
    assert "payment_refund_failed" in audit_kinds(world)
    run_billing(engine, now=FEB28 + timedelta(days=1), gateway=desk)  # a failed refund is not retried blindly
    assert len(desk.refunded) == 1


# --------------------------------------------------------------------------- 5(d) ended while in flight


@dataclasses.dataclass
class BlockingGateway:
    """The simulated gateway whose charge() waits, inside the call, until the test lets it answer."""

    inner: object
    entered: threading.Event = dataclasses.field(default_factory=threading.Event)
    release: threading.Event = dataclasses.field(default_factory=threading.Event)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def charge(self, **kwargs) -> ChargeResult:
        self.entered.set()
        assert self.release.wait(timeout=60), "the test never released the charge"
        return self.inner.charge(**kwargs)


def _end_during_the_renewal_charge(engine, gateway, how: str):
    world, _ = subscribed_world(engine, gateway)
    blocking = BlockingGateway(gateway)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_billing(engine, now=FEB28 + timedelta(minutes=1), gateway=blocking)
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert blocking.entered.wait(timeout=60), "the renewal never reached the gateway"
        with new_session(engine) as session, session.begin():  # another session, committed mid-charge
            sub_id = subscription_of(world).id
            if how == "cancel":
                cancel_subscription(
                    session,
                    sub_id,
                    merchant_id=world.merchant_id,
                    actor="user:1",
                    now=FEB28 + timedelta(minutes=2),
                    mode="immediately",
                )
            else:
                delete_subscription(
                    session, sub_id, merchant_id=world.merchant_id, actor="user:1", now=FEB28 + timedelta(minutes=2)
                )
    finally:
        blocking.release.set()
        worker.join(timeout=120)
    assert not errors, errors
    return world


@pytest.mark.concurrency
@pytest.mark.parametrize("how", ["cancel", "delete"])
def test_a_cancel_or_delete_while_the_renewal_charge_is_in_flight_refunds_it(any_engine, gateway, how):
    world = _end_during_the_renewal_charge(any_engine, gateway, how)

    (charged,) = gateway.charges_for(_customer(world))[1:]  # February's renewal (January's came first)
    assert gateway.refunds() == [(charged.gateway_ref, 2900, "USD")]
    february = invoices_of(world)[-1]
    assert february.status == InvoiceStatus.VOID and february.charging_attempt_id is None
    assert february.paid_at is None
    attempt = attempts_of(world)[-1]
    assert attempt.status == AttemptStatus.REFUNDED and attempt.gateway_ref == charged.gateway_ref
    assert subscription_of(world).status == SubscriptionStatus.CANCELED
    assert len(emails_of(world, "receipt")) == 1  # January's only
    kinds = audit_kinds(world)
    assert kinds.count("payment_held_for_review") == 1 and kinds.count("payment_refunded") == 1


@pytest.mark.concurrency
def test_a_failed_refund_after_a_cancel_in_flight_stays_in_review_and_nothing_charges_again(engine, gateway):
    gateway.fail_next_refund()
    world = _end_during_the_renewal_charge(engine, gateway, "cancel")

    attempt, february = attempts_of(world)[-1], invoices_of(world)[-1]
    assert attempt.status == AttemptStatus.REVIEW and attempt.decline_code == REFUND_FAILED
    assert february.status == InvoiceStatus.OPEN and february.charging_attempt_id is None  # a person may settle it
    assert "payment_refund_failed" in audit_kinds(world)
    requests = gateway.charge_request_count()
    run_billing(engine, now=FEB28 + timedelta(days=3), gateway=gateway)
    assert gateway.charge_request_count() == requests and gateway.refunds() == []


@pytest.mark.concurrency
def test_a_refund_lost_to_a_crash_is_made_by_the_next_run(engine, gateway, monkeypatch):
    monkeypatch.setattr(charging, "refund_held_charges", lambda *a, **kw: 0)  # died right after the commit
    world = _end_during_the_renewal_charge(engine, gateway, "cancel")
    assert attempts_of(world)[-1].status == AttemptStatus.REVIEW and gateway.refunds() == []
    monkeypatch.undo()

    run_billing(engine, now=FEB28 + timedelta(hours=1), gateway=gateway)

    assert attempts_of(world)[-1].status == AttemptStatus.REFUNDED and len(gateway.refunds()) == 1
    assert invoices_of(world)[-1].status == InvoiceStatus.VOID


def _customer(world) -> str:
    (subscriber,) = rows(world.engine, Subscriber, Subscriber.id == world.subscriber_id)
    return subscriber.gateway_customer_id
