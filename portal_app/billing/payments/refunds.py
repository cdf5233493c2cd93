"""Money that moved but cannot pay its invoice: hold it for review, refund it, audit it. Never ignored.

A success cannot apply when the subscription ended or was deleted while its charge was in flight
(nothing is owed for that period: refund, then void the invoice), or when the invoice was settled by
another charge or voided meanwhile (refund), or when the gateway's facts (amount, currency, customer)
differ from the attempt's (a person decides). Such an attempt goes to `review` first, in the same
transaction that would have paid the invoice; like every review attempt it keeps automatic charges
away from its invoice (charging.awaiting_review) and releases its claim, so a merchant can still
settle the invoice by hand. The refund is a gateway call, made after that commit with a key derived
from the charge (a retry never refunds twice): done -> `refunded` (an unserved invoice is voided);
failed -> the attempt stays in review (decline_code REFUND_FAILED) for a person.
A crash between the two leaves a review attempt that the next billing run refunds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.gateways.base import ChargeResult, PaymentGateway, RefundResult
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.payments.attempts import ChargeClaim, ChargeInvoiceResult, PaymentOutcome
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus, check_transition, transition
from portal_app.db import is_postgres, new_session
from portal_app.models import Invoice, PaymentAttempt, Subscription

log = logging.getLogger(__name__)

A, I, S = AttemptStatus, InvoiceStatus, SubscriptionStatus

# Why a review attempt is in review (its decline_code).
ENDED_IN_FLIGHT = "subscription_ended"  # ended or deleted while the charge was in flight: refund
INVOICE_SETTLED = "invoice_settled"  # paid by another charge, or voided: refund
CHARGE_MISMATCH = "charge_mismatch"  # the gateway charged another amount, currency or customer: a person decides
REFUND_FAILED = "refund_failed"  # the refund was refused: a person decides
REFUNDABLE = frozenset({ENDED_IN_FLIGHT, INVOICE_SETTLED})
_STRIPE_REASON = {ENDED_IN_FLIGHT: "requested_by_customer", INVOICE_SETTLED: "duplicate"}

Success = tuple[ChargeClaim, ChargeResult, str]  # (claim, the gateway's success, the attempt's status now)


def charge_mismatch(claim: ChargeClaim, answer: ChargeResult, customer_ref: str) -> bool:
    """The gateway's facts, when its answer carries them, differ from what the attempt asked for."""
    if not answer.amount_minor:
        return False  # an answer that does not say (the charge call itself): the request was ours
    return (
        answer.amount_minor != claim.amount.amount_minor
        or answer.currency.upper() != claim.amount.currency
        or bool(answer.customer_ref and customer_ref and answer.customer_ref != customer_ref)
    )


def _chunks(values: Sequence, size: int = 1000):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def split_unapplicable(session: Session, paid: list[Success]) -> tuple[list[Success], list[tuple[Success, str]]]:
    """Successes that pay their invoice, and those that cannot (with why), under lock.

    The subscriptions are locked before the invoices (the order cancel and delete take), so a cancel
    commits either before this check or after the invoice is paid, never in between.
    """
    if not paid:
        return [], []
    invoice_ids = sorted({claim.invoice_id for claim, _, _ in paid})
    invoices, subscriptions, created = {}, {}, {}
    for ids in _chunks(invoice_ids):
        sub_ids = list(session.execute(sa.select(Invoice.subscription_id).where(Invoice.id.in_(ids))).scalars())
        subs = sa.select(Subscription.id, Subscription.status, Subscription.ended_at, Subscription.deleted_at).where(
            Subscription.id.in_([s for s in sub_ids if s is not None])
        )
        invs = sa.select(Invoice.id, Invoice.status, Invoice.charging_attempt_id, Invoice.subscription_id).where(
            Invoice.id.in_(ids)
        )
        if is_postgres(session):
            subs, invs = subs.with_for_update(), invs.with_for_update()
        subscriptions.update({row.id: row for row in session.execute(subs)})
        invoices.update({row.id: row for row in session.execute(invs)})
    for ids in _chunks([claim.attempt_id for claim, _, _ in paid]):
        created.update(
            session.execute(
                sa.select(PaymentAttempt.id, PaymentAttempt.created_at).where(PaymentAttempt.id.in_(ids))
            ).all()
        )
    applies, held = [], []
    for item in paid:
        claim = item[0]
        invoice = invoices[claim.invoice_id]
        sub = subscriptions.get(invoice.subscription_id)
        started = created[claim.attempt_id]
        ended_at = None
        if sub is not None:
            ended_at = sub.deleted_at or (sub.ended_at if sub.status == S.CANCELED else None)
        if ended_at is not None and ended_at >= started:
            held.append((item, ENDED_IN_FLIGHT))
        elif invoice.status != I.OPEN or invoice.charging_attempt_id != claim.attempt_id:
            held.append((item, INVOICE_SETTLED))
        else:
            applies.append(item)
    return applies, held


