"""Charging invoices, settling unknown outcomes, and saving cards.

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

import dataclasses
import functools
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing import dunning
from portal_app.billing.audit import audit
from portal_app.billing.emails.outbox import queue_emails
from portal_app.billing.errors import NotFound
from portal_app.billing.gateways.base import (
    CardDetails,
    ChargeOutcome,
    ChargeResult,
    PaymentGateway,
    SetupOutcome,
    SetupResult,
)
from portal_app.billing.invoices import reactivate_paid_up_subscriptions
from portal_app.billing.money import Money
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, check_transition, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.db import is_postgres, new_session
from portal_app.models import Invoice, Merchant, PaymentAttempt, PaymentMethod, Subscriber

log = logging.getLogger(__name__)

A, I = AttemptStatus, InvoiceStatus

# A pending attempt older than this lost its worker (crash between gateway call and commit):
# no gateway call takes that long, so settling it cannot race a charge still in flight.
PENDING_GRACE = timedelta(minutes=15)
# Claims per transaction in batch charging (a billing run charges thousands of invoices).
CLAIM_BATCH = 500


class PaymentOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    DECLINED = "declined"
    REQUIRES_ACTION = "requires_action"  # the bank wants the customer to authenticate (3DS)
    UNKNOWN = "unknown"  # sent, no answer yet: settled by lookup later, never charged again
    IN_PROGRESS = "in_progress"  # another worker holds the claim right now
    ALREADY_PAID = "already_paid"
    NOT_PAYABLE = "not_payable"  # draft, void or uncollectible


# What we tell the customer for a decline code (Stripe's names); never the bank's raw text.
_CHECK_BANK = "Your bank declined the payment. Please check with your bank, or use another card."
_USE_ANOTHER = "This card can't be used. Please use another card."
DECLINE_MESSAGES: dict[str, str] = {
    "insufficient_funds": "Your bank declined the payment for insufficient funds. Please check with your bank, "
    "or use another card.",
    "generic_decline": _CHECK_BANK,
    "do_not_honor": _CHECK_BANK,
    "card_declined": _CHECK_BANK,
    "expired_card": "Your card has expired. Please use another card.",
    "incorrect_cvc": "Your card's security code was rejected. Please use another card.",
    "invalid_cvc": "Your card's security code was rejected. Please use another card.",
    "incorrect_number": "The card number is incorrect. Please check it, or use another card.",
    "invalid_expiry": "The card's expiry date is invalid. Please check it, or use another card.",
    "lost_card": _USE_ANOTHER,
    "stolen_card": _USE_ANOTHER,
    "pickup_card": _USE_ANOTHER,
    "restricted_card": _USE_ANOTHER,
    "fraudulent": _USE_ANOTHER,
    "do_not_try_again": _USE_ANOTHER,
    "test_mode_live_card": "This is test mode: use a test card such as 4242 4242 4242 4242.",
    "authentication_required": "Your bank asks you to confirm this payment. Please enter your card again and "
    "approve it with your bank.",
    "authentication_failed": "Your bank could not confirm the card. Please try again, or use another card.",
    "resource_missing": "Your saved card is no longer available. Please add a card.",
    "no_payment_method": "There is no card on file. Please add a card.",
    "processing_error": "The payment could not be processed. Please try again in a little while.",
}


def decline_message(decline_code: str) -> str:
    """Human text for a decline code (unknown codes read as a plain bank decline)."""
    return DECLINE_MESSAGES.get(decline_code or "", _CHECK_BANK)


_STATIC_MESSAGES = {
    "unknown": "We couldn't confirm this payment yet. We'll check with the payment processor shortly; "
    "you won't be charged twice.",
    "in_progress": "A payment for this invoice is already in progress.",
    "already_paid": "This invoice is already paid.",
    "not_payable": "This invoice can't be paid.",
}


@dataclasses.dataclass(frozen=True)
class ChargeInvoiceResult:
    """What one charge try did, ready for the portal to show (`message` is the human text)."""

    outcome: PaymentOutcome
    invoice_id: int
    invoice_number: str
    amount: Money | None
    attempt_id: int | None = None  # None: we did not charge (paid already, someone else charging, ...)
    decline_code: str = ""
    hard_decline: bool = False
    action_url: str = ""  # where the customer authenticates (REQUIRES_ACTION)
    next_retry_at: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is PaymentOutcome.SUCCEEDED

    @property
    def paid(self) -> bool:
        """The invoice is paid now (by this try or an earlier one)."""
        return self.outcome in (PaymentOutcome.SUCCEEDED, PaymentOutcome.ALREADY_PAID)

    @property
    def message(self) -> str:
        # Computed on demand: a billing run produces thousands of results nobody reads.
        if self.outcome is PaymentOutcome.SUCCEEDED:
            return f"Payment of {self.amount.format()} received for invoice {self.invoice_number}. Thank you!"
        if self.outcome in (PaymentOutcome.DECLINED, PaymentOutcome.REQUIRES_ACTION):
            return decline_message(self.decline_code)
        return _STATIC_MESSAGES[self.outcome.value]


@dataclasses.dataclass(frozen=True)
class ChargeClaim:
    """A claimed invoice with everything the gateway call and the outcome need."""

    attempt_id: int
    invoice_id: int
    merchant_id: int
    subscriber_id: int
    number: str
    amount: Money
    customer_ref: str
    payment_method_ref: str  # "" when the subscriber has no card on file
    idempotency_key: str
    trigger: str


def idempotency_key(merchant: Merchant, attempt_id: int) -> str:
    """The gateway key of an attempt: re-derivable from rows, so a lookup finds the same charge.

    Attempt ids start again at 1 in every new database (tests, demo resets) while a gateway account
    lives on, so the key also carries the merchant's creation instant.
    """
    return f"m{merchant.id}-{merchant.created_at:%Y%m%d%H%M%S%f}-attempt-{attempt_id}"


def _result_for_state(invoice_id: int, number: str | None, amount: Money | None, status: str) -> ChargeInvoiceResult:
    """The answer for an invoice we did not claim."""
    if status == I.PAID:
        outcome = PaymentOutcome.ALREADY_PAID
    elif status == I.OPEN:
        # Open but not ours: claimed by another worker (or being claimed: PostgreSQL skipped its lock).
        outcome = PaymentOutcome.IN_PROGRESS
    else:
        outcome = PaymentOutcome.NOT_PAYABLE
    return ChargeInvoiceResult(outcome, invoice_id, number or "", amount)


# --- step 1: claim ---------------------------------------------------------------------------


def _default_card_query(subscriber_ids, *columns):
    """Newest-last default, attached cards of these subscribers (later ids win in a dict)."""
    return (
        sa.select(*columns)
        .where(
            PaymentMethod.subscriber_id.in_(subscriber_ids),
            PaymentMethod.is_default.is_(True),
            PaymentMethod.detached_at.is_(None),
        )
        .order_by(PaymentMethod.id)
    )


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
        .where(Invoice.id.in_(ids), Invoice.status == I.OPEN, Invoice.charging_attempt_id.is_(None))
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
            _default_card_query(
                list(customers), PaymentMethod.subscriber_id, PaymentMethod.id, PaymentMethod.gateway_ref
            )
        )
    }
    rows = [
        {
            "merchant_id": row.merchant_id,
            "invoice_id": row.id,
            "payment_method_id": cards[row.subscriber_id].id if row.subscriber_id in cards else None,
            "amount_minor": row.total_minor,
            "currency": row.currency,
            "status": A.PENDING.value,
            "trigger": trigger,
            "gateway": gateway_name,
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
            idempotency_key=idempotency_key(merchants[row.merchant_id], attempt_id),
            trigger=trigger,
        )
        for attempt_id, row in zip(attempt_ids, candidates)
    ]
    claimed_ids = {row.id for row in candidates}
    return claims, [i for i in ids if i not in claimed_ids]


# --- step 2: the gateway call (no transaction open) ------------------------------------------


def _call_gateway(gateway: PaymentGateway, claim: ChargeClaim) -> ChargeResult:
    if not claim.payment_method_ref or not claim.customer_ref:
        # Nothing to charge: a soft decline, so dunning runs its course while the customer adds a card.
        return ChargeResult(
            ChargeOutcome.DECLINED, decline_code="no_payment_method", message=decline_message("no_payment_method")
        )
    try:
        return gateway.charge(
            customer_ref=claim.customer_ref,
            payment_method_ref=claim.payment_method_ref,
            amount_minor=claim.amount.amount_minor,
            currency=claim.amount.currency,
            idempotency_key=claim.idempotency_key,
            description=f"Invoice {claim.number}",
        )
    except Exception as exc:  # noqa: BLE001 - a timeout or a crash inside the client: the charge may have happened
        log.warning("gateway error on attempt %s: %r", claim.attempt_id, exc)
        return ChargeResult(ChargeOutcome.ERROR, message=str(exc)[:300] or exc.__class__.__name__)


# --- step 3: record outcomes -----------------------------------------------------------------


def _record_outcomes(
    engine: sa.Engine, outcomes: list[tuple[ChargeClaim, ChargeResult | None]], *, now: datetime
) -> dict[int, ChargeInvoiceResult]:
    """Apply gateway answers in one transaction; returns results by attempt id.

    A `None` answer comes from settlement: the gateway never saw the key, so the attempt failed
    without charging and the invoice may be tried again.
    """
    results: dict[int, ChargeInvoiceResult] = {}
    with new_session(engine) as session, session.begin():
        lock = sa.select(PaymentAttempt.id, PaymentAttempt.status).where(
            PaymentAttempt.id.in_([claim.attempt_id for claim, _ in outcomes])
        )
        if is_postgres(session):
            lock = lock.with_for_update()
        status_of = dict(session.execute(lock).all())
        paid, others = [], []
        for claim, answer in outcomes:
            status = status_of.get(claim.attempt_id)
            if status not in (A.PENDING, A.UNKNOWN):
                # Settled meanwhile by someone else (a concurrent settle): report it, change nothing.
                results[claim.attempt_id] = _result_from_attempt(session, claim)
            elif answer is not None and answer.outcome is ChargeOutcome.SUCCEEDED:
                paid.append((claim, answer, status))
            else:
                others.append((claim, answer))
        results.update(_record_successes(session, paid, now=now))
        for claim, answer in others:
            results[claim.attempt_id] = _record_other(session, claim, answer, now=now)
    return results


def _record_successes(
    session: Session, paid: list[tuple[ChargeClaim, ChargeResult, str]], *, now: datetime
) -> dict[int, ChargeInvoiceResult]:
    """Successful charges in bulk: attempt succeeded, invoice paid, claim released, receipt sent.

    Bulk statements instead of transition(): each move is validated against the status table
    first, and every UPDATE pins the current status in its WHERE, so only validated moves apply.
    """
    if not paid:
        return {}
    att, inv = PaymentAttempt.__table__, Invoice.__table__
    for status in {status for _, _, status in paid}:
        check_transition(AttemptStatus, status, A.SUCCEEDED)
    check_transition(InvoiceStatus, I.OPEN, I.PAID)
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
    subscription_ids = []
    for start in range(0, len(paid), 1000):
        invoice_ids = [c.invoice_id for c, _, _ in paid[start : start + 1000]]
        attempt_ids = [c.attempt_id for c, _, _ in paid[start : start + 1000]]
        # Money moved, so the invoice is paid whatever dunning said; only the claim holder settles it.
        session.execute(
            sa.update(inv)
            .where(inv.c.id.in_(invoice_ids), inv.c.status == I.OPEN.value, inv.c.charging_attempt_id.in_(attempt_ids))
            .values(status=I.PAID.value, paid_at=now, next_retry_at=None, charging_attempt_id=None, pdf_bytes=None)
        )
        subscription_ids += (
            session.execute(sa.select(inv.c.subscription_id).where(inv.c.id.in_(invoice_ids))).scalars().all()
        )
        # Earlier attempts still waiting for 3DS are moot once the invoice is paid.
        session.execute(
            sa.update(att)
            .where(att.c.invoice_id.in_(invoice_ids), att.c.status == A.REQUIRES_ACTION.value)
            .values(status=A.FAILED.value, failure_message="superseded by a successful payment", settled_at=now)
        )
    reactivate_paid_up_subscriptions(session, subscription_ids, now=now)
    _send_receipts(session, [c for c, _, _ in paid], now=now)
    return {
        c.attempt_id: ChargeInvoiceResult(
            PaymentOutcome.SUCCEEDED, c.invoice_id, c.number, c.amount, attempt_id=c.attempt_id
        )
        for c, _, _ in paid
    }


def _send_receipts(session: Session, paid: list[ChargeClaim], *, now: datetime) -> None:
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
        session.add(attempt)
        return result(PaymentOutcome.UNKNOWN)
    if holds_claim:
        invoice.charging_attempt_id = None
    if answer is None:
        # The gateway never saw this key: nothing was charged. A gateway problem is not the customer's
        # fault, so it does not count as a dunning try; a first charge is retried by the next run.
        transition(attempt, A.FAILED)
        attempt.decline_code = "processing_error"
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
        attempt.decline_code = (answer.decline_code or "authentication_required")[:40]
        outcome = PaymentOutcome.REQUIRES_ACTION
    else:
        transition(attempt, A.FAILED)
        attempt.decline_code = (answer.decline_code or "generic_decline")[:40]
        attempt.hard_decline = bool(answer.hard)
        outcome = PaymentOutcome.DECLINED
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
    outcome = PaymentOutcome.REQUIRES_ACTION if attempt.status == A.REQUIRES_ACTION else PaymentOutcome.DECLINED
    return result(outcome, decline_code=attempt.decline_code, hard_decline=attempt.hard_decline)


def _mark_unknown(engine: sa.Engine, attempt_ids: list[int]) -> None:
    """After a failure while recording: pending -> unknown, claims kept. Best effort; a pending
    attempt left behind is settled after PENDING_GRACE just the same."""
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
        by_attempt = _record_outcomes(engine, outcomes, now=now)
    except Exception:
        log.exception("recording %d charge outcomes failed; the attempts stay unknown", len(outcomes))
        _mark_unknown(engine, [claim.attempt_id for claim in claims])
        return [
            ChargeInvoiceResult(PaymentOutcome.UNKNOWN, c.invoice_id, c.number, c.amount, attempt_id=c.attempt_id)
            for c in claims
        ]
    return [by_attempt[claim.attempt_id] for claim in claims]


def _describe_unclaimed(
    engine: sa.Engine, invoice_ids: list[int], *, merchant_id: int | None
) -> dict[int, ChargeInvoiceResult]:
    if not invoice_ids:
        return {}
    with new_session(engine) as session, session.begin():
        stmt = select(Invoice).where(Invoice.id.in_(invoice_ids))
        if merchant_id is not None:
            stmt = stmt.where(Invoice.merchant_id == merchant_id)
        found = {
            inv.id: _result_for_state(inv.id, inv.number, Money(inv.total_minor, inv.currency), inv.status)
            for inv in session.exec(stmt)
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


def retry_open_invoices(
    engine: sa.Engine,
    subscriber_id: int,
    merchant_id: int,
    gateway: PaymentGateway,
    now: datetime,
    *,
    trigger: str = "card_update",
) -> list[ChargeInvoiceResult]:
    """Charge every open invoice of the subscriber at once, oldest first (after a card update,
    while the customer waits). Invoices another worker is charging come back IN_PROGRESS."""
    with new_session(engine) as session, session.begin():
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        ids = list(
            session.execute(
                sa.select(Invoice.id)
                .where(
                    Invoice.merchant_id == merchant_id, Invoice.subscriber_id == subscriber_id, Invoice.status == I.OPEN
                )
                .order_by(Invoice.finalized_at, Invoice.id)
            ).scalars()
        )
    return charge_invoices(engine, ids, merchant_id=merchant_id, trigger=trigger, gateway=gateway, now=now)


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
    by_attempt = _record_outcomes(engine, answered, now=now)
    results = tuple(by_attempt[c.attempt_id] for c, _ in answered)
    return SettleSummary(
        checked=len(claims),
        succeeded=sum(r.outcome is PaymentOutcome.SUCCEEDED for r in results),
        failed=sum(r.outcome in (PaymentOutcome.DECLINED, PaymentOutcome.REQUIRES_ACTION) for r in results),
        still_unknown=still_unknown,
        results=results,
    )


# --- cards -----------------------------------------------------------------------------------


class CardUpdateOutcome(StrEnum):
    UPDATED = "updated"
    REQUIRES_ACTION = "requires_action"  # show the bank's challenge, then confirm_payment_method_setup
    DECLINED = "declined"
    ERROR = "error"


@dataclasses.dataclass(frozen=True)
class CardSummary:
    """What the portal shows about a saved card."""

    payment_method_id: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    @classmethod
    def from_row(cls, pm: PaymentMethod) -> CardSummary:
        return cls(pm.id, pm.brand, pm.last4, pm.exp_month, pm.exp_year)


@dataclasses.dataclass(frozen=True)
class CardUpdateResult:
    """The card update, then the result of retrying each open invoice with the new card."""

    outcome: CardUpdateOutcome
    message: str
    card: CardSummary | None = None
    setup_ref: str = ""  # keep server-side; pass back to confirm_payment_method_setup
    decline_code: str = ""
    charges: tuple[ChargeInvoiceResult, ...] = ()

    @property
    def all_paid(self) -> bool:
        return all(c.paid for c in self.charges)


def expiry_instant(exp_month: int, exp_year: int) -> datetime:
    """A card works through the last day of its expiry month: this is the first instant after."""
    year, month = (exp_year + 1, 1) if exp_month == 12 else (exp_year, exp_month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def card_expires_at(pm: PaymentMethod) -> datetime:
    return expiry_instant(pm.exp_month, pm.exp_year)


def card_is_expired(pm: PaymentMethod, now: datetime) -> bool:
    return card_expires_at(pm) <= now


def card_expires_soon(pm: PaymentMethod, now: datetime, *, days: int = 30) -> bool:
    """Expires within `days` (and has not expired yet): time to ask for a new card."""
    return now < card_expires_at(pm) <= now + timedelta(days=days)


def default_payment_method(session: Session, *, merchant_id: int, subscriber_id: int) -> PaymentMethod | None:
    get_scoped(session, Subscriber, subscriber_id, merchant_id)
    cards = session.execute(_default_card_query([subscriber_id], PaymentMethod)).scalars().all()
    return cards[-1] if cards else None


def _ensure_customer(
    engine: sa.Engine, subscriber: Subscriber, gateway: PaymentGateway, *, replace: bool = False
) -> str:
    """The subscriber's gateway customer, created on first use (outside any transaction)."""
    if subscriber.gateway_customer_id and not replace:
        return subscriber.gateway_customer_id
    ref = gateway.create_customer(
        email=subscriber.email,
        name=subscriber.name,
        metadata={"subscriber_id": str(subscriber.id), "merchant_id": str(subscriber.merchant_id)},
    )
    with new_session(engine) as session, session.begin():
        table = Subscriber.__table__
        expected = subscriber.gateway_customer_id or ""
        # Conditional: if a concurrent update stored a customer first, use theirs.
        stored = session.execute(
            sa.update(table)
            .where(table.c.id == subscriber.id, table.c.gateway_customer_id == expected)
            .values(gateway_customer_id=ref)
        ).rowcount
        if not stored:
            ref = session.execute(
                sa.select(table.c.gateway_customer_id).where(table.c.id == subscriber.id)
            ).scalar_one()
    subscriber.gateway_customer_id = ref
    return ref


