"""Credit notes: gapless numbers per merchant and year (ACME-CN-2026-000001, a series of their own,
taken under the counter row's lock like invoice numbers), the split of a refund into subtotal and tax
in proportion to the invoice's, and issuing one (numbered, PDF rendered once and stored).

A finalized invoice never changes: what was credited of it is the sum of its credit notes.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from portal_app.billing.documents.credit_note_view import credit_note_view
from portal_app.billing.documents.renderer import render_view_pdf
from portal_app.billing.errors import NotFound
from portal_app.billing.tenancy import get_scoped
from portal_app.models import CreditNote, CreditNoteCounter, Invoice, Merchant, Refund

CREDIT_NOTE_INFIX = "CN"


def format_credit_note_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{CREDIT_NOTE_INFIX}-{year}-{value:06d}"


def allocate_credit_note_number(session: Session, *, merchant: Merchant, year: int) -> str:
    """The next number of the merchant's credit note series for `year`.

    Must run inside the transaction that stores the credit note: the UPDATE holds the counter row's
    lock (PostgreSQL) or the database write lock (SQLite, BEGIN IMMEDIATE) until commit, so a rolled
    back credit note gives its number back and none is ever skipped or used twice.
    """
    table = CreditNoteCounter.__table__
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(table)
        .values(merchant_id=merchant.id, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["merchant_id", "year"])
    )
    last = session.execute(
        sa.update(table)
        .where(table.c.merchant_id == merchant.id, table.c.year == year)
        .values(last_value=table.c.last_value + 1)
        .returning(table.c.last_value)
    ).scalar_one()
    return format_credit_note_number(merchant.invoice_prefix, year, last)


def split_credit(
    amount_minor: int, *, invoice_subtotal: int, invoice_tax: int, credited_before: int
) -> tuple[int, int]:
    """(subtotal, tax) of crediting `amount_minor` more of an invoice already credited `credited_before`.

    The tax credited so far is always floor(invoice_tax * credited / invoice_total): computed on the
    running total, each part is whole minor units, subtotal + tax == amount exactly, every part is >= 0,
    and the parts of several partial credits add up to at most the invoice's subtotal and tax (exactly
    them once the whole invoice is credited).
    """
    invoice_total = invoice_subtotal + invoice_tax
    if invoice_subtotal < 0 or invoice_tax < 0 or invoice_total <= 0:
        raise ValueError("only an invoice with a positive total can be credited")
    if amount_minor <= 0 or credited_before < 0 or credited_before + amount_minor > invoice_total:
        raise ValueError("the credit must be 1 .. the invoice's uncredited total")
    after = credited_before + amount_minor
    tax = invoice_tax * after // invoice_total - invoice_tax * credited_before // invoice_total
    return amount_minor - tax, tax


def credited_total(session: Session, invoice_id: int) -> int:
    """Minor units of the invoice credited so far (its credit notes)."""
    return session.execute(
        sa.select(sa.func.coalesce(sa.func.sum(CreditNote.total_minor), 0)).where(CreditNote.invoice_id == invoice_id)
    ).scalar_one()


def render_credit_note_pdf(note: CreditNote, invoice: Invoice, merchant: Merchant) -> bytes:
    return render_view_pdf(credit_note_view(note, invoice, merchant))


def issue_credit_note(
    session: Session, *, refund: Refund, invoice: Invoice, merchant: Merchant, now: datetime
) -> CreditNote:
    """Number, split and store the credit note documenting a succeeded refund, its PDF rendered once.

    Runs in the transaction that records the refund's success, with the invoice row locked by the
    caller (PostgreSQL) or the write lock held (SQLite), so the running total it splits on is current.
    """
    subtotal, tax = split_credit(
        refund.amount_minor,
        invoice_subtotal=invoice.subtotal_minor,
        invoice_tax=invoice.tax_minor,
        credited_before=credited_total(session, invoice.id),
    )
    note = CreditNote(
        merchant_id=invoice.merchant_id,
        subscriber_id=invoice.subscriber_id,
        invoice_id=invoice.id,
        refund_id=refund.id,
        number=allocate_credit_note_number(session, merchant=merchant, year=now.year),
        currency=invoice.currency,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=refund.amount_minor,
        reason=refund.reason,
        issued_at=now,
    )
    note.pdf_bytes = render_credit_note_pdf(note, invoice, merchant)
    session.add(note)
    session.flush()
    return note


def get_credit_note(
    session: Session, credit_note_id: int, *, merchant_id: int, subscriber_id: int | None = None
) -> CreditNote:
    """One credit note of the merchant (and of the subscriber, for portal sessions)."""
    note = get_scoped(session, CreditNote, credit_note_id, merchant_id)
    if subscriber_id is not None and note.subscriber_id != subscriber_id:
        raise NotFound("Credit note not found")
    return note


def list_credit_notes(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int | None = None,
    invoice_ids: list[int] | None = None,
) -> list[CreditNote]:
    """Newest first (without the PDF bytes loaded unless read)."""
    stmt = select(CreditNote).where(CreditNote.merchant_id == merchant_id)
    if subscriber_id is not None:
        stmt = stmt.where(CreditNote.subscriber_id == subscriber_id)
    if invoice_ids is not None:
        stmt = stmt.where(CreditNote.invoice_id.in_(invoice_ids))
    stmt = stmt.options(sa.orm.defer(CreditNote.pdf_bytes))
    return list(session.exec(stmt.order_by(CreditNote.issued_at.desc(), CreditNote.id.desc())))


def credit_note_pdf_bytes(session: Session, note: CreditNote) -> bytes:
    """The stored PDF; one issued before its bytes were stored is rendered once and stored now."""
    if note.pdf_bytes is not None:
        return note.pdf_bytes
    invoice = session.get(Invoice, note.invoice_id)
    merchant = session.get(Merchant, note.merchant_id)
    data = render_credit_note_pdf(note, invoice, merchant)
    table = CreditNote.__table__
    session.execute(sa.update(table).where(table.c.id == note.id, table.c.pdf_bytes.is_(None)).values(pdf_bytes=data))
    session.refresh(note, ["pdf_bytes"])
    return note.pdf_bytes


def credit_notes_of_year(session: Session, *, merchant_id: int, subscriber_id: int, year: int) -> list[CreditNote]:
    """The subscriber's credit notes issued in `year` (UTC), oldest first: they join the year's ZIP."""
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    return list(
        session.exec(
            select(CreditNote)
            .where(
                CreditNote.merchant_id == merchant_id,
                CreditNote.subscriber_id == subscriber_id,
                CreditNote.issued_at >= start,
                CreditNote.issued_at < end,
            )
            .order_by(CreditNote.issued_at, CreditNote.id)
        )
    )
