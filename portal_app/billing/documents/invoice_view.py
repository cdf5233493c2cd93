"""What an invoice PDF shows, computed from the finalized invoice's rows: translated and formatted.

Reads only the invoice's finalization snapshot (seller and buyer names, addresses, tax ids, the
seller's support email, language, amounts), so the same rows always give the same words, whatever
the merchant or subscriber looks like today. Only the look comes from the merchant as it is now
(logo, brand colour): the first rendering is stored (Invoice.pdf_bytes), which freezes that too.
Invoices finalized before the seller snapshot existed show the merchant's name and, as they always
did, its current support email.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal

from babel.dates import format_date, format_interval
from babel.numbers import format_decimal, format_percent

from portal_app.billing import brand
from portal_app.billing.documents.adjustment_lines import adjustment_description
from portal_app.billing.errors import BillingError
from portal_app.billing.money import Money
from portal_app.billing.statuses import InvoiceStatus
from portal_app.i18n import babel_locale, language, translate
from portal_app.i18n.catalogue import NC_
from portal_app.models import Invoice, InvoiceLine, Merchant

INVOICE = "invoice"  # msgctxt of the PDFs' texts ("usted" in Spanish)
INVOICE_LABELS: dict[str, str] = {
    "invoice": NC_("invoice", "Invoice"),
    "receipt": NC_("invoice", "Receipt"),
    "invoice_number": NC_("invoice", "Invoice number"),
    "issue_date": NC_("invoice", "Issue date"),
    "due_date": NC_("invoice", "Due date"),
    "service_period": NC_("invoice", "Service period"),
    "paid_date": NC_("invoice", "Paid on"),
    "seller": NC_("invoice", "From"),
    "bill_to": NC_("invoice", "Bill to"),
    "tax_id": NC_("invoice", "Tax ID"),
    "description": NC_("invoice", "Description"),
    "quantity": NC_("invoice", "Qty"),
    "unit_price": NC_("invoice", "Unit price"),
    "amount": NC_("invoice", "Amount"),
    "subtotal": NC_("invoice", "Subtotal"),
    "tax": NC_("invoice", "Tax (%(rate)s)"),
    "total": NC_("invoice", "Total"),
    "amount_paid": NC_("invoice", "Amount paid"),
    "amount_due": NC_("invoice", "Amount due"),
    "note_paid": NC_("invoice", "Paid on %(date)s. Thank you!"),
    "note_open": NC_("invoice", "Please pay %(amount)s by %(date)s."),
    "note_open_no_due": NC_("invoice", "Please pay %(amount)s."),
    "note_void": NC_("invoice", "This invoice has been voided and is not payable."),
    "note_uncollectible": NC_("invoice", "This invoice has been marked as uncollectible."),
    "support": NC_("invoice", "Questions? Contact %(email)s"),
    "email": NC_("invoice", "Email: %(email)s"),
    "page": NC_("invoice", "Page %(page)s of %(pages)s"),
    # The paid badge is only ever printed on a receipt (the title of a paid invoice): in Spanish it
    # agrees with "el recibo" (PAGADO); the other badges sit on "la factura" (PENDIENTE, ANULADA).
    "status_paid": NC_("invoice", "PAID"),
    "status_open": NC_("invoice", "OPEN"),
    "status_void": NC_("invoice", "VOID"),
    "status_uncollectible": NC_("invoice", "UNCOLLECTIBLE"),
}

FOOTER_SEPARATOR = " · "
# billing/invoices.period_description's line text, "Pro (2026-01-31 – 2026-02-28)": stored with ISO
# dates (the same text in every language), printed with the invoice's own date format.
_PERIOD_LINE = re.compile(r"^(?P<plan>.*) \((?P<start>\d{4}-\d{2}-\d{2}) – (?P<end>\d{4}-\d{2}-\d{2})\)$", re.S)

# A plan change's proration lines (plan_change_preview.UNUSED_LINE / REMAINING_LINE), stored in English.
_PRORATION_LINES = {
    "Unused time on ": NC_("invoice", "Unused time on %(plan)s"),
    "Remaining time on ": NC_("invoice", "Remaining time on %(plan)s"),
}


@dataclasses.dataclass(frozen=True)
class InvoiceLineView:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclasses.dataclass(frozen=True)
class InvoiceView:
    """Everything printed on the invoice, already translated and formatted for its locale."""

    labels: dict[str, str]
    status: InvoiceStatus
    title: str
    status_text: str
    merchant_name: str
    support_line: str
    seller: list[str]
    number: str
    meta: list[tuple[str, str]]
    bill_to: list[str]
    lines: list[InvoiceLineView]
    totals: list[tuple[str, str]]
    balance: tuple[str, str] | None
    note: str
    logo: bytes | None
    title_meta: str
    creation_date: datetime
    language: str
    accent: tuple[int, int, int] = brand.rgb(brand.DEFAULT_COLOR)

    def all_text(self) -> list[str]:
        """Every string drawn (labels and page footers included), to choose the font cut."""
        texts = [self.title, self.status_text, self.merchant_name, self.support_line, self.number]
        texts += [self.note, FOOTER_SEPARATOR, *self.seller, *self.bill_to, *self.labels.values()]
        texts += [label.upper() for label in self.labels.values()]
        texts += [part for pair in self.meta + self.totals for part in pair]
        texts += list(self.balance or ())
        for line in self.lines:
            texts += [line.description, line.quantity, line.unit_price, line.amount]
        return texts


def _utc_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("invoice timestamps must be timezone-aware")
    return moment.astimezone(UTC).date()


def line_description(description: str, locale: str) -> str:
    """A period line's ISO dates in the invoice's language ("Pro (31 ene 2026 – 28 feb 2026)"); a
    discount or credit line in its words (adjustment_lines)."""
    match = _PERIOD_LINE.match(description)
    if match is None:
        return adjustment_description(description, locale) or description
    try:
        start, end = date.fromisoformat(match["start"]), date.fromisoformat(match["end"])
    except ValueError:
        return description
    plan = match["plan"]
    for prefix, message in _PRORATION_LINES.items():  # a plan change's lines (billing/plan_changes.py)
        if plan.startswith(prefix):
            plan = translate(language(locale), INVOICE, message, plan=plan.removeprefix(prefix))
            break
    return f"{plan} ({format_interval(start, end, 'yMMMd', locale=locale)})"


def accent_rgb(stored: str) -> tuple[int, int, int]:
    """The merchant's brand colour for headings and rules (the house colour if unset or unreadable)."""
    try:
        return brand.rgb(brand.effective_color(stored or ""))
    except BillingError:
        return brand.rgb(brand.DEFAULT_COLOR)


