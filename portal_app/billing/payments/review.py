"""Attempts only a person may settle: their outcome can no longer be learned safely (the idempotency key
expired at the gateway) or the gateway reports a charge that does not fit them (another amount, currency
or customer: a key reused after a database restore). A merchant decides; until then the invoice is
never charged automatically (charging.awaiting_review), and never paid on the strength of that answer.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.gateways.base import ChargeResult
from portal_app.billing.payments.attempts import ChargeClaim, ChargeInvoiceResult, PaymentOutcome
from portal_app.billing.statuses import AttemptStatus, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.db import new_session
from portal_app.models import Invoice, PaymentAttempt

log = logging.getLogger(__name__)

A = AttemptStatus

REVIEW_AUDIT_KIND = "payment_needs_review"
# Why an attempt needs review (codes in the audit row and the attempt's failure_message).
KEY_EXPIRED = "key_expired"  # no answer within the key's lifetime: asking again could charge again
KEY_REUSED = "key_reused"  # the gateway saw this key with another request
MISMATCH = "mismatch"  # the gateway reports another amount, currency or customer

_REVIEWABLE = (A.PENDING, A.UNKNOWN, A.REQUIRES_ACTION)


def answer_mismatch(claim: ChargeClaim, answer: ChargeResult | None) -> str:
    """ "" when what the gateway reports fits the attempt; else the facts that differ ("amount,currency")."""
    if answer is None:
        return ""
    differs = []
    if answer.amount_minor is not None and answer.amount_minor != claim.amount.amount_minor:
        differs.append("amount")
    if answer.currency and answer.currency.upper() != claim.amount.currency.upper():
        differs.append("currency")
    if answer.customer_ref and claim.customer_ref and answer.customer_ref != claim.customer_ref:
        differs.append("customer")
    return ",".join(differs)


def mark_for_review(
    session: Session, claim: ChargeClaim, *, reason: str, now: datetime, answer: ChargeResult | None = None
) -> ChargeInvoiceResult:
    """Move one attempt to review (locked; an attempt settled meanwhile is left alone), with an audit row.

    The claim is released so the merchant can mark the invoice paid, void or uncollectible; the review
    attempt itself keeps every automatic charge away from it.
    """
    attempt = get_scoped(session, PaymentAttempt, claim.attempt_id, claim.merchant_id, for_update=True)
    invoice = get_scoped(session, Invoice, claim.invoice_id, claim.merchant_id, for_update=True)
    result = ChargeInvoiceResult(
        PaymentOutcome.IN_REVIEW, claim.invoice_id, claim.number, claim.amount, attempt_id=claim.attempt_id
    )
    if attempt.status == A.REVIEW:
        return result
    if attempt.status not in _REVIEWABLE:
        outcome = PaymentOutcome.SUCCEEDED if attempt.status == A.SUCCEEDED else PaymentOutcome.DECLINED
        return ChargeInvoiceResult(outcome, claim.invoice_id, claim.number, claim.amount, attempt_id=attempt.id)
    transition(attempt, A.REVIEW)
    attempt.failure_message = f"needs review ({reason}): never charged again automatically"[:300]
    if answer is not None and answer.gateway_ref and not attempt.gateway_ref:
        attempt.gateway_ref = answer.gateway_ref[:64]
    if invoice.charging_attempt_id == attempt.id:
        invoice.charging_attempt_id = None
    invoice.next_retry_at = None
    session.add_all([attempt, invoice])
    log.warning("attempt %s (invoice %s) needs review: %s", attempt.id, invoice.id, reason)
    audit(
        session,
        merchant_id=claim.merchant_id,
        subscriber_id=claim.subscriber_id,
        actor="system",
        kind=REVIEW_AUDIT_KIND,
        detail={
            "attempt_id": attempt.id,
            "invoice_id": invoice.id,
            "number": claim.number,
            "reason": reason,
            "amount_minor": claim.amount.amount_minor,
            "currency": claim.amount.currency,
            "idempotency_key": claim.idempotency_key,
            "gateway_ref": attempt.gateway_ref,
            **(
                {"reported_amount_minor": answer.amount_minor, "reported_currency": answer.currency}
                if answer is not None and answer.amount_minor is not None
                else {}
            ),
        },
        now=now,
    )
    return result


def record_reviews(
    engine: sa.Engine, reviews: list[tuple[ChargeClaim, str, ChargeResult | None]], *, now: datetime
) -> dict[int, ChargeInvoiceResult]:
    """mark_for_review for each (claim, reason, answer), in one transaction; results by attempt id."""
    if not reviews:
        return {}
    with new_session(engine) as session, session.begin():
        return {
            claim.attempt_id: mark_for_review(session, claim, reason=reason, now=now, answer=answer)
            for claim, reason, answer in reviews
        }
