"""Dunning: what happens after a failed automatic charge.

Rules (DESIGN §2 Dunning):
- Soft declines retry on the merchant's schedule, counted in days after the FIRST failure
  ("1,3,5,7": retries 1, 3, 5 and 7 days later). The subscription is past_due meanwhile.
- Hard declines (lost/stolen card, do not try again) retire that card (payments.cards.
  retire_declined_card: never charged again), and the schedule runs on without it: each retry finds
  no card on file and fails as such, and after the last one the subscription ends as the merchant
  chose. A new card from the portal retries the open invoices at once and restores the subscription.
- When the last scheduled retry fails too, the subscription ends as the merchant chose:
  `unpaid` (the invoice stays open: paying it in the portal restores the subscription) or
  `canceled` (the invoice is written off as uncollectible: there is nothing left to restore).
- Only automatic tries (renewal, retry) count. A customer trying a card in the portal sees the
  decline on screen; it neither moves the schedule nor sends an email.
- Success restores `active` at once (invoices.reactivate_paid_up_subscriptions).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.emails.notice_keys import payment_failed_key
from portal_app.billing.invoices import settle_invoice
from portal_app.billing.money import Money
from portal_app.billing.notify import CARD_FLOW, send_subscriber_email
from portal_app.billing.statuses import (
    InvoiceStatus,
    SubscriptionStatus,
    can_transition,
    end_subscription,
    is_ended,
    transition,
)
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Invoice, Merchant, PaymentAttempt, Subscriber, Subscription
from portal_app.settings import get_settings, parse_dunning_schedule

S, I = SubscriptionStatus, InvoiceStatus

AUTOMATIC_TRIGGERS = frozenset({"renewal", "retry"})
END_STATES = {"unpaid": S.UNPAID, "canceled": S.CANCELED}


@dataclasses.dataclass(frozen=True)
class DunningStep:
    """Where an invoice stands after a failure."""

    invoice_id: int
    failures: int  # automatic failures so far (invoice.attempt_count)
    next_retry_at: datetime | None
    subscription_status: str | None
    final: bool  # the schedule is exhausted: the subscription ended


def retry_schedule(merchant: Merchant) -> list[int]:
    """The merchant's retry days; a malformed setting falls back to the deployment default."""
    try:
        return parse_dunning_schedule(merchant.dunning_schedule_days or "")
    except ValueError:
        return get_settings().dunning_days


def _first_failure_at(invoice: Invoice, days: list[int], failures: int, now: datetime) -> datetime:
    """The instant of the first failure, recovered from the previous scheduled retry."""
    if failures <= 1 or invoice.next_retry_at is None:
        return now
    return invoice.next_retry_at - timedelta(days=days[failures - 2])


def record_payment_failure(
    session: Session, *, invoice: Invoice, attempt: PaymentAttempt, now: datetime
) -> DunningStep:
    """Apply the dunning rules to an invoice whose attempt just failed (claim already released).

    The invoice row is locked by the caller; the subscription is locked here.
    """
    if attempt.trigger not in AUTOMATIC_TRIGGERS:
        return DunningStep(invoice.id, invoice.attempt_count, invoice.next_retry_at, None, False)
    merchant = session.get(Merchant, invoice.merchant_id)
    subscription = (
        get_scoped(session, Subscription, invoice.subscription_id, invoice.merchant_id, for_update=True)
        if invoice.subscription_id
        else None
    )
    # Ended or paused (pauses.py): no retry, no status move, no notice; dunning skips it.
    ended = subscription is not None and (is_ended(subscription) or subscription.status == S.PAUSED)
    days = retry_schedule(merchant)
    failures = invoice.attempt_count + 1
    first_failure = _first_failure_at(invoice, days, failures, now)
    invoice.attempt_count = failures

    final = False
    if ended:
        next_retry = None  # billing an ended subscription cannot help
    elif failures <= len(days):
        next_retry = first_failure + timedelta(days=days[failures - 1])
        if next_retry <= now:  # runs were late: keep the spacing instead of retrying at once
            next_retry = now + timedelta(days=days[failures - 1] - (days[failures - 2] if failures > 1 else 0))
    else:
        next_retry, final = None, True
    invoice.next_retry_at = next_retry

    old_status = subscription.status if subscription else None
    if subscription is not None and not ended:
        if final:
            _end_after_the_last_retry(session, subscription, invoice, merchant, now=now)
        elif can_transition(SubscriptionStatus, subscription.status, S.PAST_DUE):
            transition(subscription, S.PAST_DUE)  # a first invoice (incomplete) stays incomplete
        session.add(subscription)
    session.add(invoice)
    session.flush()

    new_status = subscription.status if subscription else None
    audit(
        session,
        merchant_id=invoice.merchant_id,
        subscriber_id=invoice.subscriber_id,
        actor="system",
        kind="payment_failed",
        detail={
            "invoice_id": invoice.id,
            "number": invoice.number,
            "attempt_id": attempt.id,
            "decline_code": attempt.decline_code,
            "hard": attempt.hard_decline,
            "failures": failures,
            "next_retry_at": next_retry,
            "final": final,
        },
        now=now,
    )
    if subscription is not None and new_status != old_status:
        audit(
            session,
            merchant_id=invoice.merchant_id,
            subscriber_id=invoice.subscriber_id,
            actor="system",
            kind=f"subscription_{new_status}",
            detail={"subscription_id": subscription.id, "from": old_status, "invoice_id": invoice.id},
            now=now,
        )
    if not ended:
        _notify_failure(
            session,
            invoice,
            attempt,
            merchant,
            next_retry=next_retry,
            final=final,
            subscription_status=new_status,
            now=now,
        )
    return DunningStep(invoice.id, failures, next_retry, new_status, final)


def _end_after_the_last_retry(
    session: Session, subscription: Subscription, invoice: Invoice, merchant: Merchant, *, now: datetime
) -> None:
    """The last retry failed: unpaid (invoice stays payable) or canceled (invoice written off)."""
    end_state = END_STATES.get(merchant.dunning_end_state, S.UNPAID)
    if end_state == S.UNPAID and not can_transition(SubscriptionStatus, subscription.status, S.UNPAID):
        end_state = S.CANCELED  # a first invoice never paid (incomplete) cannot be "unpaid": it ends
    end_subscription(session, subscription, status=end_state, now=now, reason="Payment failed")
    if end_state == S.CANCELED:
        # Written off; the subscription's status audit and the failure email tell the story.
        settle_invoice(
            session,
            invoice.id,
            I.UNCOLLECTIBLE,
            merchant_id=invoice.merchant_id,
            actor="system",
            now=now,
            audited=False,
        )


def _notify_failure(
    session: Session,
    invoice: Invoice,
    attempt: PaymentAttempt,
    merchant: Merchant,
    *,
    next_retry: datetime | None,
    final: bool,
    subscription_status: str | None,
    now: datetime,
) -> None:
    """Tell the customer why (in their language, from the decline code), what happens next, and
    where to fix it (their portal link)."""
    send_subscriber_email(
        session,
        merchant=merchant,
        subscriber=session.get(Subscriber, invoice.subscriber_id),
        kind="payment_failed",
        now=now,
        notice_key=payment_failed_key(attempt.id),
        flow=CARD_FLOW,  # the button opens the card form
        context={
            "amount": Money(invoice.total_minor, invoice.currency),
            "invoice_number": invoice.number,
            "decline_code": attempt.decline_code or "generic_decline",
            "next_retry_at": next_retry,
            "final": final,
        },
    )
