"""The REST API's refunds and credit notes: list the merchant's credit notes, refund a paid invoice.
Each call owns its transaction and is scoped by the API key's merchant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import select

from portal_app import db
from portal_app.billing import gateways
from portal_app.billing.facades.api import MAX_PAGE_SIZE, ObjectPage, api_actor
from portal_app.billing.facades.console.forms import parse_id
from portal_app.billing.objects import CreditNoteObject, RefundObject
from portal_app.billing.payments import refunding
from portal_app.billing.tenancy import get_scoped
from portal_app.models import CreditNote, Invoice, Refund, utcnow


def list_credit_notes(
    merchant_id: int,
    *,
    subscriber_id: int | None = None,
    invoice_id: int | None = None,
    limit: int = 10,
    starting_after: int | None = None,
) -> ObjectPage:
    """Newest first (by id), cursor-paginated like every list."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    stmt = select(CreditNote).where(CreditNote.merchant_id == merchant_id)
    if subscriber_id is not None:
        stmt = stmt.where(CreditNote.subscriber_id == int(subscriber_id))
    if invoice_id is not None:
        stmt = stmt.where(CreditNote.invoice_id == int(invoice_id))
    if starting_after is not None:
        stmt = stmt.where(CreditNote.id < int(starting_after))
    with db.session_scope() as session:
        found = session.exec(stmt.order_by(CreditNote.id.desc()).limit(limit + 1)).all()
        return ObjectPage([CreditNoteObject.of(n) for n in found[:limit]], len(found) > limit)


def refund_object(refund: Refund, note: CreditNote | None) -> RefundObject:
    return RefundObject(
        id=refund.id,
        invoice_id=refund.invoice_id,
        amount=refund.amount_minor,
        currency=refund.currency,
        status=refund.status,
        reason=refund.reason,
        failure_message=refund.failure_message or None,
        credit_note=CreditNoteObject.of(note) if note is not None else None,
        created=refund.created_at,
    )


def refund_invoice(
    merchant_id: int, invoice_id: Any, *, key_id: int, amount: int, reason: str, now: datetime | None = None
) -> RefundObject:
    """Refund `amount` minor units of a paid invoice; RefundError (400) when it cannot be made."""
    invoice_id = parse_id(invoice_id, "invoice")
    with db.session_scope() as session:
        get_scoped(session, Invoice, invoice_id, merchant_id)
    result = refunding.refund_invoice(
        db.get_engine(),
        merchant_id=merchant_id,
        invoice_id=invoice_id,
        amount_minor=amount,
        reason=reason,
        actor=api_actor(key_id),
        now=now or utcnow(),
        gateway=gateways.get_gateway(),
    )
    with db.session_scope() as session:
        refund = session.get(Refund, result.refund_id)
        note = session.get(CreditNote, result.credit_note_id) if result.credit_note_id else None
        return refund_object(refund, note)
