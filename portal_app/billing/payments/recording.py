"""Step 3 of the charge protocol: record what the gateway answered, in one transaction per batch.

Success pays the invoice and sends the receipt; a decline releases the claim and hands over to dunning;
an error keeps the claim until settlement asks the gateway under the same key.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing import dunning
from portal_app.billing.emails.notice_keys import receipt_key
from portal_app.billing.emails.outbox import queue_emails
from portal_app.billing.gateways.base import GENERIC_DECLINE, ChargeOutcome, ChargeResult
from portal_app.billing.invoices import settle_invoices_paid
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeClaim, ChargeInvoiceResult, PaymentOutcome
from portal_app.billing.payments.cards import retire_declined_card
from portal_app.billing.payments.declines import AUTHENTICATION_REQUIRED, NEVER_REACHED
from portal_app.billing.payments.refunds import hold_for_review, split_unapplicable
from portal_app.billing.payments.review import MISMATCH, answer_mismatch, mark_for_review
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, check_transition, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.db import is_postgres, new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt, Subscriber

log = logging.getLogger(__name__)

A, I = AttemptStatus, InvoiceStatus


def record_outcomes(
    engine: sa.Engine, outcomes: list[tuple[ChargeClaim, ChargeResult | None]], *, now: datetime
) -> dict[int, ChargeInvoiceResult]:
    """Apply gateway answers in one transaction; returns results by attempt id.

    An answer that does not fit its attempt (another amount, currency or customer) is never applied:
    the attempt goes to review (payments/review.py). A `None` answer means nothing was charged.
    """
    results: dict[int, ChargeInvoiceResult] = {}
    with new_session(engine) as session, session.begin():
        lock = sa.select(PaymentAttempt.id, PaymentAttempt.status).where(
            PaymentAttempt.id.in_([claim.attempt_id for claim, _ in outcomes])
        )
        if is_postgres(session):
            lock = lock.with_for_update()
        status_of = dict(session.execute(lock).all())
        paid, others, reviews = [], [], []
        for claim, answer in outcomes:
            status = status_of.get(claim.attempt_id)
            if status not in (A.PENDING, A.UNKNOWN):
                # Settled meanwhile by someone else (a concurrent settle): report it, change nothing.
                results[claim.attempt_id] = _result_from_attempt(session, claim)
            elif mismatch := answer_mismatch(claim, answer):
                reviews.append((claim, f"{MISMATCH}: {mismatch}", answer))
            elif answer is not None and answer.outcome is ChargeOutcome.SUCCEEDED:
                paid.append((claim, answer, status))
            else:
                others.append((claim, answer))
        results.update(record_successes(session, paid, now=now))
        for claim, reason, answer in reviews:
            results[claim.attempt_id] = mark_for_review(session, claim, reason=reason, now=now, answer=answer)
        for claim, answer in others:
            results[claim.attempt_id] = _record_other(session, claim, answer, now=now)
    return results


def record_successes(
    session: Session, paid: list[tuple[ChargeClaim, ChargeResult, str]], *, now: datetime
) -> dict[int, ChargeInvoiceResult]:
    """Successful charges in bulk: attempt succeeded, invoice paid, claim released, receipt sent.

    Bulk statements instead of transition(): each move is validated against the status table
    first, and every UPDATE pins the current status in its WHERE, so only validated moves apply.
    The invoices are paid by invoices.settle_invoices_paid (the same effects as settle_invoice).
    """
    if not paid:
        return {}
    # Money that cannot pay its invoice (ended in flight, settled elsewhere) is held for a refund.
    paid, held = split_unapplicable(session, paid)
    held_results = hold_for_review(session, held, now=now)
    if not paid:
        return held_results
    att = PaymentAttempt.__table__
    for status in {status for _, _, status in paid}:
        check_transition(AttemptStatus, status, A.SUCCEEDED)
    check_transition(AttemptStatus, A.REQUIRES_ACTION, A.FAILED)
    session.execute(
        sa.update(att)
        .where(att.c.id == sa.bindparam("b_attempt"), att.c.status == sa.bindparam("b_status"))
        .values(
            status=A.SUCCEEDED.value,
            gateway_ref=sa.bindparam("b_ref"),
            settled_at=now,
            decline_code="",
            failure_message="",
        ),
        [{"b_attempt": c.attempt_id, "b_status": status, "b_ref": r.gateway_ref[:64]} for c, r, status in paid],
    )
    for start in range(0, len(paid), 1000):
        invoice_ids = [c.invoice_id for c, _, _ in paid[start : start + 1000]]
        # Earlier attempts still waiting for 3DS are moot once the invoice is paid.
        session.execute(
            sa.update(att)
            .where(att.c.invoice_id.in_(invoice_ids), att.c.status == A.REQUIRES_ACTION.value)
            .values(status=A.FAILED.value, failure_message="superseded by a successful payment", settled_at=now)
        )
    # Money moved, so the invoice is paid whatever dunning said; only the claim holder settles it.
    settle_invoices_paid(session, [(c.invoice_id, c.attempt_id) for c, _, _ in paid], now=now)
    send_receipts(session, [c for c, _, _ in paid], now=now)
    return held_results | {
        c.attempt_id: ChargeInvoiceResult(
            PaymentOutcome.SUCCEEDED, c.invoice_id, c.number, c.amount, attempt_id=c.attempt_id
        )
        for c, _, _ in paid
    }


def send_receipts(session: Session, paid: list[ChargeClaim], *, now: datetime) -> None:
    """One receipt per paid invoice, recorded in one bulk INSERT (a run pays thousands)."""

    merchants = {m.id: m for m in session.exec(select(Merchant).where(Merchant.id.in_({c.merchant_id for c in paid})))}
    subscriber_ids = sorted({c.subscriber_id for c in paid})
    subscribers = {}
    for start in range(0, len(subscriber_ids), 1000):
        subscribers.update(
            {
                row.id: row
                for row in session.execute(
                    sa.select(Subscriber.id, Subscriber.name, Subscriber.email, Subscriber.language).where(
                        Subscriber.id.in_(subscriber_ids[start : start + 1000])
                    )
                )
            }
        )
    formatted: dict[tuple[Money, str], str] = {}  # babel formatting dominates a receipt: once per price
    emails = []
    for claim in paid:
        subscriber = subscribers[claim.subscriber_id]
        language = subscriber.language or "en"
        if (claim.amount, language) not in formatted:
            formatted[claim.amount, language] = claim.amount.format(language)
        merchant = merchants[claim.merchant_id]
        emails.append(
            {
                "merchant": merchant,
                "to_address": subscriber.email,
                "kind": "receipt",
                "language": language,
                "subscriber_id": subscriber.id,
                "created_at": now,
                "notice_key": receipt_key(claim.invoice_id),
                "context": {
                    "merchant_name": merchant.name,
                    "subscriber_name": subscriber.name,
                    "amount": formatted[claim.amount, language],
                    "invoice_number": claim.number,
                },
            }
        )
    queue_emails(session, emails)


def _record_other(
    session: Session, claim: ChargeClaim, answer: ChargeResult | None, *, now: datetime
) -> ChargeInvoiceResult:
    """Declines, 3DS, errors and 'never reached' for one attempt (rarer than successes: row by row)."""
    attempt = get_scoped(session, PaymentAttempt, claim.attempt_id, claim.merchant_id, for_update=True)
    invoice = get_scoped(session, Invoice, claim.invoice_id, claim.merchant_id, for_update=True)
    holds_claim = invoice.charging_attempt_id == attempt.id
    result = functools.partial(
        ChargeInvoiceResult,
        invoice_id=claim.invoice_id,
        invoice_number=claim.number,
        amount=claim.amount,
        attempt_id=attempt.id,
    )
    if answer is not None and answer.outcome is ChargeOutcome.ERROR:
        # Unknown: the money may have moved. The claim stays so nobody charges again before settling.
        if attempt.status == A.PENDING:
            transition(attempt, A.UNKNOWN)
        attempt.failure_message = (answer.message or "no answer from the gateway")[:300]
        if answer.gateway_ref and not attempt.gateway_ref:  # settlement can retrieve it by this reference
            attempt.gateway_ref = answer.gateway_ref[:64]
        session.add(attempt)
        return result(PaymentOutcome.UNKNOWN)
    if holds_claim:
        invoice.charging_attempt_id = None
    if answer is None:
        # The gateway never saw this key: nothing was charged. A gateway problem is not the customer's
        # fault, so it does not count as a dunning try; a first charge is retried by the next run.
        transition(attempt, A.FAILED)
        attempt.decline_code = NEVER_REACHED
        attempt.failure_message = "never reached the gateway; nothing was charged"
        attempt.settled_at = now
        if invoice.status == I.OPEN and invoice.next_retry_at is None and invoice.attempt_count == 0:
            invoice.next_retry_at = now
        session.add_all([attempt, invoice])
        return result(PaymentOutcome.DECLINED, decline_code=attempt.decline_code, next_retry_at=invoice.next_retry_at)
    attempt.gateway_ref = (answer.gateway_ref or "")[:64]
    attempt.settled_at = now
    attempt.failure_message = (answer.message or "")[:300]
    if answer.outcome is ChargeOutcome.REQUIRES_ACTION:
        transition(attempt, A.REQUIRES_ACTION)
        attempt.decline_code = (answer.decline_code or AUTHENTICATION_REQUIRED)[:40]
        outcome = PaymentOutcome.REQUIRES_ACTION
    else:
        transition(attempt, A.FAILED)
        attempt.decline_code = (answer.decline_code or GENERIC_DECLINE)[:40]
        attempt.hard_decline = bool(answer.hard)
        outcome = PaymentOutcome.DECLINED
        if attempt.hard_decline:
            retire_declined_card(session, attempt, now=now)  # never charged again; dunning runs on without it
    session.add_all([attempt, invoice])
    session.flush()
    step = dunning.record_payment_failure(session, invoice=invoice, attempt=attempt, now=now) if holds_claim else None
    return result(
        outcome,
        decline_code=attempt.decline_code,
        hard_decline=attempt.hard_decline,
        action_url=answer.action_url,
        next_retry_at=step.next_retry_at if step else None,
    )


def _result_from_attempt(session: Session, claim: ChargeClaim) -> ChargeInvoiceResult:
    """Report an attempt someone else already settled."""
    attempt = session.get(PaymentAttempt, claim.attempt_id)
    result = functools.partial(
        ChargeInvoiceResult,
        invoice_id=claim.invoice_id,
        invoice_number=claim.number,
        amount=claim.amount,
        attempt_id=claim.attempt_id,
    )
    if attempt is None:
        return result(PaymentOutcome.NOT_PAYABLE, attempt_id=None)
    if attempt.status == A.SUCCEEDED:
        return result(PaymentOutcome.SUCCEEDED)
    if attempt.status == A.REVIEW:
        return result(PaymentOutcome.IN_REVIEW)
    outcome = PaymentOutcome.REQUIRES_ACTION if attempt.status == A.REQUIRES_ACTION else PaymentOutcome.DECLINED
    return result(outcome, decline_code=attempt.decline_code, hard_decline=attempt.hard_decline)


def mark_unknown(engine: sa.Engine, attempt_ids: list[int]) -> None:
    """After a failure while recording: pending -> unknown, claims kept. Best effort; a pending
    attempt left behind is settled after PENDING_GRACE just the same."""
    if not attempt_ids:
        return
    try:
        with new_session(engine) as session, session.begin():
            check_transition(AttemptStatus, A.PENDING, A.UNKNOWN)
            att = PaymentAttempt.__table__
            session.execute(
                sa.update(att)
                .where(att.c.id.in_(attempt_ids), att.c.status == A.PENDING.value)
                .values(status=A.UNKNOWN.value, failure_message="outcome not recorded; to be settled by lookup")
            )
    except Exception:
        log.exception("could not mark attempts %s unknown; they stay pending until settled", attempt_ids)
