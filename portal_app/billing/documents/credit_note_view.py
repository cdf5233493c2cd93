"""What a credit note PDF shows: the credited invoice's parties (its finalization snapshot), the credit
note's number and date, the invoice it refers to, the credited amount split into subtotal and tax.

Built on the invoice view (same layout, fonts and look), so the renderer draws both alike. Like an
invoice, a credit note is rendered once and its bytes stored (CreditNote.pdf_bytes).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from portal_app.billing.documents.invoice_view import (
    INVOICE,
    InvoiceLineView,
    InvoiceView,
    check_renderable,
    invoice_view,
)
from portal_app.billing.money import Money
from portal_app.billing.statuses import InvoiceStatus
from portal_app.i18n import babel_locale, language, translate
from portal_app.i18n.catalogue import NC_
from portal_app.models import CreditNote, Invoice, Merchant

CREDIT_NOTE_LABELS: dict[str, str] = {
    "credit_note": NC_("invoice", "Credit note"),
    "credit_note_number": NC_("invoice", "Credit note number"),
    "credited_invoice": NC_("invoice", "Credit for invoice"),
    "invoice_date": NC_("invoice", "Invoice date"),
    "credit_line": NC_("invoice", "Refund of invoice %(number)s"),
    "amount_refunded": NC_("invoice", "Amount refunded"),
    "status_refunded": NC_("invoice", "REFUNDED"),
    "note_credit": NC_("invoice", "%(amount)s of invoice %(number)s is refunded to the payment method that paid it."),
    "reason": NC_("invoice", "Reason: %(reason)s"),
}


def check_credit_note(note: CreditNote, invoice: Invoice) -> None:
    """A credit note prints only against its own finalized invoice, with amounts that add up."""
    if note.invoice_id not in (None, invoice.id) or note.merchant_id != invoice.merchant_id:
        raise ValueError("credit note belongs to another invoice")
    if note.currency.upper() != invoice.currency.upper():
        raise ValueError("credit note currency differs from the invoice currency")
    if note.subtotal_minor + note.tax_minor != note.total_minor or note.total_minor <= 0:
        raise ValueError("credit note amounts do not add up")
    if not note.number or note.issued_at is None:
        raise ValueError("credit note is not numbered")


def credit_note_view(note: CreditNote, invoice: Invoice, merchant: Merchant) -> InvoiceView:
    check_renderable(invoice, [], merchant)
    check_credit_note(note, invoice)
    base = invoice_view(invoice, [], merchant)
    lang, locale = language(invoice.language), babel_locale(invoice.language)
    labels = {**base.labels, **{key: translate(lang, INVOICE, msg) for key, msg in CREDIT_NOTE_LABELS.items()}}

    def money(amount_minor: int) -> str:
        return Money(amount_minor, note.currency).format(locale)

    def day(moment: datetime) -> str:
        return format_date(moment.astimezone(UTC).date(), "long", locale=locale)

    number = invoice.number or ""
    rate = format_percent(Decimal(invoice.tax_rate_bp) / 10000, locale=locale, decimal_quantization=False)
    note_text = labels["note_credit"] % {"amount": money(note.total_minor), "number": number}
    if note.reason.strip():
        note_text += "\n" + labels["reason"] % {"reason": note.reason.strip()}
    return dataclasses.replace(
        base,
        labels=labels,
        status=InvoiceStatus.PAID,  # the badge's colour: money on its way back, settled
        title=labels["credit_note"],
        status_text=labels["status_refunded"],
        number=note.number,
        meta=[
            (labels["credit_note_number"], note.number),
            (labels["issue_date"], day(note.issued_at)),
            (labels["credited_invoice"], number),
            (labels["invoice_date"], day(invoice.finalized_at)),
        ],
        lines=[
            InvoiceLineView(
                description=labels["credit_line"] % {"number": number},
                quantity=format_decimal(1, locale=locale),
                unit_price=money(note.subtotal_minor),
                amount=money(note.subtotal_minor),
            )
        ],
        totals=[
            (labels["subtotal"], money(note.subtotal_minor)),
            (labels["tax"] % {"rate": rate}, money(note.tax_minor)),
            (labels["total"], money(note.total_minor)),
        ],
        balance=(labels["amount_refunded"], money(note.total_minor)),
        note=note_text,
        title_meta=f"{labels['credit_note']} {note.number}",
        creation_date=note.issued_at.astimezone(UTC),
    )