def _make_default_card(session: Session, pm: PaymentMethod) -> None:
    """pm becomes the subscriber's only default card."""
    table = PaymentMethod.__table__
    session.execute(
        sa.update(table)
        .where(table.c.subscriber_id == pm.subscriber_id, table.c.id != pm.id, table.c.is_default.is_(True))
        .values(is_default=False)
    )
    if not pm.is_default:
        pm.is_default = True
        session.add(pm)


def _save_card(
    engine: sa.Engine, subscriber: Subscriber, card: CardDetails, gateway: PaymentGateway, *, actor: str, now: datetime
) -> PaymentMethod:
    """Store brand/last4/expiry/reference and make it the default card.

    Idempotent per gateway reference: the browser and a setup_intent.succeeded webhook may both
    save the same card at once; the subscriber row lock makes the second one reuse the first row.
    """
    with new_session(engine) as session, session.begin():
        get_scoped(session, Subscriber, subscriber.id, subscriber.merchant_id, for_update=True)
        existing = session.exec(
            select(PaymentMethod).where(
                PaymentMethod.subscriber_id == subscriber.id,
                PaymentMethod.gateway_ref == card.gateway_ref,
                PaymentMethod.detached_at.is_(None),
            )
        ).first()
        if existing is not None:
            _make_default_card(session, existing)
            return existing
        pm = PaymentMethod(
            merchant_id=subscriber.merchant_id,
            subscriber_id=subscriber.id,
            gateway=gateway.name,
            gateway_ref=card.gateway_ref,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            is_default=True,
            created_at=now,
        )
        session.add(pm)
        session.flush()
        _make_default_card(session, pm)
        audit(
            session,
            merchant_id=subscriber.merchant_id,
            subscriber_id=subscriber.id,
            actor=actor,
            kind="payment_method_updated",
            detail={"brand": card.brand, "last4": card.last4, "exp": f"{card.exp_month:02d}/{card.exp_year}"},
            now=now,
        )
    return pm