def check_renderable(invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> None:
    """Only finalized invoices have a number and immutable content worth printing."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValueError("draft invoices cannot be rendered; finalize the invoice first")
    InvoiceStatus(invoice.status)  # ValueError for an unknown status
    if not invoice.number or invoice.finalized_at is None:
        raise ValueError("invoice is not finalized (no number or finalized_at)")
    if merchant.id is not None and invoice.merchant_id not in (None, merchant.id):
        raise ValueError("invoice belongs to another merchant")
    for line in lines:
        if invoice.id is not None and line.invoice_id not in (None, invoice.id):
            raise ValueError("invoice line belongs to another invoice")
        if line.currency.upper() != invoice.currency.upper():
            raise ValueError("invoice line currency differs from the invoice currency")


def invoice_view(invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> InvoiceView:
    lang, locale = language(invoice.language), babel_locale(invoice.language)
    labels = {key: translate(lang, INVOICE, message) for key, message in INVOICE_LABELS.items()}
    status = InvoiceStatus(invoice.status)

    def money(amount_minor: int) -> str:
        return Money(amount_minor, invoice.currency).format(locale)

    def day(moment: datetime) -> str:
        return format_date(_utc_date(moment), "long", locale=locale)

    meta = [
        (labels["invoice_number"], invoice.number or ""),
        (labels["issue_date"], day(invoice.finalized_at)),
    ]
    if invoice.due_at is not None:
        meta.append((labels["due_date"], day(invoice.due_at)))
    if invoice.period_start is not None and invoice.period_end is not None:
        period = format_interval(_utc_date(invoice.period_start), _utc_date(invoice.period_end), "yMMMd", locale=locale)
        meta.append((labels["service_period"], period))
    if status == InvoiceStatus.PAID and invoice.paid_at is not None:
        meta.append((labels["paid_date"], day(invoice.paid_at)))

    def party(name: str, address: str, email: str, tax_id: str) -> list[str]:
        rows = [name, *(address or "").splitlines()]
        if email:
            rows.append(labels["email"] % {"email": email})
        if tax_id:
            rows.append(f"{labels['tax_id']}: {tax_id}")
        return [row.strip() for row in rows if row and row.strip()]

    bill_to = party(invoice.billing_name, invoice.billing_address, invoice.billing_email.strip(), invoice.tax_id)
    merchant_name = invoice.merchant_name or merchant.name
    # The seller as the invoice was issued; an invoice finalized before that snapshot has only the name.
    seller = party(
        invoice.seller_legal_name or merchant_name,
        invoice.seller_address,
        invoice.seller_email.strip(),
        invoice.seller_tax_id,
    )
    legacy = not (invoice.seller_legal_name or invoice.seller_address or invoice.seller_tax_id or invoice.seller_email)
    support_email = (merchant.support_email if legacy else invoice.seller_email).strip()

    rate = format_percent(Decimal(invoice.tax_rate_bp) / 10000, locale=locale, decimal_quantization=False)
    totals = [(labels["subtotal"], money(invoice.subtotal_minor))]
    totals.append((labels["tax"] % {"rate": rate}, money(invoice.tax_minor)))  # always, 0 % included
    totals.append((labels["total"], money(invoice.total_minor)))

    total = money(invoice.total_minor)
    balance: tuple[str, str] | None = None
    if status == InvoiceStatus.PAID:
        balance = (labels["amount_paid"], total)
        paid_on = day(invoice.paid_at or invoice.finalized_at)
        note = labels["note_paid"] % {"date": paid_on}
    elif status == InvoiceStatus.OPEN:
        balance = (labels["amount_due"], total)
        note = (
            labels["note_open"] % {"amount": total, "date": day(invoice.due_at)}
            if invoice.due_at is not None
            else labels["note_open_no_due"] % {"amount": total}
        )
    elif status == InvoiceStatus.UNCOLLECTIBLE:
        balance = (labels["amount_due"], total)
        note = labels["note_uncollectible"]
    else:
        note = labels["note_void"]

    title = labels["receipt"] if status == InvoiceStatus.PAID else labels["invoice"]
    return InvoiceView(
        labels=labels,
        status=status,
        title=title,
        status_text=labels[f"status_{status.value}"],
        merchant_name=merchant_name,
        support_line=labels["support"] % {"email": support_email} if support_email else "",
        seller=seller,
        number=invoice.number or "",
        meta=meta,
        bill_to=bill_to,
        lines=[
            InvoiceLineView(
                description=line_description(line.description, locale),
                quantity=format_decimal(line.quantity, locale=locale),
                unit_price=Money(line.unit_amount_minor, line.currency).format(locale),
                amount=Money(line.amount_minor, line.currency).format(locale),
            )
            for line in lines
        ],
        totals=totals,
        balance=balance,
        note=note,
        logo=merchant.logo_png or None,
        title_meta=f"{title} {invoice.number}",
        creation_date=invoice.finalized_at.astimezone(UTC),
        language=lang,
        accent=accent_rgb(merchant.brand_color),
    )
