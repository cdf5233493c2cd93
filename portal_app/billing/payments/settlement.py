"""Settle attempts without a recorded outcome by asking the gateway under their key; never charge."""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, PaymentGateway
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeClaim, ChargeInvoiceResult, PaymentOutcome, idempotency_key
from portal_app.billing.payments.charging import refund_unapplied
from portal_app.billing.payments.recording import record_outcomes
from portal_app.billing.statuses import AttemptStatus
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt

log = logging.getLogger(__name__)

A = AttemptStatus


# A pending attempt older than this lost its worker (crash between gateway call and commit):
# no gateway call takes that long, so settling it cannot race a charge still in flight.
PENDING_GRACE = timedelta(minutes=15)


@dataclasses.dataclass(frozen=True)
class SettleSummary:
    checked: int = 0
    succeeded: int = 0
    failed: int = 0  # declined, or never reached the gateway (claim released, retried later)
    still_unknown: int = 0
    results: tuple[ChargeInvoiceResult, ...] = ()


def settle_unknown_attempts(
    engine: sa.Engine,
    *,
    gateway: PaymentGateway,
    now: datetime,
    merchant_id: int | None = None,
    pending_grace: timedelta = PENDING_GRACE,
    limit: int = 10_000,
) -> SettleSummary:
    """Ask the gateway what happened to attempts without a recorded outcome, by their key.

    Covers `unknown` attempts (timeouts) and `pending` ones older than pending_grace (a worker died
    between the gateway call and its commit). Never charges: a key the gateway never saw means
    nothing was charged, and only then is the claim released for a new attempt.
    """
    with new_session(engine) as session, session.begin():
        stmt = (
            select(PaymentAttempt, Invoice.subscriber_id, Invoice.number)
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
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
        merchants = (
            {
                m.id: m
                for m in session.exec(select(Merchant).where(Merchant.id.in_({a.merchant_id for a, _, _ in rows})))
            }
            if rows
            else {}
        )
        claims = [
            ChargeClaim(
                attempt_id=a.id,
                invoice_id=a.invoice_id,
                merchant_id=a.merchant_id,
                subscriber_id=subscriber_id,
                number=number or "",
                amount=Money(a.amount_minor, a.currency),
                customer_ref="",
                payment_method_ref="",
                idempotency_key=idempotency_key(merchants[a.merchant_id], a.id),
                trigger=a.trigger,
            )
            for a, subscriber_id, number in rows
        ]
    answered: list[tuple[ChargeClaim, ChargeResult | None]] = []
    still_unknown = 0
    for claim in claims:
        try:
            answer = gateway.lookup_charge(idempotency_key=claim.idempotency_key)
        except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
            log.warning("lookup of attempt %s failed: %r", claim.attempt_id, exc)
            still_unknown += 1
            continue
        if answer is not None and answer.outcome is ChargeOutcome.ERROR:
            still_unknown += 1
            continue
        answered.append((claim, answer))
    if not answered:
        return SettleSummary(checked=len(claims), still_unknown=still_unknown)
    by_attempt = record_outcomes(engine, answered, now=now)
    refund_unapplied(engine, by_attempt.values(), gateway=gateway, now=now)
    results = tuple(by_attempt[c.attempt_id] for c, _ in answered)
    return SettleSummary(
        checked=len(claims),
        succeeded=sum(r.outcome is PaymentOutcome.SUCCEEDED for r in results),
        failed=sum(r.outcome in (PaymentOutcome.DECLINED, PaymentOutcome.REQUIRES_ACTION) for r in results),
        still_unknown=still_unknown,
        results=results,
    )