def _finish_card_update(engine, subscriber, setup: SetupResult, gateway, *, actor, now) -> CardUpdateResult:
    if setup.outcome is SetupOutcome.SUCCEEDED and setup.card is not None:
        pm = _save_card(engine, subscriber, setup.card, gateway, actor=actor, now=now)
        charges = retry_open_invoices(engine, subscriber.id, subscriber.merchant_id, gateway, now)
        message = f"Your {setup.card.brand.title()} ending in {setup.card.last4} is saved."
        if charges:
            paid = sum(c.paid for c in charges)
            message += (
                f" {paid} of {len(charges)} open invoice(s) paid."
                if paid < len(charges)
                else " Your open invoices are paid."
            )
        return CardUpdateResult(
            CardUpdateOutcome.UPDATED, message, card=CardSummary.from_row(pm), charges=tuple(charges)
        )
    if setup.outcome is SetupOutcome.REQUIRES_ACTION:
        return CardUpdateResult(
            CardUpdateOutcome.REQUIRES_ACTION,
            setup.message or "Your bank asks you to confirm this card.",
            setup_ref=setup.setup_ref,
        )
    if setup.outcome is SetupOutcome.DECLINED:
        # Our wording (with the likely fix) over the gateway's terse text.
        return CardUpdateResult(
            CardUpdateOutcome.DECLINED,
            decline_message(setup.decline_code) if setup.decline_code else setup.message,
            decline_code=setup.decline_code,
        )
    return CardUpdateResult(CardUpdateOutcome.ERROR, "We couldn't reach the payment processor. Please try again.")


