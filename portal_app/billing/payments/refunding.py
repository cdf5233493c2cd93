"""Refunding (part of) a paid invoice: write the refund, call the gateway, record; a credit note on success.

The protocol, like charging's (payments/charging.py):

1. In one short transaction with the invoice row locked (PostgreSQL FOR UPDATE; SQLite's BEGIN
   IMMEDIATE write lock): the invoice must be paid by a charge, and the amount 1 .. (charged - every
   refund not failed). Pending and unknown refunds count as given back, so two concurrent refunds can
   never together exceed the charge. A `pending` Refund row is written and committed: its id and
   key_nonce make the gateway idempotency key.
2. Call the gateway outside any transaction.
3. Record in a new transaction: succeeded -> a CreditNote (numbered, PDF stored), audit, webhook event
   `credit_note.issued`, an email to the subscriber; failed -> failed with the gateway's words; no
   answer (timeout, exception) -> `unknown`. Unknown refunds (and pending ones a crash left behind) are
   settled by the billing run, which replays the same request under the same key: the gateway answers
   the first result and never refunds twice.

The invoice itself is never edited: what was refunded of it is summed from its refunds and credit notes.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.credit_notes import issue_credit_note
from portal_app.billing.emails.notice_keys import credit_note_key
from portal_app.billing.errors import BillingError
from portal_app.billing.gateways.base import PaymentGateway, RefundResult
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import CreditNoteObject
from portal_app.billing.payments.attempts import new_key_nonce
from portal_app.billing.portal_links import is_subscriber_deleted
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, RefundStatus, transition
from portal_app.billing.tenancy import get_scoped
from portal_app.billing.webhooks_out.events import record_event
from portal_app.db import is_postgres, new_session
from portal_app.models import CreditNote, Invoice, Merchant, PaymentAttempt, Refund, Subscriber

log = logging.getLogger(__name__)

R = RefundStatus
REASON_MAX = 500
GATEWAY_REASON = "requested_by_customer"  # Stripe's reason; ours (free text) stays on the refund and note
# Statuses whose amount is no longer refundable: done, or possibly done (in flight, no answer yet).
HELD_STATUSES = (R.PENDING.value, R.SUCCEEDED.value, R.UNKNOWN.value)
# A pending refund older than this was left by a crash between the commit and the gateway's answer.
STALE_PENDING = timedelta(minutes=10)


class RefundError(BillingError):
    """A refund that cannot be made; code: not_paid | no_charge | invalid_amount | exceeds_refundable."""

    code = "refund_refused"


class RefundOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNKNOWN = "unknown"  # no answer yet: settled by the billing run under the same key


@dataclasses.dataclass(frozen=True)
class RefundResultInfo:
    """What one refund did, as codes and numbers (the edge words it)."""

    outcome: RefundOutcome
    refund_id: int
    amount: Money
    invoice_number: str
    credit_note_id: int | None = None
    credit_note_number: str = ""
    message: str = ""  # the gateway's words when it failed (for the merchant)


@dataclasses.dataclass(frozen=True)
class Refundable:
    """What is left to refund of an invoice: charged minus every refund not failed."""

    invoice_id: int
    currency: str
    charged_minor: int
    refunded_minor: int  # succeeded
    held_minor: int  # succeeded + pending + unknown

    @property
    def left_minor(self) -> int:
        return max(0, self.charged_minor - self.held_minor)


def refund_key(merchant_id: int, refund: Refund) -> str:
    """The gateway idempotency key of a refund: m<merchant>-<20 random digits>-refund-<id>."""
    return f"m{merchant_id}-{refund.key_nonce}-refund-{refund.id}"


def paying_attempt(session: Session, invoice_id: int) -> PaymentAttempt | None:
    """The succeeded charge that paid the invoice (None: paid without a charge, e.g. by hand)."""
    return session.exec(
        select(PaymentAttempt)
        .where(
            PaymentAttempt.invoice_id == invoice_id,
            PaymentAttempt.status == AttemptStatus.SUCCEEDED,
            PaymentAttempt.gateway_ref != "",
        )
        .order_by(PaymentAttempt.id.desc())
    ).first()


def refund_sums(session: Session, invoice_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{invoice id: (succeeded, held)} minor units refunded of each invoice (absent: nothing)."""
    if not invoice_ids:
        return {}
    succeeded = sa.func.sum(sa.case((Refund.status == R.SUCCEEDED.value, Refund.amount_minor), else_=0))
    held = sa.func.sum(Refund.amount_minor)
    rows = session.execute(
        sa.select(Refund.invoice_id, succeeded, held)
        .where(Refund.invoice_id.in_(invoice_ids), Refund.status.in_(HELD_STATUSES))
        .group_by(Refund.invoice_id)
    )
    return {invoice_id: (int(done or 0), int(held_sum or 0)) for invoice_id, done, held_sum in rows}


