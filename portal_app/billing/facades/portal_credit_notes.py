"""The portal's credit notes: the signed-in subscriber's own, for the invoice history (its PDFs are
served by api/portal.py through facades/downloads.py, authorized by the same session)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlmodel import select

from portal_app.billing.credit_notes import list_credit_notes
from portal_app.billing.money import Money
from portal_app.db import session_scope
from portal_app.models import Invoice


@dataclasses.dataclass(frozen=True)
class CreditNoteRow:
    credit_note_id: int
    number: str
    issued_at: datetime
    total: Money
    invoice_number: str


def portal_credit_notes(*, merchant_id: int, subscriber_id: int) -> list[CreditNoteRow]:
    """The subscriber's credit notes, newest first."""
    with session_scope() as session:
        notes = list_credit_notes(session, merchant_id=merchant_id, subscriber_id=subscriber_id)
        ids = sorted({n.invoice_id for n in notes})
        numbers = dict(session.exec(select(Invoice.id, Invoice.number).where(Invoice.id.in_(ids))).all()) if ids else {}
        return [
            CreditNoteRow(
                n.id, n.number, n.issued_at, Money(n.total_minor, n.currency), numbers.get(n.invoice_id) or ""
            )
            for n in notes
        ]
