"""REST API refunds and credit notes: POST /invoices/{id}/refund (validated body, Idempotency-Key
replays without a second refund, another merchant's invoice is 404) and GET /credit_notes (paginated)."""

from __future__ import annotations

import pytest

from portal_app import routes
from portal_app.billing import gateways
from portal_app.models import CreditNote, Refund
from tests.api_world import api_client, make_tenant
from tests.builders import rows


@pytest.fixture
def tenants(any_engine, gateway, monkeypatch):
    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    return make_tenant(any_engine, gateway, slug="fit", prefix="FIT"), make_tenant(
        any_engine, gateway, slug="gym", prefix="GYM"
    )


@pytest.fixture
def client(any_engine, monkeypatch):
    return api_client(any_engine, monkeypatch)


def _refund(client, tenant, body, invoice_id=None, key=None):
    url = routes.API_V1_INVOICE_REFUND.format(invoice_id=invoice_id or tenant.invoice_id)
    headers = {**tenant.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(url, headers=headers, json=body)


def test_refund_issues_a_credit_note_and_a_replay_does_not_refund_twice(client, any_engine, gateway, tenants):
    mine, _ = tenants
    first = _refund(client, mine, {"amount": 1000, "reason": "Goodwill"}, key="refund-1")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["object"] == "refund" and body["status"] == "succeeded" and body["amount"] == 1000
    assert body["credit_note"]["number"] == "FIT-CN-" + body["credit_note"]["issued_at"][:4] + "-000001"
    again = _refund(client, mine, {"amount": 1000, "reason": "Goodwill"}, key="refund-1")
    assert again.status_code == 200 and again.json() == body
    assert len(rows(any_engine, Refund)) == 1 and len(gateway.refunds()) == 1

    listed = client.get(routes.API_V1_CREDIT_NOTES, headers=mine.headers, params={"limit": 1})
    assert listed.status_code == 200
    data = listed.json()
    assert data["object"] == "list" and [n["id"] for n in data["data"]] == [body["credit_note"]["id"]]
    assert data["data"][0]["total"] == 1000 and data["has_more"] is False
    assert client.get(routes.API_V1_CREDIT_NOTES, headers=mine.headers, params={"invoice": 999}).json()["data"] == []


def test_bad_bodies_and_other_merchants_invoices_are_refused(client, any_engine, gateway, tenants):
    mine, theirs = tenants
    for body in ({"amount": 0}, {"amount": "10"}, {"amount": 10.5}, {"amount": 100, "extra": 1}, {}):
        resp = _refund(client, mine, body)
        assert resp.status_code == 400, (body, resp.text)
    too_much = _refund(client, mine, {"amount": 10**9})
    assert too_much.status_code == 400 and too_much.json()["error"]["code"] == "exceeds_refundable"
    assert _refund(client, mine, {"amount": 100}, invoice_id=theirs.invoice_id).status_code == 404
    assert rows(any_engine, Refund) == [] and gateway.refunds() == []
    _refund(client, theirs, {"amount": 100})
    assert client.get(routes.API_V1_CREDIT_NOTES, headers=mine.headers).json()["data"] == []
    assert len(rows(any_engine, CreditNote)) == 1