def update_payment_method(
    engine: sa.Engine,
    *,
    merchant_id: int,
    subscriber_id: int,
    card_input: dict[str, str],
    gateway: PaymentGateway,
    now: datetime,
    actor: str = "subscriber",
) -> CardUpdateResult:
    """Save a new default card, then retry every open invoice with it at once.

    3DS cards answer REQUIRES_ACTION with a setup_ref: show the challenge, then call
    confirm_payment_method_setup. Nothing about the card is stored before the gateway accepts it.
    """
    with new_session(engine) as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        session.expunge(subscriber)
    customer_ref = _ensure_customer(engine, subscriber, gateway)
    try:
        setup = gateway.attach_card(customer_ref=customer_ref, card_input=card_input)
        if setup.outcome is SetupOutcome.DECLINED and setup.decline_code == "resource_missing":
            # The gateway lost our customer (deleted in its dashboard, or a test-mode reset): make a new one.
            customer_ref = _ensure_customer(engine, subscriber, gateway, replace=True)
            setup = gateway.attach_card(customer_ref=customer_ref, card_input=card_input)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("attach_card failed for subscriber %s: %r", subscriber_id, exc)
        return CardUpdateResult(CardUpdateOutcome.ERROR, "We couldn't reach the payment processor. Please try again.")
    return _finish_card_update(engine, subscriber, setup, gateway, actor=actor, now=now)


