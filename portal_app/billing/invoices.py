"""Invoices: drafts, finalization (numbered by invoice_numbers.py), immutability, settling
(paid / void / uncollectible: settle_invoice and its bulk twin share one definition of the effects).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import NotAllowed
from portal_app.billing.invoice_guard import InvoiceError, InvoiceImmutable
from portal_app.billing.invoice_numbers import allocate_invoice_numbers
from portal_app.billing.money import Money
from portal_app.billing.renewal_terms import period_description
from portal_app.billing.statuses import (
    InvoiceStatus,
    SubscriptionStatus,
    can_transition,
    check_transition,
    transition,
)
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.billing.webhooks_out.events import invoices_changed, subscriptions_changed
from portal_app.models import (
    Invoice,
    InvoiceLine,
    Merchant,
    Plan,
    Subscriber,
    Subscription,
)

I, S = InvoiceStatus, SubscriptionStatus

# Finalized invoices a customer can download (a voided one is not owed and not listed).
DOWNLOADABLE_STATUSES = (I.OPEN, I.PAID, I.UNCOLLECTIBLE)


def is_downloadable(invoice_or_status: Invoice | str) -> bool:
    """Finalized and not voided: the customer may download (and the portal lists) this invoice."""
    status = invoice_or_status if isinstance(invoice_or_status, str) else invoice_or_status.status
    return status in DOWNLOADABLE_STATUSES


# --- drafts ---------------------------------------------------------------------------------


def billing_snapshot(merchant: Merchant, subscriber: Subscriber) -> dict[str, Any]:
    """Who issued and who is billed, copied at finalization so later edits never change an invoice.

    The seller is named as invoices must name it: the legal name (the display name when none is
    set), the address, tax id and the support email customers write to.
    """
    return {
        "merchant_name": merchant.name,
        "seller_legal_name": (merchant.legal_name or "").strip() or merchant.name,
        "seller_address": (merchant.address or "").strip(),
        "seller_tax_id": (merchant.tax_id or "").strip(),
        "seller_email": (merchant.support_email or "").strip(),
        "language": subscriber.language or merchant.default_language or "en",
        "billing_name": subscriber.billing_name or subscriber.name,
        "billing_email": subscriber.email,
        "billing_address": subscriber.billing_address,
        "tax_id": subscriber.tax_id,
    }


def create_draft_invoice(session: Session, subscription_id: int, *, merchant_id: int, now: datetime) -> Invoice:
    """A draft for the subscription's current period with one line: plan name and period."""
    sub = get_scoped(session, Subscription, row_id(subscription_id), merchant_id)
    plan = get_scoped(session, Plan, sub.plan_id, merchant_id)
    invoice = Invoice(
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        subscription_id=sub.id,
        status=I.DRAFT,
        currency=plan.currency,
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        created_at=now,
    )
    session.add(invoice)
    session.flush()
    add_invoice_line(
        session,
        invoice.id,
        merchant_id=merchant_id,
        description=period_description(plan.name, sub.current_period_start, sub.current_period_end),
        unit_amount_minor=plan.amount_minor,
    )
    return invoice


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != I.DRAFT:
        raise InvoiceImmutable(f"Invoice {invoice.number} is finalized and cannot be changed; void it instead.")


def _recompute_totals(session: Session, invoice: Invoice) -> None:
    # Money rule: subtotal = sum of lines, tax rounded half-up once on the subtotal, total = both.
    lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    subtotal = sum((Money(line.amount_minor, line.currency) for line in lines), Money.zero(invoice.currency))
    tax = subtotal.percent_bp(invoice.tax_rate_bp)
    invoice.subtotal_minor = subtotal.amount_minor
    invoice.tax_minor = tax.amount_minor
    invoice.total_minor = (subtotal + tax).amount_minor
    session.add(invoice)
    session.flush()


def add_invoice_line(
    session: Session,
    invoice_id: int,
    *,
    merchant_id: int,
    description: str,
    unit_amount_minor: int,
    quantity: int = 1,
) -> InvoiceLine:
    """Add a line to a draft; refuses finalized invoices."""
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id, for_update=True)
    _require_draft(invoice)
    if isinstance(unit_amount_minor, bool) or not isinstance(unit_amount_minor, int):
        raise InvoiceError("Line amounts are whole minor units.")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvoiceError("Quantity must be a positive whole number.")
    if not 1 <= len(description.strip()) <= 300:
        raise InvoiceError("A line needs a description of 1 to 300 characters.")
    line = InvoiceLine(
        invoice_id=invoice.id,
        description=description.strip(),
        quantity=quantity,
        unit_amount_minor=unit_amount_minor,
        amount_minor=unit_amount_minor * quantity,
        currency=invoice.currency,
    )
    session.add(line)
    session.flush()
    _recompute_totals(session, invoice)
    return line


