"""GET /credit_notes (filters), POST /invoices/{invoice_id}/refund (amount in minor units, reason)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, get, post
from portal_app.api.v1.pagination import ListQuery, ObjectId, list_model
from portal_app.billing.facades import api_refunds
from portal_app.billing.objects import CreditNoteObject, RefundObject

CreditNoteList = list_model(CreditNoteObject, "CreditNoteList")


class CreditNoteListQuery(ListQuery):
    subscriber: ObjectId | None = Field(None, description="Only this subscriber's credit notes.")
    invoice: ObjectId | None = Field(None, description="Only the credit notes of this invoice.")


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    amount: int = Field(
        ge=1, le=10**12, description="Minor units of the invoice's currency: 1 .. what is left of its charge."
    )
    reason: str = Field("", max_length=500, description="Printed on the credit note.")


@get(
    routes.API_V1_CREDIT_NOTES,
    summary="List credit notes",
    response=CreditNoteList,
    query=CreditNoteListQuery,
    errors=(400,),
    tag="credit_notes",
)
def list_credit_notes(call: ApiCall):
    q: CreditNoteListQuery = call.query
    return api_refunds.list_credit_notes(call.merchant_id, subscriber_id=q.subscriber, invoice_id=q.invoice, **q.page())


@post(
    routes.API_V1_INVOICE_REFUND,
    summary="Refund (part of) a paid invoice: a credit note is issued when the refund succeeds",
    response=RefundObject,
    body=RefundBody,
    errors=(400, 404, 409),
    tag="credit_notes",
)
def refund_invoice(call: ApiCall):
    return api_refunds.refund_invoice(
        call.merchant_id, call.ids["invoice_id"], key_id=call.key_id, amount=call.body.amount, reason=call.body.reason
    )


ENDPOINTS = [list_credit_notes, refund_invoice]
