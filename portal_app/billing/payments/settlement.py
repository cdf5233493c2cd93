"""Settle attempts without a recorded outcome by asking the gateway under their own key; never with a new one.

An attempt is `unknown` (the call timed out or failed) or `pending` past PENDING_GRACE (its worker
died between the gateway call and the commit). The gateway is asked, in this order:

1. retrieve the charge by the reference the attempt stored, when it has one;
2. replay the very same request under the same idempotency key: the gateway answers the first
   result (Stripe keeps a key at least 24 hours), or performs the charge now if the first request
   never arrived (still exactly one charge), or reports the request still in flight (ERROR: later);
3. search by the key (Stripe Search is eventually consistent): a hit is a fact, a miss is nothing.

Never "not found, so not charged". An answer is believed only if its amount, currency and customer
match the attempt (else review). Past KEY_LIFETIME since the attempt was written, a replay could
charge again, so an attempt still without a final answer goes to review (payments/review.py): a
merchant decides and its invoice is never charged automatically again. No attempt stays pending or
unknown longer than that.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, IdempotencyKeyReused, PaymentGateway
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeClaim, ChargeInvoiceResult, PaymentOutcome, idempotency_key
from portal_app.billing.payments.charging import NOT_SENT, refund_unapplied, send_charge
from portal_app.billing.payments.declines import NO_PAYMENT_METHOD
from portal_app.billing.payments.recording import mark_unknown, record_outcomes
from portal_app.billing.payments.review import KEY_EXPIRED, KEY_REUSED, MISMATCH, record_reviews
from portal_app.billing.statuses import AttemptStatus
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt, PaymentMethod, Subscriber

log = logging.getLogger(__name__)

A = AttemptStatus


# A pending attempt older than this lost its worker (crash between gateway call and commit):
# no gateway call takes that long, so settling it cannot race a charge still in flight.
PENDING_GRACE = timedelta(minutes=15)
# How long the gateway keeps an idempotency key (Stripe: pruned once at least 24 hours old).
KEY_LIFETIME = timedelta(hours=24)
# Replays stop this long before the key may be pruned: a replay after it could be a new charge.
REPLAY_MARGIN = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class SettleSummary:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0  # declined (dunning takes over), or never sent (no card)
    review: int = 0  # handed to a merchant: never charged again automatically
    still_unknown: int = 0
    results: tuple[ChargeInvoiceResult, ...] = ()


@dataclasses.dataclass(frozen=True)
class _Unsettled:
    claim: ChargeClaim
    status: str
    gateway: str  # the gateway it was sent to ("" = never sent)
    gateway_ref: str
    written_at: datetime


def settle_unknown_attempts(
    engine: sa.Engine,
    *,
    gateway: PaymentGateway,
    now: datetime,
    merchant_id: int | None = None,
    pending_grace: timedelta = PENDING_GRACE,
    limit: int = 10_000,
) -> SettleSummary:
    """Ask the gateway what happened to attempts without a recorded outcome (see the module docstring)."""
    unsettled = _load_unsettled(engine, now=now, merchant_id=merchant_id, pending_grace=pending_grace, limit=limit)
    answered: list[tuple[ChargeClaim, ChargeResult]] = []
    reviews: list[tuple[ChargeClaim, str, ChargeResult | None]] = []
    waiting: list[_Unsettled] = []
    for item in unsettled:
        answer, reason = _ask_gateway(gateway, item, now=now)
        if answer is not None:
            answered.append((item.claim, answer))
        elif reason:
            reviews.append((item.claim, reason, None))
        elif now - item.written_at >= KEY_LIFETIME:
            reviews.append((item.claim, KEY_EXPIRED, None))
        else:
            waiting.append(item)
    by_attempt = record_outcomes(engine, answered, now=now) if answered else {}
    refund_unapplied(engine, by_attempt.values(), gateway=gateway, now=now)
    by_attempt.update(record_reviews(engine, reviews, now=now))
    # A pending attempt we asked about without an answer is unknown from now on (its worker is gone).
    mark_unknown(engine, [item.claim.attempt_id for item in waiting if item.status == A.PENDING])
    results = tuple(by_attempt[claim.attempt_id] for claim, _ in answered) + tuple(
        by_attempt[claim.attempt_id] for claim, _, _ in reviews
    )
    return SettleSummary(
        checked=len(unsettled),
        succeeded=sum(r.outcome is PaymentOutcome.SUCCEEDED for r in results),
        failed=sum(r.outcome in (PaymentOutcome.DECLINED, PaymentOutcome.REQUIRES_ACTION) for r in results),
        review=sum(r.outcome is PaymentOutcome.IN_REVIEW for r in results),
        still_unknown=len(waiting),
        results=results,
    )


def _load_unsettled(
    engine: sa.Engine, *, now: datetime, merchant_id: int | None, pending_grace: timedelta, limit: int
) -> list[_Unsettled]:
    """Unknown attempts, and pending ones past the grace, with the request they were sent with."""
    with new_session(engine) as session:
        stmt = (
            select(
                PaymentAttempt,
                Invoice.subscriber_id,
                Invoice.number,
                PaymentMethod.gateway_ref,
                Subscriber.gateway_customer_id,
            )
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
            .join(Subscriber, Subscriber.id == Invoice.subscriber_id)
            .outerjoin(PaymentMethod, PaymentMethod.id == PaymentAttempt.payment_method_id)
            .where(
                sa.or_(
                    PaymentAttempt.status == A.UNKNOWN,
                    sa.and_(PaymentAttempt.status == A.PENDING, PaymentAttempt.created_at <= now - pending_grace),
                )
            )
            .order_by(PaymentAttempt.id)
            .limit(limit)
        )
        if merchant_id is not None:
            stmt = stmt.where(PaymentAttempt.merchant_id == merchant_id)
        rows = session.execute(stmt).all()
        merchant_ids = {row[0].merchant_id for row in rows}
        merchants = {m.id: m for m in session.exec(select(Merchant).where(Merchant.id.in_(merchant_ids)))}
    return [
        _Unsettled(
            claim=ChargeClaim(
                attempt_id=a.id,
                invoice_id=a.invoice_id,
                merchant_id=a.merchant_id,
                subscriber_id=subscriber_id,
                number=number or "",
                amount=Money(a.amount_minor, a.currency),
                # Attempts written before customer_ref existed were sent for the subscriber's customer.
                customer_ref=a.customer_ref or customer_ref or "",
                payment_method_ref=card_ref or "",
                idempotency_key=idempotency_key(merchants[a.merchant_id], a.id, a.key_nonce),
                trigger=a.trigger,
            ),
            status=a.status,
            gateway=a.gateway,
            gateway_ref=a.gateway_ref,
            written_at=a.created_at,
        )
        for a, subscriber_id, number, card_ref, customer_ref in rows
    ]


def _ask_gateway(gateway: PaymentGateway, item: _Unsettled, *, now: datetime) -> tuple[ChargeResult | None, str]:
    """(a final answer, "") or (None, why it needs review) or (None, "") when nothing is known yet."""
    claim = item.claim
    if item.gateway == NOT_SENT:
        # Nothing to charge, so it was never sent: the same failure its worker would have recorded.
        return ChargeResult(ChargeOutcome.DECLINED, decline_code=NO_PAYMENT_METHOD, message="not sent"), ""
    if item.gateway != gateway.name:
        return None, ""  # sent to a gateway no longer configured: nobody here can ask it
    if item.gateway_ref:
        try:
            key, found = gateway.charge_status(item.gateway_ref)
        except Exception as exc:  # noqa: BLE001 - not retrievable (yet): the next step asks differently
            log.info("retrieving %s for attempt %s failed: %r", item.gateway_ref, claim.attempt_id, exc)
        else:
            if key and key != claim.idempotency_key:
                return None, f"{MISMATCH}: the stored charge belongs to another key"
            if key and found.outcome is not ChargeOutcome.ERROR:
                return found, ""
    if now - item.written_at < KEY_LIFETIME - REPLAY_MARGIN and claim.customer_ref and claim.payment_method_ref:
        try:
            replayed = send_charge(gateway, claim)
        except IdempotencyKeyReused:
            return None, KEY_REUSED
        except Exception as exc:  # noqa: BLE001 - unreachable or refused: unknown for now, asked again next run
            log.warning("replaying attempt %s failed: %r", claim.attempt_id, exc)
        else:
            if replayed.outcome is not ChargeOutcome.ERROR:
                return replayed, ""
    try:
        found = gateway.lookup_charge(idempotency_key=claim.idempotency_key)
    except Exception as exc:  # noqa: BLE001 - search unavailable: nothing learned
        log.warning("lookup of attempt %s failed: %r", claim.attempt_id, exc)
        return None, ""
    if found is not None and found.outcome is not ChargeOutcome.ERROR:
        return found, ""
    return None, ""  # a search miss says nothing: the charge may exist and not be indexed yet