def set_invoice_tax_rate(session: Session, invoice_id: int, *, merchant_id: int, tax_rate_bp: int) -> Invoice:
    """Tax rate in basis points (2100 = 21 %) on a draft; refuses finalized invoices."""
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id, for_update=True)
    _require_draft(invoice)
    if isinstance(tax_rate_bp, bool) or not isinstance(tax_rate_bp, int) or not 0 <= tax_rate_bp <= 10000:
        raise InvoiceError("The tax rate must be between 0 and 10000 basis points.")
    invoice.tax_rate_bp = tax_rate_bp
    _recompute_totals(session, invoice)
    return invoice


# --- finalization ---------------------------------------------------------------------------


def finalize_invoice(session: Session, invoice_id: int, *, merchant_id: int, now: datetime) -> Invoice:
    """draft -> open: number it, snapshot merchant and billing details, due now.

    Flushes but does not commit: the caller's commit makes the number and the counter visible together.
    """
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id, for_update=True)
    _require_draft(invoice)
    if invoice.total_minor <= 0:
        raise InvoiceError("An invoice must have a positive total to be finalized.")
    merchant = session.get(Merchant, merchant_id)
    subscriber = get_scoped(session, Subscriber, invoice.subscriber_id, merchant_id)
    (number,) = allocate_invoice_numbers(session, merchant=merchant, year=now.year)
    for key, value in billing_snapshot(merchant, subscriber).items():
        setattr(invoice, key, value)
    invoice.number = number
    invoice.finalized_at = now
    invoice.due_at = now
    transition(invoice, I.OPEN)
    session.add(invoice)
    session.flush()
    return invoice


# --- settling -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Entering:
    """What entering a settled status does besides the status itself (the one definition)."""

    stamp: str | None  # the column that records when
    reactivates: bool  # the invoice is no longer owed: its subscription may be active again
    audit_kind: str  # how a person's settlement is audited (a payment is recorded by its attempt)


_ENTERING: dict[InvoiceStatus, _Entering] = {
    I.PAID: _Entering("paid_at", reactivates=True, audit_kind="invoice_marked_paid"),
    I.VOID: _Entering("voided_at", reactivates=True, audit_kind="invoice_voided"),
    I.UNCOLLECTIBLE: _Entering(None, reactivates=False, audit_kind="invoice_uncollectible"),
}


def _settled_columns(new_status: InvoiceStatus, now: datetime) -> dict[str, Any]:
    """Columns entering `new_status` sets: its instant, no retry scheduled, no stored PDF (the PDF
    prints the payment status, so it is rendered again on the next download)."""
    stamp = _ENTERING[new_status].stamp
    return {"next_retry_at": None, "pdf_bytes": None, **({stamp: now} if stamp else {})}


def _require_settleable(invoice: Invoice, new_status: InvoiceStatus) -> None:
    """Refuse (with words for the page) moves the status table forbids, and any move while a
    payment is in flight: its outcome must settle the invoice first."""
    if not can_transition(InvoiceStatus, invoice.status, new_status):
        raise NotAllowed(
            f"Invoice {invoice.number or invoice.id} is {invoice.status}; it can't be marked {new_status}."
        )
    if invoice.charging_attempt_id is not None:
        raise NotAllowed("A payment for this invoice is in progress; try again in a few minutes.")


def reactivate_paid_up_subscriptions(
    session: Session, subscription_ids: list[int], *, now: datetime, actor: str = "system"
) -> list[int]:
    """past_due / unpaid / incomplete / trialing subscriptions with no open invoice left become active at once."""
    ids = sorted({sid for sid in subscription_ids if sid is not None})
    if not ids:
        return []
    waiting = (S.PAST_DUE, S.UNPAID, S.INCOMPLETE, S.TRIALING)  # trialing: its first invoice (trials.py)
    open_invoice = (
        sa.select(Invoice.id).where(Invoice.subscription_id == Subscription.id, Invoice.status == I.OPEN).exists()
    )
    restored, previous = [], {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start : chunk_start + 500]
        rows = session.execute(
            sa.select(Subscription.id, Subscription.status, Subscription.merchant_id, Subscription.subscriber_id).where(
                Subscription.id.in_(chunk),
                Subscription.status.in_(waiting),
                Subscription.deleted_at.is_(None),
                ~open_invoice,
            )
        ).all()
        for sid, status, merchant_id, subscriber_id in rows:
            check_transition(SubscriptionStatus, status, S.ACTIVE)
            # The WHERE pins the status we validated the move from.
            done = session.execute(
                sa.update(Subscription.__table__)
                .where(Subscription.__table__.c.id == sid, Subscription.__table__.c.status == status)
                .values(status=S.ACTIVE.value)
            ).rowcount
            if done:
                restored.append(sid)
                previous[sid] = {"status": status}
                audit(
                    session,
                    merchant_id=merchant_id,
                    subscriber_id=subscriber_id,
                    actor=actor,
                    # A first invoice (incomplete, or a trial's) makes it active; a paid-up debt, active again.
                    kind="subscription_activated"
                    if status in (S.INCOMPLETE, S.TRIALING)
                    else "subscription_reactivated",
                    detail={"subscription_id": sid, "from": status},
                    now=now,
                )
    subscriptions_changed(session, previous, now=now)
    if restored:
        # Keep loaded objects in step with the rows we just changed.
        for sid in restored:
            obj = session.identity_map.get(session.identity_key(Subscription, sid))
            if obj is not None:
                session.expire(obj, ["status"])
    return restored


