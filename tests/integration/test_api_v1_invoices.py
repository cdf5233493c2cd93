"""REST API invoices: filters, retrieve with lines, the PDF of a finalized invoice only; plans with
their signup URL."""

from __future__ import annotations

import pytest

from portal_app import db, routes
from portal_app.billing import invoices
from portal_app.billing.objects import InvoiceObject, PlanObject
from portal_app.billing.plans import archive_plan
from portal_app.models import utcnow
from tests.api_world import api_client, make_tenant


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _draft(engine, tenant) -> int:
    with db.session_scope(engine) as session:
        return invoices.create_draft_invoice(
            session, tenant.subscription_id, merchant_id=tenant.world.merchant_id, now=utcnow()
        ).id


def test_list_filters_and_retrieve(client, engine, tenant):
    draft_id = _draft(engine, tenant)

    def ids(**params):
        return [
            i["id"] for i in client.get(routes.API_V1_INVOICES, params=params, headers=tenant.headers).json()["data"]
        ]

    assert ids() == [draft_id, tenant.invoice_id]
    assert ids(status="paid") == [tenant.invoice_id]
    assert ids(status="draft") == [draft_id]
    assert ids(subscriber=tenant.world.subscriber_id) == [draft_id, tenant.invoice_id]
    assert ids(subscription=tenant.subscription_id + 1) == []
    got = client.get(routes.API_V1_INVOICE.format(invoice_id=tenant.invoice_id), headers=tenant.headers)
    invoice = InvoiceObject.model_validate(got.json())
    assert invoice.number.startswith("FIT-")
    assert invoice.status == "paid" and invoice.total == 2900 and invoice.lines
    assert invoice.pdf_url == routes.api_invoice_pdf_url(tenant.invoice_id)


def test_the_pdf_of_a_finalized_invoice_and_none_of_a_draft(client, engine, tenant):
    resp = client.get(routes.api_invoice_pdf_url(tenant.invoice_id), headers=tenant.headers)
    assert resp.status_code == 200 and resp.content.startswith(b"%PDF")
    assert resp.headers["content-type"] == "application/pdf"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["content-disposition"].startswith('attachment; filename="FIT-')
    draft_id = _draft(engine, tenant)
    draft = client.get(routes.API_V1_INVOICE.format(invoice_id=draft_id), headers=tenant.headers).json()
    assert draft["pdf_url"] is None
    resp = client.get(routes.api_invoice_pdf_url(draft_id), headers=tenant.headers)
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "resource_missing"


def test_plans_carry_their_signup_url_and_archived_ones_show_inactive(client, engine, tenant):
    with db.session_scope(engine) as session:
        archive_plan(session, tenant.world.plan_id, merchant_id=tenant.world.merchant_id)
    resp = client.get(routes.API_V1_PLAN.format(plan_id=tenant.world.plan_id), headers=tenant.headers)
    plan = PlanObject.model_validate(resp.json())
    assert plan.signup_url == routes.signup_url("fit", tenant.world.plan_id) and plan.active is False
    listed = client.get(routes.API_V1_PLANS, headers=tenant.headers).json()["data"]
    assert [p["id"] for p in listed] == [tenant.world.plan_id]
