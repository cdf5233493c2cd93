"""A merchant resolves a payment in review (payments/review.py): it was charged (mark paid), it was not
(retry on the next billing run, with a new attempt and key), or the invoice is void.

Money being refunded (refunds.REFUNDABLE) is not the merchant's to resolve while the refund runs; once
its refund failed (refunds.REFUND_FAILED) the choices are the same as for any review.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.errors import NotAllowed
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeClaim
from portal_app.billing.payments.recording import send_receipts
from portal_app.billing.payments.refunds import CHARGE_MISMATCH, REFUND_FAILED, REFUNDABLE
from portal_app.billing.payments.review import KEY_EXPIRED, KEY_REUSED, MISMATCH
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Invoice, PaymentAttempt

A, I = AttemptStatus, InvoiceStatus

RESOLVED_AUDIT_KIND = "payment_review_resolved"
RESOLVED_NOT_CHARGED = "not charged (merchant's review)"  # failure_message prefix of a resolved attempt


class Resolution(StrEnum):
    PAID = "paid"  # it was charged: the invoice is paid
    RETRY = "retry"  # it was not charged: the next billing run charges it again (new attempt, new key)
    VOID = "void"  # nothing is owed: the invoice is void


_WHY = {
    KEY_EXPIRED: "We never learned whether this charge went through, and it is now too late to ask the payment "
    "processor safely (asking again could charge twice).",
    KEY_REUSED: "The payment processor had already seen this charge's key with another request (for example "
    "after a database restore), so we can't tell whether this charge went through.",
    MISMATCH: "The payment processor reports a charge that doesn't match this invoice (another amount, currency "
    "or customer).",
    CHARGE_MISMATCH: "The payment processor charged another amount, currency or customer than this invoice asked.",
    REFUND_FAILED: "Money arrived that can't pay this invoice, and refunding it failed",
}
_CODE = re.compile(r"needs review \(([a-z_]+)")


@dataclasses.dataclass(frozen=True)
class ReviewItem:
    attempt_id: int
    invoice_id: int
    invoice_number: str
    invoice_status: str
    amount: Money
    created_at: datetime
    gateway_ref: str
    reason: str  # plain words for the merchant


def review_reason(attempt: PaymentAttempt) -> str:
    """Why the attempt is in review, in plain words."""
    if attempt.decline_code == REFUND_FAILED:
        return f"{_WHY[REFUND_FAILED]}: {attempt.failure_message or 'the refund failed'}."
    if attempt.decline_code in _WHY:
        return _WHY[attempt.decline_code]
    found = _CODE.match(attempt.failure_message or "")
    if found and found.group(1) in _WHY:
        return _WHY[found.group(1)]
    return "The outcome of this charge is unknown."


def resolvable(attempt: PaymentAttempt) -> bool:
    """In review and not money whose refund is under way."""
    return attempt.status == A.REVIEW and attempt.decline_code not in REFUNDABLE


def reviews_of(session: Session, *, merchant_id: int, subscriber_id: int) -> list[ReviewItem]:
    """The subscriber's attempts a merchant may resolve, oldest first."""
    rows = session.execute(
        sa.select(PaymentAttempt, Invoice.number, Invoice.status)
        .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
        .where(
            PaymentAttempt.merchant_id == merchant_id,
            Invoice.merchant_id == merchant_id,
            Invoice.subscriber_id == subscriber_id,
            PaymentAttempt.status == A.REVIEW,
        )
        .order_by(PaymentAttempt.id)
    ).all()
    return [
        ReviewItem(
            attempt.id,
            attempt.invoice_id,
            number or "",
            status,
            Money(attempt.amount_minor, attempt.currency),
            attempt.created_at,
            attempt.gateway_ref or "",
            review_reason(attempt),
        )
        for attempt, number, status in rows
        if resolvable(attempt)
    ]


def resolve_review(
    session: Session, attempt_id: int, resolution: Resolution, *, merchant_id: int, actor: str, now: datetime
) -> PaymentAttempt:
    """Resolve one attempt in review, in the caller's transaction (locks: attempt, then invoice).

    Raises NotFound for another merchant's attempt and NotAllowed for one not (or no longer) in review:
    a second resolve changes nothing. An invoice that is no longer open (a refund that failed after the
    invoice was settled elsewhere) keeps its status; only the attempt is resolved.
    """
    resolution = Resolution(resolution)
    attempt = get_scoped(session, PaymentAttempt, attempt_id, merchant_id, for_update=True)
    if attempt.status != A.REVIEW:
        raise NotAllowed("This payment was already resolved.")
    if not resolvable(attempt):
        raise NotAllowed("This payment is being refunded; try again in a few minutes.")
    invoice = get_scoped(session, Invoice, attempt.invoice_id, merchant_id, for_update=True)
    reason = review_reason(attempt)
    was_open = invoice.status == I.OPEN
    if invoice.charging_attempt_id == attempt.id:
        invoice.charging_attempt_id = None
    transition(attempt, A.SUCCEEDED if resolution is Resolution.PAID else A.FAILED)
    attempt.settled_at = now
    attempt.failure_message = {
        Resolution.PAID: "",
        Resolution.RETRY: f"{RESOLVED_NOT_CHARGED}: charged again on the next billing run",
        Resolution.VOID: f"{RESOLVED_NOT_CHARGED}: invoice voided",
    }[resolution]
    if resolution is Resolution.PAID:
        attempt.decline_code = ""
    session.add_all([attempt, invoice])
    session.flush()
    if was_open and resolution is Resolution.RETRY:
        invoice.next_retry_at = now  # the next run charges it, with a new attempt and a new key
        session.add(invoice)
        session.flush()
    elif was_open:
        settle_invoice(
            session,
            invoice.id,
            I.PAID if resolution is Resolution.PAID else I.VOID,
            merchant_id=merchant_id,
            actor=actor,
            now=now,
            audited=False,  # the resolution's own audit row tells the story
        )
    if was_open and resolution is Resolution.PAID:
        session.execute(  # earlier attempts still waiting for 3DS are moot once the invoice is paid
            sa.update(PaymentAttempt.__table__)
            .where(
                PaymentAttempt.__table__.c.invoice_id == invoice.id,
                PaymentAttempt.__table__.c.status == A.REQUIRES_ACTION.value,
            )
            .values(status=A.FAILED.value, failure_message="superseded by a successful payment", settled_at=now)
        )
        claim = ChargeClaim(
            attempt.id,
            invoice.id,
            merchant_id,
            invoice.subscriber_id,
            invoice.number or "",
            Money(attempt.amount_minor, attempt.currency),
            attempt.customer_ref,
            "",
            "",  # a receipt needs no key
            attempt.trigger,
        )
        send_receipts(session, [claim], now=now)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=invoice.subscriber_id,
        actor=actor,
        kind=RESOLVED_AUDIT_KIND,
        detail={
            "resolution": resolution.value,
            "attempt_id": attempt.id,
            "actor": actor,
            "invoice_id": invoice.id,
            "number": invoice.number,
            "reason": reason,
            "invoice_status": invoice.status,
        },
        now=now,
    )
    return attempt