def refundables(session: Session, invoices: list[Invoice]) -> dict[int, Refundable]:
    """refundable() of many invoices in two queries (the console profile lists up to a hundred)."""
    paid_ids = [inv.id for inv in invoices if inv.status == InvoiceStatus.PAID]
    charged: dict[int, int] = {}
    if paid_ids:
        for invoice_id, amount in session.execute(
            sa.select(PaymentAttempt.invoice_id, PaymentAttempt.amount_minor)
            .where(
                PaymentAttempt.invoice_id.in_(paid_ids),
                PaymentAttempt.status == AttemptStatus.SUCCEEDED,
                PaymentAttempt.gateway_ref != "",
            )
            .order_by(PaymentAttempt.id)
        ):
            charged[invoice_id] = amount  # the newest, as paying_attempt() picks
    sums = refund_sums(session, paid_ids)
    return {
        inv.id: Refundable(inv.id, inv.currency, charged.get(inv.id, 0), *sums.get(inv.id, (0, 0))) for inv in invoices
    }


def refundable(session: Session, invoice: Invoice) -> Refundable:
    attempt = paying_attempt(session, invoice.id) if invoice.status == InvoiceStatus.PAID else None
    done, held = refund_sums(session, [invoice.id]).get(invoice.id, (0, 0))
    charged = attempt.amount_minor if attempt is not None else 0
    return Refundable(invoice.id, invoice.currency, charged, done, held)


def _check_amount(amount_minor: object) -> int:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise RefundError("Enter an amount greater than zero.", code="invalid_amount", field="amount")
    return amount_minor


def _clean_reason(reason: object) -> str:
    if not isinstance(reason, str):
        raise RefundError("The reason must be text.", code="invalid_reason", field="reason")
    reason = " ".join(reason.split())  # one line: no control characters
    if len(reason) > REASON_MAX:
        raise RefundError(f"Keep the reason under {REASON_MAX} characters.", code="invalid_reason", field="reason")
    return reason


# --- step 1: write the refund under the invoice's lock ---------------------------------------------


