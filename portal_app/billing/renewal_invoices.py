"""A billing run's invoices: one open invoice per renewed subscription, created and finalized in
bulk (numbered by invoice_numbers.py, on the lines renewal_terms.py computes)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.invoice_numbers import allocate_invoice_numbers
from portal_app.billing.invoices import billing_snapshot, settle_free_invoices
from portal_app.billing.money import Money
from portal_app.billing.renewal_terms import RenewalLine, period_description
from portal_app.billing.statuses import InvoiceStatus, check_transition
from portal_app.billing.webhooks_out.events import invoices_changed
from portal_app.models import Invoice, InvoiceLine, Merchant, Plan, Subscriber

I = InvoiceStatus


@dataclasses.dataclass(frozen=True)
class RenewalInvoice:
    """One period to invoice in a billing run (already advanced on the subscription). `lines` are the
    invoice's lines (renewal_terms.renewal_terms); none means the plan's price for the period."""

    subscription_id: int
    subscriber: Subscriber
    merchant: Merchant
    plan: Plan
    period_start: datetime
    period_end: datetime
    lines: tuple[RenewalLine, ...] = ()

    def invoice_lines(self) -> tuple[RenewalLine, ...]:
        if self.lines:
            return self.lines
        return (
            RenewalLine(period_description(self.plan.name, self.period_start, self.period_end), self.plan.amount_minor),
        )


def issue_renewal_invoices(session: Session, items: list[RenewalInvoice], *, now: datetime) -> list[int]:
    """Create and finalize one open invoice (with its lines) per item in bulk; returns the ids of the
    invoices left to charge, in order. An invoice whose total is zero (a discount or credit covered
    it) is paid at once, nothing to charge, and is not among them.

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
        total = sum(line.amount_minor for line in item.invoice_lines())
        if total < 0:
            raise ValueError("a renewal invoice never totals less than zero")
        price = Money(total, item.plan.currency)
        rows.append(
            {
                "merchant_id": item.merchant.id,
                "subscriber_id": item.subscriber.id,
                "subscription_id": item.subscription_id,
                "number": next(next_number[item.merchant.id]),
                "status": I.DRAFT.value,  # finalized below, once its line is in (invoice_guard.py)
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
                "description": line.description,
                "quantity": 1,
                "unit_amount_minor": line.amount_minor,
                "amount_minor": line.amount_minor,
                "currency": item.plan.currency,
            }
            for invoice_id, item in zip(ids, items)
            for line in item.invoice_lines()
        ],
    )
    for start in range(0, len(ids), 1000):
        session.execute(
            sa.update(table)
            .where(table.c.id.in_(ids[start : start + 1000]), table.c.status == I.DRAFT.value)
            .values(status=I.OPEN.value)
        )
    invoices_changed(session, ids, "invoice.finalized", now=now)
    free = [invoice_id for invoice_id, row in zip(ids, rows) if row["total_minor"] == 0]
    if free:
        settle_free_invoices(session, free, now=now)
    free_ids = set(free)
    return [invoice_id for invoice_id in ids if invoice_id not in free_ids]
