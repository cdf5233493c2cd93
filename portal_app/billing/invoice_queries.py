"""Reading invoices: one or a list, their lines, the stored PDF (rendered on first read), the year ZIP."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.credit_notes import credit_note_pdf_bytes, credit_notes_of_year
from portal_app.billing.documents.archive import credit_note_pdf_filename, year_zip
from portal_app.billing.documents.renderer import render_invoice_pdf
from portal_app.billing.errors import NotFound
from portal_app.billing.invoices import DOWNLOADABLE_STATUSES, InvoiceError, is_finalized
from portal_app.billing.statuses import InvoiceStatus
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.models import Invoice, InvoiceLine, Merchant, Subscriber

I = InvoiceStatus


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
    """(filename, zip bytes, file count) with every downloadable invoice and credit note of that year as a PDF."""

    get_scoped(session, Subscriber, subscriber_id, merchant_id)
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    # One query brings every stored PDF with its name and date; only an invoice whose PDF is not
    # stored yet (never downloaded, or its status changed since) is rendered and stored here.
    rows = session.execute(
        sa.select(Invoice.id, Invoice.number, Invoice.finalized_at, Invoice.pdf_bytes)
        .where(*_downloadable(merchant_id, subscriber_id), Invoice.finalized_at >= start, Invoice.finalized_at < end)
        .order_by(Invoice.finalized_at, Invoice.id)
    ).all()
    notes = credit_notes_of_year(session, merchant_id=merchant_id, subscriber_id=subscriber_id, year=year)
    if not rows and not notes:
        raise InvoiceError(f"No invoices in {year}.", code="not_found")
    files = [
        (
            f"{row.number}.pdf",
            row.pdf_bytes
            if row.pdf_bytes is not None
            else ensure_invoice_pdf(session, row.id, merchant_id=merchant_id),
            row.finalized_at,
        )
        for row in rows
    ]
    files += [(credit_note_pdf_filename(n.number), credit_note_pdf_bytes(session, n), n.issued_at) for n in notes]
    merchant = session.get(Merchant, merchant_id)
    return f"{merchant.slug}-invoices-{year}.zip", year_zip(files), len(files)