def _begin_refund(
    engine: sa.Engine,
    *,
    merchant_id: int,
    invoice_id: int,
    amount_minor: int,
    reason: str,
    actor: str,
    now: datetime,
    gateway_name: str,
) -> tuple[Refund, PaymentAttempt, Invoice]:
    with new_session(engine) as session, session.begin():
        invoice = get_scoped(session, Invoice, invoice_id, merchant_id, for_update=is_postgres(session))
        if invoice.status != InvoiceStatus.PAID:
            raise RefundError("Only paid invoices can be refunded.", code="not_paid")
        attempt = paying_attempt(session, invoice.id)
        if attempt is None:
            raise RefundError("This invoice was not paid by a card charge: nothing to refund.", code="no_charge")
        if attempt.gateway != gateway_name:
            raise RefundError(
                "This invoice was paid through another payment processor: refund it there.", code="other_gateway"
            )
        left = refundable(session, invoice).left_minor
        if amount_minor > left:
            raise RefundError(
                f"At most {Money(left, invoice.currency).format('en')} of this invoice can be refunded.",
                code="exceeds_refundable",
                field="amount",
            )
        refund = Refund(
            merchant_id=merchant_id,
            invoice_id=invoice.id,
            payment_attempt_id=attempt.id,
            amount_minor=amount_minor,
            currency=invoice.currency,
            reason=reason,
            status=R.PENDING.value,
            gateway=attempt.gateway,
            key_nonce=new_key_nonce(),
            actor=actor[:60],
            created_at=now,
        )
        session.add(refund)
        session.flush()
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=invoice.subscriber_id,
            actor=actor,
            kind="refund_requested",
            detail={
                "refund_id": refund.id,
                "invoice": invoice.number,
                "amount_minor": amount_minor,
                "currency": invoice.currency,
                "reason": reason,
            },
            now=now,
        )
        session.flush()
        session.expunge_all()  # plain values for the gateway call after the commit
        return refund, attempt, invoice


# --- step 2: the gateway call ----------------------------------------------------------------------


def _send_refund(gateway: PaymentGateway, refund: Refund, attempt: PaymentAttempt) -> RefundResult:
    """Ask the gateway; any exception is "no answer" (it may have happened): settled by a replay."""
    try:
        return gateway.refund(
            gateway_ref=attempt.gateway_ref,
            amount_minor=refund.amount_minor,
            currency=refund.currency,
            idempotency_key=refund_key(refund.merchant_id, refund),
            reason=GATEWAY_REASON,
        )
    except ValueError as exc:  # our request was refused before anything was sent (IdempotencyKeyReused too)
        log.warning("refund %s refused by the gateway client: %s", refund.id, exc.__class__.__name__)
        return RefundResult(False, message="The payment provider refused the request.")
    except Exception as exc:  # noqa: BLE001 - a timeout or outage: the outcome is unknown, never "not done"
        log.warning("refund %s: no answer from the gateway: %s", refund.id, exc.__class__.__name__)
        return RefundResult(False, message="The payment provider did not answer.", unknown=True)


# --- step 3: record --------------------------------------------------------------------------------


def _record(engine: sa.Engine, refund_id: int, result: RefundResult, *, now: datetime) -> RefundResultInfo:
    with new_session(engine) as session, session.begin():
        refund = session.get(Refund, refund_id, with_for_update=is_postgres(session))
        invoice = session.get(Invoice, refund.invoice_id, with_for_update=is_postgres(session))
        amount = Money(refund.amount_minor, refund.currency)
        info = dict(refund_id=refund.id, amount=amount, invoice_number=invoice.number or "")
        if refund.status in (R.SUCCEEDED, R.FAILED):  # recorded meanwhile (a replay racing the first answer)
            return _settled_info(session, refund, info)
        detail = {
            "refund_id": refund.id,
            "invoice": invoice.number,
            "amount_minor": refund.amount_minor,
            "currency": refund.currency,
        }
        if result.unknown:
            if refund.status == R.PENDING:
                transition(refund, R.UNKNOWN)
                session.add(refund)
                audit(
                    session,
                    merchant_id=refund.merchant_id,
                    subscriber_id=invoice.subscriber_id,
                    actor="system",
                    kind="refund_unknown",
                    detail=detail,
                    now=now,
                )
            return RefundResultInfo(RefundOutcome.UNKNOWN, **info)
        refund.settled_at = now
        refund.gateway_ref = (result.gateway_ref or "")[:64]
        if not result.succeeded:
            refund.failure_message = (result.message or "The refund failed.")[:300]
            transition(refund, R.FAILED)
            session.add(refund)
            audit(
                session,
                merchant_id=refund.merchant_id,
                subscriber_id=invoice.subscriber_id,
                actor="system",
                kind="refund_failed",
                detail={**detail, "message": refund.failure_message},
                now=now,
            )
            return RefundResultInfo(RefundOutcome.FAILED, message=refund.failure_message, **info)
        transition(refund, R.SUCCEEDED)
        session.add(refund)
        session.flush()
        merchant = session.get(Merchant, refund.merchant_id)
        note = issue_credit_note(session, refund=refund, invoice=invoice, merchant=merchant, now=now)
        audit(
            session,
            merchant_id=refund.merchant_id,
            subscriber_id=invoice.subscriber_id,
            actor=refund.actor or "system",
            kind="refund_succeeded",
            detail={**detail, "credit_note": note.number, "refund_ref": refund.gateway_ref},
            now=now,
        )
        record_event(
            session, merchant_id=refund.merchant_id, type="credit_note.issued", obj=CreditNoteObject.of(note), now=now
        )
        subscriber = session.get(Subscriber, invoice.subscriber_id)
        send_subscriber_email(
            session,
            merchant=merchant,
            subscriber=subscriber,
            kind="credit_note_issued",
            context={"amount": amount, "invoice_number": invoice.number, "credit_note_number": note.number},
            now=now,
            # A deleted subscription's link is gone: the email then carries no portal link.
            with_portal_link=not is_subscriber_deleted(session, merchant.id, subscriber.id),
            notice_key=credit_note_key(note.id),
        )
        return RefundResultInfo(RefundOutcome.SUCCEEDED, credit_note_id=note.id, credit_note_number=note.number, **info)


