"""Console refunds: what each paid invoice of a subscriber can still give back, and refunding it
(full or partial, with a reason) for the signed-in merchant. Every id is scoped by that merchant."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from sqlmodel import select

from portal_app import db
from portal_app.billing import gateways
from portal_app.billing.credit_notes import list_credit_notes
from portal_app.billing.facades.console.forms import ConsoleError, actor_for, parse_id, parse_price
from portal_app.billing.invoice_queries import get_invoice
from portal_app.billing.money import Money
from portal_app.billing.payments import refunding
from portal_app.billing.payments.refunding import RefundOutcome, RefundResultInfo
from portal_app.billing.statuses import InvoiceStatus
from portal_app.models import Invoice, utcnow


@dataclasses.dataclass(frozen=True)
class InvoiceRefunds:
    """One invoice's refund picture: charged, refunded (succeeded), what is still refundable."""

    invoice_id: int
    number: str
    charged: Money
    refunded: Money
    refundable: Money
    credit_notes: tuple[str, ...] = ()

    @property
    def fully_refunded(self) -> bool:
        return self.charged.amount_minor > 0 and self.refunded.amount_minor >= self.charged.amount_minor

    @property
    def partially_refunded(self) -> bool:
        return 0 < self.refunded.amount_minor < self.charged.amount_minor


def _picture(invoice: Invoice, facts: refunding.Refundable, numbers: tuple[str, ...] = ()) -> InvoiceRefunds:
    cur = invoice.currency
    return InvoiceRefunds(
        invoice.id,
        invoice.number or "",
        Money(facts.charged_minor, cur),
        Money(facts.refunded_minor, cur),
        Money(facts.left_minor, cur),
        numbers,
    )


def invoice_refunds(*, merchant_id: int, subscriber_id: Any) -> dict[int, InvoiceRefunds]:
    """{invoice id: refund picture} of the subscriber's paid invoices (the profile's rows)."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    with db.session_scope() as session:
        invoices = session.exec(
            select(Invoice).where(
                Invoice.merchant_id == merchant_id,
                Invoice.subscriber_id == subscriber_id,
                Invoice.status == InvoiceStatus.PAID.value,
            )
        ).all()
        notes: dict[int, list[str]] = {}
        for note in list_credit_notes(session, merchant_id=merchant_id, subscriber_id=subscriber_id):
            notes.setdefault(note.invoice_id, []).append(note.number)
        facts = refunding.refundables(session, list(invoices))
        return {inv.id: _picture(inv, facts[inv.id], tuple(notes.get(inv.id, ()))) for inv in invoices}


def refund_form(*, merchant_id: int, invoice_id: Any) -> InvoiceRefunds:
    """What the refund dialog of one invoice shows; NotFound for another merchant's invoice, RefundError
    when nothing can be refunded."""
    invoice_id = parse_id(invoice_id, "invoice")
    with db.session_scope() as session:
        invoice = get_invoice(session, invoice_id, merchant_id=merchant_id)
        picture = _picture(invoice, refunding.refundable(session, invoice))
        if invoice.status != InvoiceStatus.PAID or picture.refundable.amount_minor <= 0:
            raise refunding.RefundError("Nothing is left to refund on this invoice.", code="exceeds_refundable")
        return picture


def parse_refund_amount(text: Any, currency: str) -> int:
    """The amount typed in the dialog ("12.50") in the invoice's currency, as minor units."""
    try:
        return parse_price(text, currency)
    except ConsoleError as err:
        message = err.message.replace("price", "amount")
        raise ConsoleError(message, field="amount") from None


def refund_invoice(
    *, merchant_id: int, user_id: int, invoice_id: Any, amount: Any, reason: Any, now: datetime | None = None
) -> RefundResultInfo:
    """Refund `amount` (text in the invoice's currency) of one of the merchant's paid invoices."""
    invoice_id = parse_id(invoice_id, "invoice")
    with db.session_scope() as session:
        currency = get_invoice(session, invoice_id, merchant_id=merchant_id).currency
    amount_minor = parse_refund_amount(amount, currency)
    if not isinstance(reason, str):
        raise ConsoleError("The reason must be text.", field="reason")
    return refunding.refund_invoice(
        db.get_engine(),
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        amount_minor=amount_minor,
        reason=reason,
        actor=actor_for(user_id),
        now=now or utcnow(),
        gateway=gateways.get_gateway(),
    )


__all__ = ["InvoiceRefunds", "RefundOutcome", "invoice_refunds", "refund_form", "refund_invoice"]