def confirm_payment_method_setup(
    engine: sa.Engine,
    *,
    merchant_id: int,
    subscriber_id: int,
    setup_ref: str,
    approved: bool,
    gateway: PaymentGateway,
    now: datetime,
    actor: str = "subscriber",
) -> CardUpdateResult:
    """Finish a 3DS card setup (setup_ref from the server-side session), then retry open invoices."""
    with new_session(engine) as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        session.expunge(subscriber)
    if not setup_ref:
        raise NotFound("No card confirmation is waiting.")
    try:
        setup = gateway.confirm_setup(setup_ref=setup_ref, approved=approved)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("confirm_setup failed for subscriber %s: %r", subscriber_id, exc)
        return CardUpdateResult(CardUpdateOutcome.ERROR, "We couldn't reach the payment processor. Please try again.")
    return _finish_card_update(engine, subscriber, setup, gateway, actor=actor, now=now)


def payment_attempts(
    session: Session, *, merchant_id: int, subscriber_id: int, limit: int = 50
) -> list[PaymentAttempt]:
    """The subscriber's payment history, newest first."""
    return list(
        session.exec(
            select(PaymentAttempt)
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
            .where(PaymentAttempt.merchant_id == merchant_id, Invoice.subscriber_id == subscriber_id)
            .order_by(PaymentAttempt.created_at.desc(), PaymentAttempt.id.desc())
            .limit(limit)
        )
    )