def hold_for_review(
    session: Session, held: list[tuple[Success, str]], *, now: datetime, actor: str = "system"
) -> dict[int, ChargeInvoiceResult]:
    """Attempts whose money cannot apply go to review (why in decline_code), audited; their invoice is
    then never charged automatically (charging.awaiting_review) until a refund or a person settles it."""
    results = {}
    for (claim, answer, status), reason in held:
        check_transition(AttemptStatus, status, A.REVIEW)
        att = PaymentAttempt.__table__
        moved = session.execute(
            sa.update(att)
            .where(att.c.id == claim.attempt_id, att.c.status == status)
            .values(
                status=A.REVIEW.value,
                gateway_ref=(answer.gateway_ref or "")[:64],
                decline_code=reason,
                failure_message="money received that cannot pay this invoice; refund or review",
                settled_at=now,
            )
        ).rowcount
        results[claim.attempt_id] = ChargeInvoiceResult(
            PaymentOutcome.NOT_PAYABLE, claim.invoice_id, claim.number, claim.amount, attempt_id=claim.attempt_id
        )
        if not moved:
            continue  # settled meanwhile by someone else
        inv = Invoice.__table__  # released like every review; awaiting_review keeps automatic charges away
        session.execute(
            sa.update(inv)
            .where(inv.c.id == claim.invoice_id, inv.c.charging_attempt_id == claim.attempt_id)
            .values(charging_attempt_id=None)
        )
        log.warning("attempt %s (%s): %s; held for refund or review", claim.attempt_id, answer.gateway_ref, reason)
        audit(
            session,
            merchant_id=claim.merchant_id,
            subscriber_id=claim.subscriber_id,
            actor=actor,
            kind="payment_held_for_review",
            detail={
                "attempt_id": claim.attempt_id,
                "invoice": claim.number,
                "reason": reason,
                "gateway_ref": answer.gateway_ref,
                "amount_minor": answer.amount_minor or claim.amount.amount_minor,
                "currency": answer.currency or claim.amount.currency,
            },
            now=now,
        )
    return results


def refund_held_charges(
    engine: sa.Engine, *, gateway: PaymentGateway, now: datetime, attempt_ids: Sequence[int] | None = None
) -> int:
    """Refund review attempts whose money must go back (all of them when attempt_ids is None: the
    billing run's sweep after a crash). Returns how many were refunded. Never raises for the gateway."""
    if attempt_ids is not None and not attempt_ids:
        return 0
    with new_session(engine) as session:
        stmt = select(PaymentAttempt).where(
            PaymentAttempt.status == A.REVIEW, PaymentAttempt.decline_code.in_(sorted(REFUNDABLE))
        )
        if attempt_ids is not None:
            stmt = stmt.where(PaymentAttempt.id.in_(list(attempt_ids)))
        # One full refund per charge: the key is the charge's own reference (unique at the gateway).
        due = [(attempt, f"refund-{attempt.gateway_ref}") for attempt in session.exec(stmt)]
    refunded = 0
    for attempt, key in due:
        try:
            result = gateway.refund(
                gateway_ref=attempt.gateway_ref,
                amount_minor=attempt.amount_minor,
                currency=attempt.currency,
                idempotency_key=key,
                reason=_STRIPE_REASON[attempt.decline_code],
            )
        except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind leaves it for a person
            log.warning("refund of attempt %s failed: %r", attempt.id, exc)
            result = RefundResult(False, message=str(exc)[:200] or exc.__class__.__name__)
        refunded += _record_refund(engine, attempt, result, now=now)
    return refunded


def _record_refund(engine: sa.Engine, held: PaymentAttempt, result: RefundResult, *, now: datetime) -> bool:
    with new_session(engine) as session, session.begin():
        attempt = session.get(PaymentAttempt, held.id, with_for_update=is_postgres(session))
        if attempt.status != A.REVIEW or attempt.decline_code != held.decline_code:
            return False  # recorded meanwhile
        invoice = session.get(Invoice, attempt.invoice_id, with_for_update=is_postgres(session))
        detail = {
            "attempt_id": attempt.id,
            "invoice": invoice.number,
            "reason": attempt.decline_code,
            "gateway_ref": attempt.gateway_ref,
            "amount_minor": attempt.amount_minor,
            "currency": attempt.currency,
        }
        if not result.succeeded:
            log.warning("refund of attempt %s refused: %s; needs review", attempt.id, result.message)
            attempt.decline_code = REFUND_FAILED
            attempt.failure_message = (result.message or "the refund failed")[:300]
            session.add(attempt)
            kind = "payment_refund_failed"
            detail["message"] = attempt.failure_message
        else:
            transition(attempt, A.REFUNDED)
            attempt.failure_message = f"refunded ({result.gateway_ref or 'done'})"[:300]
            session.add(attempt)
            kind = "payment_refunded"
            detail["refund_ref"] = result.gateway_ref
            claimed_by_other = invoice.charging_attempt_id not in (None, attempt.id)
            if held.decline_code == ENDED_IN_FLIGHT and invoice.status == I.OPEN and not claimed_by_other:
                # Nothing is owed for a period the subscription ended in: the invoice is voided.
                invoice.charging_attempt_id = None
                session.add(invoice)
                session.flush()
                settle_invoice(
                    session, invoice.id, I.VOID, merchant_id=invoice.merchant_id, actor="system", now=now, audited=False
                )
                detail["invoice_voided"] = True
        audit(
            session,
            merchant_id=attempt.merchant_id,
            subscriber_id=invoice.subscriber_id,
            actor="system",
            kind=kind,
            detail=detail,
            now=now,
        )
        return result.succeeded
