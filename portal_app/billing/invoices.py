"""Invoices: drafts, finalization with gapless numbers, immutability, void / uncollectible / paid, PDFs.

Numbers look like ACME-2026-000123: one sequence per merchant and calendar year (UTC) of
finalization, taken from `invoice_counter` inside the finalizing transaction, so a rolled-back
finalization gives its number back and no number is ever skipped or used twice.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.documents.archive import year_zip
from portal_app.billing.documents.renderer import render_invoice_pdf
from portal_app.billing.errors import BillingError, NotAllowed, NotFound
from portal_app.billing.money import Money
from portal_app.billing.statuses import (
    InvoiceStatus,
    SubscriptionStatus,
    can_transition,
    check_transition,
    transition,
)
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.models import (
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Merchant,
    Plan,
    Subscriber,
    Subscription,
)

I, S = InvoiceStatus, SubscriptionStatus

# Finalized invoices a customer can download (a voided one is not owed and not listed).
DOWNLOADABLE_STATUSES = (I.OPEN, I.PAID, I.UNCOLLECTIBLE)


def is_downloadable(status: str) -> bool:
    """Finalized and not voided: the customer may download (and the portal lists) this invoice."""
    return status in DOWNLOADABLE_STATUSES


class InvoiceError(BillingError):
    code = "invoice_error"


class InvoiceImmutable(InvoiceError):
    """Amounts and lines of a finalized invoice never change: void it and issue another."""

    code = "invoice_immutable"


# --- numbering ------------------------------------------------------------------------------


def allocate_invoice_numbers(session: Session, *, merchant: Merchant, year: int, count: int = 1) -> list[str]:
    """Take `count` consecutive numbers of the merchant's sequence for `year`.

    Must run inside the transaction that stores the numbers: the UPDATE holds the counter row's
    lock (PostgreSQL) or the database write lock (SQLite, BEGIN IMMEDIATE) until commit.
    """
    if count <= 0:
        return []
    table = InvoiceCounter.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(table)
        .values(merchant_id=merchant.id, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["merchant_id", "year"])
    )
    last = session.execute(
        sa.update(table)
        .where(table.c.merchant_id == merchant.id, table.c.year == year)
        .values(last_value=table.c.last_value + count)
        .returning(table.c.last_value)
    ).scalar_one()
    return [format_invoice_number(merchant.invoice_prefix, year, n) for n in range(last - count + 1, last + 1)]


def format_invoice_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:06d}"


# --- drafts ---------------------------------------------------------------------------------


def period_description(plan_name: str, start: datetime, end: datetime) -> str:
    """Line text for one billing period; ISO dates so the stored text reads the same in every language."""
    return f"{plan_name} ({start:%Y-%m-%d} – {end:%Y-%m-%d})"


def billing_snapshot(merchant: Merchant, subscriber: Subscriber) -> dict[str, Any]:
    """Who issued and who is billed, copied at finalization so later edits never change an invoice."""
    return {
        "merchant_name": merchant.name,
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


@dataclasses.dataclass(frozen=True)
class RenewalInvoice:
    """One period to invoice in a billing run (already advanced on the subscription)."""

    subscription_id: int
    subscriber: Subscriber
    merchant: Merchant
    plan: Plan
    period_start: datetime
    period_end: datetime


def issue_renewal_invoices(session: Session, items: list[RenewalInvoice], *, now: datetime) -> list[int]:
    """Create and finalize one open invoice (with its line) per item in bulk; returns ids in order.

    The same rules as create_draft_invoice + finalize_invoice, with a few statements per batch
    instead of several per invoice (a billing run may renew 100k subscriptions at once).
    """
    if not items:
        return []
    # Created as drafts and finalized in the same statement: validate that move once.
    check_transition(InvoiceStatus, I.DRAFT, I.OPEN)
    numbers: dict[int, list[str]] = {}
    by_merchant: dict[int, Merchant] = {}
    for item in items:
        by_merchant[item.merchant.id] = item.merchant
    for merchant_id, merchant in sorted(by_merchant.items()):
        count = sum(1 for item in items if item.merchant.id == merchant_id)
        numbers[merchant_id] = allocate_invoice_numbers(session, merchant=merchant, year=now.year, count=count)
    next_number = {merchant_id: iter(values) for merchant_id, values in numbers.items()}
    rows = []
    for item in items:
        price = Money(item.plan.amount_minor, item.plan.currency)
        rows.append(
            {
                "merchant_id": item.merchant.id,
                "subscriber_id": item.subscriber.id,
                "subscription_id": item.subscription_id,
                "number": next(next_number[item.merchant.id]),
                "status": I.OPEN.value,
                "currency": price.currency,
                "subtotal_minor": price.amount_minor,
                "tax_minor": 0,
                "total_minor": price.amount_minor,
                "tax_rate_bp": 0,
                "period_start": item.period_start,
                "period_end": item.period_end,
                **billing_snapshot(item.merchant, item.subscriber),
                "created_at": now,
                "finalized_at": now,
                "due_at": now,
            }
        )
    table = Invoice.__table__
    # One invoice per subscription in a batch: map ids back by subscription (unordered RETURNING
    # lets SQLAlchemy send a few multi-row INSERTs instead of one per row).
    invoice_of = {
        sub_id: inv_id
        for inv_id, sub_id in session.execute(
            sa.insert(table).returning(table.c.id, table.c.subscription_id), rows
        ).all()
    }
    if len(invoice_of) != len(items):
        raise ValueError("a renewal batch must hold each subscription once")
    ids = [invoice_of[item.subscription_id] for item in items]
    session.execute(
        sa.insert(InvoiceLine.__table__),
        [
            {
                "invoice_id": invoice_id,
                "description": period_description(item.plan.name, item.period_start, item.period_end),
                "quantity": 1,
                "unit_amount_minor": item.plan.amount_minor,
                "amount_minor": item.plan.amount_minor,
                "currency": item.plan.currency,
            }
            for invoice_id, item in zip(ids, items)
        ],
    )
    return ids


# --- settling -------------------------------------------------------------------------------


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
    """past_due / unpaid / incomplete subscriptions with no open invoice left become active at once."""
    ids = sorted({sid for sid in subscription_ids if sid is not None})
    if not ids:
        return []
    waiting = (S.PAST_DUE, S.UNPAID, S.INCOMPLETE)
    open_invoice = (
        sa.select(Invoice.id).where(Invoice.subscription_id == Subscription.id, Invoice.status == I.OPEN).exists()
    )
    restored = []
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
                audit(
                    session,
                    merchant_id=merchant_id,
                    subscriber_id=subscriber_id,
                    actor=actor,
                    kind="subscription_reactivated",
                    detail={"subscription_id": sid, "from": status},
                    now=now,
                )
    if restored:
        # Keep loaded objects in step with the rows we just changed.
        for sid in restored:
            obj = session.identity_map.get(session.identity_key(Subscription, sid))
            if obj is not None:
                session.expire(obj, ["status"])
    return restored


def _settle(
    session: Session,
    invoice_id: int,
    new_status: I,
    *,
    merchant_id: int,
    actor: str,
    now: datetime,
    kind: str,
    detail: dict[str, Any],
    reactivate: bool,
) -> Invoice:
    """The one way a merchant closes an invoice: lock, check, transition, stop retries, drop the
    stored PDF (it prints the payment status), optionally restore the subscription, audit."""
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id, for_update=True)
    _require_settleable(invoice, new_status)
    transition(invoice, new_status)
    if new_status is I.PAID:
        invoice.paid_at = now
    elif new_status is I.VOID:
        invoice.voided_at = now
    invoice.next_retry_at = None
    invoice.pdf_bytes = None
    session.add(invoice)
    session.flush()
    if reactivate:
        # Paid or no longer owed: a past-due subscription owes nothing more for it.
        reactivate_paid_up_subscriptions(session, [invoice.subscription_id], now=now, actor=actor)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=invoice.subscriber_id,
        actor=actor,
        kind=kind,
        detail={"invoice_id": invoice.id, "number": invoice.number, **detail},
        now=now,
    )
    return invoice


def mark_paid(
    session: Session, invoice_id: int, *, merchant_id: int, actor: str, now: datetime, note: str = ""
) -> Invoice:
    """Record a payment made outside the gateway (bank transfer, cheque). Restores the subscription."""
    return _settle(
        session,
        invoice_id,
        I.PAID,
        merchant_id=merchant_id,
        actor=actor,
        now=now,
        kind="invoice_marked_paid",
        detail={"note": note},
        reactivate=True,
    )


def void_invoice(
    session: Session, invoice_id: int, *, merchant_id: int, actor: str, now: datetime, reason: str = ""
) -> Invoice:
    """Cancel an invoice that is not owed (corrections void and reissue; paid ones cannot be voided)."""
    return _settle(
        session,
        invoice_id,
        I.VOID,
        merchant_id=merchant_id,
        actor=actor,
        now=now,
        kind="invoice_voided",
        detail={"reason": reason},
        reactivate=True,
    )


def mark_uncollectible(
    session: Session, invoice_id: int, *, merchant_id: int, actor: str, now: datetime, reason: str = ""
) -> Invoice:
    """Write the debt off: no more automatic retries. A later payment still settles it."""
    return _settle(
        session,
        invoice_id,
        I.UNCOLLECTIBLE,
        merchant_id=merchant_id,
        actor=actor,
        now=now,
        kind="invoice_uncollectible",
        detail={"reason": reason},
        reactivate=False,
    )


# --- reading, PDFs, ZIP ---------------------------------------------------------------------


def invoice_total(invoice: Invoice) -> Money:
    return Money(invoice.total_minor, invoice.currency)


def is_finalized(invoice: Invoice) -> bool:
    return invoice.status != I.DRAFT


def get_invoice(session: Session, invoice_id: int, *, merchant_id: int, subscriber_id: int | None = None) -> Invoice:
    """One invoice of the merchant (and of the subscriber, for portal sessions)."""
    invoice = get_scoped(session, Invoice, row_id(invoice_id), merchant_id)
    if subscriber_id is not None and invoice.subscriber_id != subscriber_id:
        raise NotFound("Invoice not found")
    return invoice


def invoice_lines(session: Session, invoice: Invoice) -> list[InvoiceLine]:
    return list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)))


def list_invoices(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int | None = None,
    include_drafts: bool = False,
    limit: int | None = None,
) -> list[Invoice]:
    """Newest first. Subscribers never see drafts."""
    stmt = select(Invoice).where(Invoice.merchant_id == merchant_id)
    if subscriber_id is not None:
        stmt = stmt.where(Invoice.subscriber_id == subscriber_id)
    if not include_drafts:
        stmt = stmt.where(Invoice.status != I.DRAFT)
    stmt = stmt.order_by(Invoice.finalized_at.desc(), Invoice.id.desc())
    if limit:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt))


def ensure_invoice_pdf(
    session: Session, invoice_id: int, *, merchant_id: int, subscriber_id: int | None = None
) -> bytes:
    """The invoice's PDF: rendered once from the finalized invoice and stored; stored bytes thereafter.

    Status changes (paid, void, uncollectible) clear the stored PDF because it prints the payment
    status; the content (number, lines, amounts) is immutable, so re-rendering can't differ there.
    """

    invoice = get_invoice(session, invoice_id, merchant_id=merchant_id, subscriber_id=subscriber_id)
    if invoice.pdf_bytes is not None:
        return invoice.pdf_bytes
    if not is_finalized(invoice):
        raise InvoiceError("Only finalized invoices have a PDF.")
    merchant = session.get(Merchant, merchant_id)
    data = render_invoice_pdf(invoice, invoice_lines(session, invoice), merchant)
    table = Invoice.__table__
    # First renderer wins; a concurrent download keeps the bytes already stored.
    session.execute(
        sa.update(table).where(table.c.id == invoice.id, table.c.pdf_bytes.is_(None)).values(pdf_bytes=data)
    )
    session.refresh(invoice, ["pdf_bytes"])
    return invoice.pdf_bytes


def _downloadable(merchant_id: int, subscriber_id: int):
    return (
        Invoice.merchant_id == merchant_id,
        Invoice.subscriber_id == subscriber_id,
        Invoice.status.in_([s.value for s in DOWNLOADABLE_STATUSES]),
        Invoice.finalized_at.is_not(None),
    )


def invoice_years(session: Session, *, merchant_id: int, subscriber_id: int) -> dict[int, int]:
    """{year: number of downloadable invoices finalized that year}, newest year first."""
    rows = session.execute(sa.select(Invoice.finalized_at).where(*_downloadable(merchant_id, subscriber_id))).scalars()
    counts: dict[int, int] = {}
    for finalized_at in rows:
        counts[finalized_at.year] = counts.get(finalized_at.year, 0) + 1
    return dict(sorted(counts.items(), reverse=True))


def year_zip_for_subscriber(
    session: Session, subscriber_id: int, merchant_id: int, year: int
) -> tuple[str, bytes, int]:
    """(filename, zip bytes, invoice count) with every downloadable invoice of that year as a PDF."""

    get_scoped(session, Subscriber, subscriber_id, merchant_id)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    invoices = session.exec(
        select(Invoice)
        .where(*_downloadable(merchant_id, subscriber_id), Invoice.finalized_at >= start, Invoice.finalized_at < end)
        .order_by(Invoice.finalized_at, Invoice.id)
    ).all()
    if not invoices:
        raise InvoiceError(f"No invoices in {year}.", code="not_found")
    files = [(f"{inv.number}.pdf", ensure_invoice_pdf(session, inv.id, merchant_id=merchant_id)) for inv in invoices]
    merchant = session.get(Merchant, merchant_id)
    return f"{merchant.slug}-invoices-{year}.zip", year_zip(files), len(files)
