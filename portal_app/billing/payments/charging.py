"""Charging invoices: claim, call the gateway, record (step 3 is recording.py, settlement settlement.py).

The protocol (DESIGN §2 Payments), the same for one invoice or a batch of thousands:

1. Claim, in one short transaction: write a `pending` PaymentAttempt and claim the invoice with a
   conditional UPDATE (status open and nobody charging). Both commit together, so an attempt exists
   exactly when its claim succeeded; a lost race leaves no row behind and answers IN_PROGRESS or
   ALREADY_PAID. Everyone racing on one invoice (a retry job, a card update, a second worker) goes
   through this UPDATE, so only one of them ever reaches the gateway.
2. Call the gateway outside any transaction, with an idempotency key derived from the attempt.
3. Record the outcome in a new transaction. Success pays the invoice and releases the claim; a
   decline releases it and hands over to dunning; an error or a crash leaves the attempt `unknown`
   (or `pending`) and the claim in place, so nobody charges again until `settle_unknown_attempts`
   has asked the gateway what happened under that same key.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.gateways.base import ChargeOutcome, ChargeResult, PaymentGateway
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import (
    ChargeClaim,
    ChargeInvoiceResult,
    PaymentOutcome,
    idempotency_key,
    new_key_nonce,
)
from portal_app.billing.payments.cards import default_card_query
from portal_app.billing.payments.declines import NO_PAYMENT_METHOD
from portal_app.billing.payments.recording import mark_unknown, record_outcomes
from portal_app.billing.payments.refunds import refund_held_charges
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.db import is_postgres, new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt, PaymentMethod, Subscriber

log = logging.getLogger(__name__)

A, I = AttemptStatus, InvoiceStatus

NOT_SENT = ""  # PaymentAttempt.gateway of an attempt never sent to any gateway


# Claims per transaction in batch charging (a billing run charges thousands of invoices).
CLAIM_BATCH = 500


def _result_for_state(
    invoice_id: int, number: str | None, amount: Money | None, status: str, *, in_review: bool = False
) -> ChargeInvoiceResult:
    """The answer for an invoice we did not claim."""
    if status == I.PAID:
        outcome = PaymentOutcome.ALREADY_PAID
    elif status == I.OPEN and in_review:
        outcome = PaymentOutcome.IN_REVIEW
    elif status == I.OPEN:
        # Open but not ours: claimed by another worker (or being claimed: PostgreSQL skipped its lock).
        outcome = PaymentOutcome.IN_PROGRESS
    else:
        outcome = PaymentOutcome.NOT_PAYABLE
    return ChargeInvoiceResult(outcome, invoice_id, number or "", amount)


# --- step 1: claim ---------------------------------------------------------------------------


def claim_invoices(
    session: Session,
    invoice_ids: Sequence[int],
    *,
    merchant_id: int | None,
    trigger: str,
    gateway_name: str,
    now: datetime,
) -> tuple[list[ChargeClaim], list[int]]:
    """Write pending attempts and claim the chargeable invoices among `invoice_ids`.

    Returns (claims, ids not claimed). Runs inside the caller's transaction, which must commit
    before the gateway is called. The candidate rows are locked first (PostgreSQL: FOR UPDATE
    SKIP LOCKED, so a concurrent claimer skips them; SQLite: the BEGIN IMMEDIATE write lock),
    and the claim UPDATE repeats the conditions, so a claim can never be taken twice.
    """
    ids = sorted(set(invoice_ids))
    if not ids:
        return [], []
    stmt = (
        select(
            Invoice.id,
            Invoice.merchant_id,
            Invoice.subscriber_id,
            Invoice.number,
            Invoice.total_minor,
            Invoice.currency,
        )
        .where(
            Invoice.id.in_(ids),
            Invoice.status == I.OPEN,
            Invoice.charging_attempt_id.is_(None),
            ~awaiting_review(Invoice.id),
        )
        .order_by(Invoice.id)
    )
    if merchant_id is not None:
        stmt = stmt.where(Invoice.merchant_id == merchant_id)
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    candidates = session.execute(stmt).all()
    if not candidates:
        return [], ids
    merchants = {
        m.id: m for m in session.exec(select(Merchant).where(Merchant.id.in_({row.merchant_id for row in candidates})))
    }
    customers = dict(
        session.execute(
            sa.select(Subscriber.id, Subscriber.gateway_customer_id).where(
                Subscriber.id.in_({row.subscriber_id for row in candidates})
            )
        ).all()
    )
    cards = {
        row.subscriber_id: row
        for row in session.execute(
            default_card_query(
                list(customers), PaymentMethod.subscriber_id, PaymentMethod.id, PaymentMethod.gateway_ref
            )
        )
    }
    nonces = {row.id: new_key_nonce() for row in candidates}
    rows = [
        {
            "merchant_id": row.merchant_id,
            "invoice_id": row.id,
            "payment_method_id": cards[row.subscriber_id].id if row.subscriber_id in cards else None,
            "amount_minor": row.total_minor,
            "currency": row.currency,
            "status": A.PENDING.value,
            "trigger": trigger,
            # Nothing to charge (no card or no gateway customer): the attempt is never sent, and its
            # row says so (gateway ""), so it reads as our failure, not the processor's.
            "gateway": gateway_name if _chargeable(row.subscriber_id, customers, cards) else NOT_SENT,
            "key_nonce": nonces[row.id],
            "customer_ref": customers.get(row.subscriber_id) or "",
            "created_at": now,
        }
        for row in candidates
    ]
    table = PaymentAttempt.__table__
    # One attempt per invoice in a batch: map the returned ids back by invoice id (an unordered
    # RETURNING lets SQLAlchemy send the batch as a few multi-row INSERTs).
    attempt_of = {
        invoice_id: attempt_id
        for attempt_id, invoice_id in session.execute(
            sa.insert(table).returning(table.c.id, table.c.invoice_id), rows
        ).all()
    }
    attempt_ids = [attempt_of[row.id] for row in candidates]
    # The claim: the conditional UPDATE, once per invoice (one executemany for the batch).
    inv = Invoice.__table__
    claimed = session.execute(
        sa.update(inv)
        .where(inv.c.id == sa.bindparam("b_invoice"), inv.c.status == I.OPEN.value, inv.c.charging_attempt_id.is_(None))
        .values(charging_attempt_id=sa.bindparam("b_attempt")),
        [{"b_invoice": row.id, "b_attempt": attempt_id} for row, attempt_id in zip(candidates, attempt_ids)],
    ).rowcount
    if claimed != len(candidates):  # impossible while the rows are locked; never charge on doubt
        raise RuntimeError(f"claimed {claimed} of {len(candidates)} locked invoices")
    claims = [
        ChargeClaim(
            attempt_id=attempt_id,
            invoice_id=row.id,
            merchant_id=row.merchant_id,
            subscriber_id=row.subscriber_id,
            number=row.number or "",
            amount=Money(row.total_minor, row.currency),
            customer_ref=customers.get(row.subscriber_id) or "",
            payment_method_ref=cards[row.subscriber_id].gateway_ref if row.subscriber_id in cards else "",
            idempotency_key=idempotency_key(merchants[row.merchant_id], attempt_id, nonces[row.id]),
            trigger=trigger,
        )
        for attempt_id, row in zip(attempt_ids, candidates)
    ]
    claimed_ids = {row.id for row in candidates}
    return claims, [i for i in ids if i not in claimed_ids]


def _chargeable(subscriber_id: int, customers: dict, cards: dict) -> bool:
    return bool(customers.get(subscriber_id)) and subscriber_id in cards


def awaiting_review(invoice_id: sa.ColumnElement) -> sa.Exists:
    """The invoice has an attempt waiting for a merchant's review: no automatic charge may touch it
    (a renewal, a dunning retry, a card update), whoever holds or released its claim."""
    return (
        sa.select(PaymentAttempt.id)
        .where(PaymentAttempt.invoice_id == invoice_id, PaymentAttempt.status == A.REVIEW.value)
        .exists()
    )


# --- step 2: the gateway call (no transaction open) ------------------------------------------


def send_charge(gateway: PaymentGateway, claim: ChargeClaim) -> ChargeResult:
    """The charge request of a claim, exactly as first sent; settlement replays it under the same key."""
    return gateway.charge(
        customer_ref=claim.customer_ref,
        payment_method_ref=claim.payment_method_ref,
        amount_minor=claim.amount.amount_minor,
        currency=claim.amount.currency,
        idempotency_key=claim.idempotency_key,
        description=claim.description,
    )


def _call_gateway(gateway: PaymentGateway, claim: ChargeClaim) -> ChargeResult:
    if not claim.payment_method_ref or not claim.customer_ref:
        # Nothing to charge, so nothing is sent (the attempt row says gateway ""): our failure, recorded
        # as a soft decline so dunning runs its course and the email asks the customer to add a card.
        return ChargeResult(
            ChargeOutcome.DECLINED, decline_code=NO_PAYMENT_METHOD, message="not sent: no payment method on file"
        )
    try:
        return send_charge(gateway, claim)
    except Exception as exc:  # noqa: BLE001 - a timeout or a crash inside the client: the charge may have happened
        log.warning("gateway error on attempt %s: %r", claim.attempt_id, exc)
        return ChargeResult(ChargeOutcome.ERROR, message=str(exc)[:300] or exc.__class__.__name__)


# --- the services ----------------------------------------------------------------------------


def charge_invoices(
    engine: sa.Engine,
    invoice_ids: Sequence[int],
    *,
    merchant_id: int | None,
    trigger: str,
    gateway: PaymentGateway,
    now: datetime,
) -> list[ChargeInvoiceResult]:
    """Charge open invoices (claim, gateway, record), in batches; one result per invoice id, in order.

    merchant_id scopes the ids to one merchant (portal and console); only the billing run, which
    works across merchants, passes None.
    """
    ids = list(dict.fromkeys(invoice_ids))
    results: dict[int, ChargeInvoiceResult] = {}
    for start in range(0, len(ids), CLAIM_BATCH):
        batch = ids[start : start + CLAIM_BATCH]
        with new_session(engine) as session, session.begin():
            claims, skipped = claim_invoices(
                session, batch, merchant_id=merchant_id, trigger=trigger, gateway_name=gateway.name, now=now
            )
        results.update(
            {c.invoice_id: r for c, r in zip(claims, charge_claims(engine, claims, gateway=gateway, now=now))}
        )
        results.update(_describe_unclaimed(engine, skipped, merchant_id=merchant_id))
    return [results[i] for i in ids if i in results]


def charge_claims(
    engine: sa.Engine, claims: list[ChargeClaim], *, gateway: PaymentGateway, now: datetime
) -> list[ChargeInvoiceResult]:
    """Steps 2 and 3 for claims already committed (the billing run claims inside its renewal transaction)."""
    if not claims:
        return []
    outcomes = [(claim, _call_gateway(gateway, claim)) for claim in claims]
    try:
        by_attempt = record_outcomes(engine, outcomes, now=now)
    except Exception:
        log.exception("recording %d charge outcomes failed; the attempts stay unknown", len(outcomes))
        mark_unknown(engine, [claim.attempt_id for claim in claims])
        return [
            ChargeInvoiceResult(PaymentOutcome.UNKNOWN, c.invoice_id, c.number, c.amount, attempt_id=c.attempt_id)
            for c in claims
        ]
    refund_unapplied(engine, by_attempt.values(), gateway=gateway, now=now)
    return [by_attempt[claim.attempt_id] for claim in claims]


def refund_unapplied(engine: sa.Engine, results, *, gateway: PaymentGateway, now: datetime) -> None:
    """Refund the charges that moved money but could not pay their invoice (payments/refunds.py)."""
    held = [r.attempt_id for r in results if r.outcome is PaymentOutcome.NOT_PAYABLE and r.attempt_id is not None]
    if held:
        refund_held_charges(engine, gateway=gateway, now=now, attempt_ids=held)


def _describe_unclaimed(
    engine: sa.Engine, invoice_ids: list[int], *, merchant_id: int | None
) -> dict[int, ChargeInvoiceResult]:
    if not invoice_ids:
        return {}
    with new_session(engine) as session, session.begin():
        stmt = sa.select(Invoice, awaiting_review(Invoice.id)).where(Invoice.id.in_(invoice_ids))
        if merchant_id is not None:
            stmt = stmt.where(Invoice.merchant_id == merchant_id)
        found = {
            inv.id: _result_for_state(
                inv.id, inv.number, Money(inv.total_minor, inv.currency), inv.status, in_review=in_review
            )
            for inv, in_review in session.execute(stmt)
        }
    for missing in set(invoice_ids) - set(found):
        found[missing] = ChargeInvoiceResult(PaymentOutcome.NOT_PAYABLE, missing, "", None)
    return found


def charge_invoice(
    engine: sa.Engine, invoice_id: int, *, merchant_id: int | None, trigger: str, gateway: PaymentGateway, now: datetime
) -> ChargeInvoiceResult:
    """Charge one open invoice with the subscriber's default card. Safe to call from racing workers:
    at most one of them charges, the others get IN_PROGRESS or ALREADY_PAID."""
    (result,) = charge_invoices(
        engine, [invoice_id], merchant_id=merchant_id, trigger=trigger, gateway=gateway, now=now
    )
    return result