def _settled_info(session: Session, refund: Refund, info: dict) -> RefundResultInfo:
    if refund.status == R.FAILED:
        return RefundResultInfo(RefundOutcome.FAILED, message=refund.failure_message, **info)

    note = session.exec(select(CreditNote).where(CreditNote.refund_id == refund.id)).first()
    return RefundResultInfo(
        RefundOutcome.SUCCEEDED,
        credit_note_id=note.id if note else None,
        credit_note_number=note.number if note else "",
        **info,
    )


# --- the entry points ------------------------------------------------------------------------------


def refund_invoice(
    engine: sa.Engine,
    *,
    merchant_id: int,
    invoice_id: int,
    amount_minor: int,
    reason: str,
    actor: str,
    now: datetime,
    gateway: PaymentGateway,
) -> RefundResultInfo:
    """Refund `amount_minor` of a paid invoice's charge; RefundError (a code) when it cannot be made."""
    amount_minor = _check_amount(amount_minor)
    reason = _clean_reason(reason)
    if not isinstance(invoice_id, int) or isinstance(invoice_id, bool):
        raise RefundError("No such invoice.", code="not_found")
    refund, attempt, _invoice = _begin_refund(
        engine,
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        reason=reason,
        actor=actor,
        now=now,
        gateway_name=gateway.name,
    )
    result = _send_refund(gateway, refund, attempt)
    return _record(engine, refund.id, result, now=now)


def settle_unknown_refunds(engine: sa.Engine, *, gateway: PaymentGateway, now: datetime) -> int:
    """Replay every unknown refund (and pending ones a crash left) under its own key; returns how many
    got an answer. The gateway replays the first result of a key, so nothing is refunded twice."""
    with new_session(engine) as session:
        due = session.exec(
            select(Refund, PaymentAttempt)
            .join(PaymentAttempt, PaymentAttempt.id == Refund.payment_attempt_id)
            .where(
                Refund.gateway == gateway.name,  # only the processor that holds the charge can answer
                sa.or_(
                    Refund.status == R.UNKNOWN.value,
                    sa.and_(Refund.status == R.PENDING.value, Refund.created_at <= now - STALE_PENDING),
                ),
            )
            .order_by(Refund.id)
        ).all()
        session.expunge_all()
    settled = 0
    for refund, attempt in due:
        info = _record(engine, refund.id, _send_refund(gateway, refund, attempt), now=now)
        settled += info.outcome is not RefundOutcome.UNKNOWN
    return settled