def settle_free_invoices(session: Session, invoice_ids: list[int], *, now: datetime) -> None:
    """Open invoices of total zero are paid as they are issued: there is nothing to charge. A subscription
    that waited on one (a trial whose first invoice credit or a discount covered) is active, as after a
    paid charge."""
    check_transition(InvoiceStatus, I.OPEN, I.PAID)
    inv = Invoice.__table__
    paid = session.execute(
        sa.update(inv)
        .where(inv.c.id.in_(invoice_ids), inv.c.status == I.OPEN.value, inv.c.total_minor == 0)
        .values(status=I.PAID.value, **_settled_columns(I.PAID, now))
        .returning(inv.c.id, inv.c.subscription_id)
    ).all()
    invoices_changed(session, [invoice_id for invoice_id, _ in paid], "invoice.paid", now=now)
    reactivate_paid_up_subscriptions(session, [sub_id for _, sub_id in paid], now=now)


def settle_invoice(
    session: Session,
    invoice_id: int,
    new_status: InvoiceStatus,
    *,
    merchant_id: int,
    actor: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
    audited: bool = True,
) -> Invoice:
    """The one way an invoice becomes paid, void or uncollectible: lock, check, transition, effects.

    audited=False when another record already tells the story (a payment's attempt and receipt).
    """
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id, for_update=True)
    _require_settleable(invoice, new_status)
    for column, value in _settled_columns(new_status, now).items():
        setattr(invoice, column, value)
    transition(invoice, new_status)  # last: its event (invoice.paid) carries the columns above
    session.add(invoice)
    session.flush()
    entering = _ENTERING[new_status]
    if entering.reactivates:
        reactivate_paid_up_subscriptions(session, [invoice.subscription_id], now=now, actor=actor)
    if audited:
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=invoice.subscriber_id,
            actor=actor,
            kind=entering.audit_kind,
            detail={"invoice_id": invoice.id, "number": invoice.number, **(detail or {})},
            now=now,
        )
    return invoice


def settle_invoices_paid(session: Session, paid: Sequence[tuple[int, int]], *, now: datetime) -> list[int]:
    """The bulk twin of settle_invoice(..., PAID, audited=False) for (invoice id, attempt id) pairs whose
    attempt moved the money: only open invoices still claimed by those attempts are paid, their claims
    released. Returns the subscription ids looked at for reactivation."""
    check_transition(InvoiceStatus, I.OPEN, I.PAID)
    inv = Invoice.__table__
    values = {"status": I.PAID.value, "charging_attempt_id": None, **_settled_columns(I.PAID, now)}
    subscription_ids: list[int] = []
    paid_ids: list[int] = []
    for start in range(0, len(paid), 1000):
        invoice_ids = [invoice_id for invoice_id, _ in paid[start : start + 1000]]
        attempt_ids = [attempt_id for _, attempt_id in paid[start : start + 1000]]
        # The WHERE pins the validated move and the claim: only the claim holder settles an invoice.
        paid_ids += (
            session.execute(
                sa.update(inv)
                .where(
                    inv.c.id.in_(invoice_ids), inv.c.status == I.OPEN.value, inv.c.charging_attempt_id.in_(attempt_ids)
                )
                .values(**values)
                .returning(inv.c.id)
            )
            .scalars()
            .all()
        )
        subscription_ids += (
            session.execute(sa.select(inv.c.subscription_id).where(inv.c.id.in_(invoice_ids))).scalars().all()
        )
    invoices_changed(session, paid_ids, "invoice.paid", now=now)
    if _ENTERING[I.PAID].reactivates:
        reactivate_paid_up_subscriptions(session, subscription_ids, now=now)
    return subscription_ids


# --- reading (the queries live in invoice_queries.py) ----------------------------------------


def invoice_total(invoice: Invoice) -> Money:
    return Money(invoice.total_minor, invoice.currency)


def is_finalized(invoice: Invoice) -> bool:
    return invoice.status != I.DRAFT
