"""Files the HTTP API serves: a subscriber's invoice PDFs and year ZIPs, and merchant logos.

Each call owns its transaction and answers None for anything the caller may not have, so a
route can reply 404 without learning why (another subscriber's invoice looks like no invoice).
"""

from __future__ import annotations

import dataclasses
import hashlib

from sqlmodel import select

from portal_app.billing import credit_notes, invoice_queries, invoices
from portal_app.billing.documents.archive import credit_note_pdf_filename, invoice_pdf_filename
from portal_app.billing.errors import BillingError
from portal_app.db import session_scope
from portal_app.models import Merchant


@dataclasses.dataclass(frozen=True)
class Download:
    filename: str
    media_type: str
    data: bytes


@dataclasses.dataclass(frozen=True)
class Logo:
    content_type: str
    data: bytes

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:32]


def invoice_pdf(invoice_id: int, *, merchant_id: int, subscriber_id: int) -> Download | None:
    """One downloadable invoice of this subscriber as a PDF (rendered once, then stored)."""
    try:
        with session_scope() as session:
            invoice = invoice_queries.get_invoice(
                session, invoice_id, merchant_id=merchant_id, subscriber_id=subscriber_id
            )
            if not invoices.is_downloadable(invoice.status):
                return None
            data = invoice_queries.ensure_invoice_pdf(
                session, invoice.id, merchant_id=merchant_id, subscriber_id=subscriber_id
            )
            return Download(invoice_pdf_filename(invoice), "application/pdf", data)
    except BillingError:
        return None


def credit_note_pdf(credit_note_id: int, *, merchant_id: int, subscriber_id: int) -> Download | None:
    """One credit note of this subscriber as a PDF (stored when it was issued)."""
    try:
        with session_scope() as session:
            note = credit_notes.get_credit_note(
                session, credit_note_id, merchant_id=merchant_id, subscriber_id=subscriber_id
            )
            data = credit_notes.credit_note_pdf_bytes(session, note)
            return Download(credit_note_pdf_filename(note.number), "application/pdf", data)
    except BillingError:
        return None


def invoice_year_zip(year: int, *, merchant_id: int, subscriber_id: int) -> Download | None:
    """Every downloadable invoice this subscriber was issued in `year`, one PDF each, or None if none."""
    try:
        with session_scope() as session:
            filename, data, count = invoice_queries.year_zip_for_subscriber(session, subscriber_id, merchant_id, year)
    except BillingError:
        return None
    return Download(filename, "application/zip", data) if count else None


def merchant_logo(slug: str) -> Logo | None:
    """A merchant's uploaded logo (public: every portal page and email shows it)."""
    with session_scope() as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == slug)).first()
        if merchant is None or not merchant.logo_png:
            return None
        return Logo(merchant.logo_content_type or "image/png", merchant.logo_png)
