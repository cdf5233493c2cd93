"""GET /invoices (filters; `format=csv`: the whole filtered list as one streamed CSV), GET /invoices/{invoice_id}, GET /invoices/{invoice_id}.pdf (finalized only)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from portal_app import routes
from portal_app.api.v1.endpoints import ApiCall, Download, get
from portal_app.api.v1.pagination import ListQuery, ObjectId, list_model
from portal_app.billing.facades import api as api_facade
from portal_app.billing.facades import api_integration
from portal_app.billing.objects import InvoiceObject

InvoiceList = list_model(InvoiceObject, "InvoiceList")


class InvoiceListQuery(ListQuery):
    status: Literal["draft", "open", "paid", "void", "uncollectible"] | None = None
    subscriber: ObjectId | None = Field(None, description="Only this subscriber's invoices.")
    subscription: ObjectId | None = Field(None, description="Only this subscription's invoices.")
    format: Literal["json", "csv"] = Field(
        "json", description="csv: every matching invoice (limit and starting_after do not apply), streamed."
    )


@get(
    routes.API_V1_INVOICES,
    summary="List invoices",
    response=InvoiceList,
    query=InvoiceListQuery,
    errors=(400,),
    also=("text/csv",),
    tag="invoices",
)
def list_invoices(call: ApiCall):
    q: InvoiceListQuery = call.query
    if q.format == "csv":
        chunks = api_integration.invoices_csv(
            call.merchant_id, status=q.status, subscriber_id=q.subscriber, subscription_id=q.subscription
        )
        return Download("invoices.csv", chunks, media_type="text/csv; charset=utf-8")
    return api_facade.list_invoices(
        call.merchant_id, status=q.status, subscriber_id=q.subscriber, subscription_id=q.subscription, **q.page()
    )


# Before API_V1_INVOICE in the table: "7.pdf" would match its {invoice_id} too.
@get(
    routes.API_V1_INVOICE_PDF,
    summary="Download a finalized invoice as PDF",
    response=None,
    media_type="application/pdf",
    errors=(404,),
    tag="invoices",
)
def get_invoice_pdf(call: ApiCall):
    filename, data = api_facade.invoice_pdf(call.merchant_id, call.ids["invoice_id"])
    return Download(filename, data)


@get(routes.API_V1_INVOICE, summary="Retrieve an invoice", response=InvoiceObject, errors=(404,), tag="invoices")
def get_invoice(call: ApiCall):
    return api_facade.get_invoice(call.merchant_id, call.ids["invoice_id"])


ENDPOINTS = [list_invoices, get_invoice_pdf, get_invoice]
