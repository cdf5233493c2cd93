"""Tenancy on every route of the REST API: merchant B's key, sent with merchant A's ids (in the
path, in filters, in bodies), gets 404 or an empty list, and nothing of A changes. The routes come
from the route table, so a new route is covered as soon as it exists (a POST body needs a sample)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from portal_app.api.v1 import ENDPOINTS
from portal_app.api.v1.credit_notes import RefundBody
from portal_app.api.v1.endpoints import Endpoint, NoBody
from portal_app.api.v1.plan_changes import PlanChangeBody
from portal_app.api.v1.portal_sessions import PortalSessionCreate
from portal_app.api.v1.subscribers import SubscriberCreate
from portal_app.api.v1.subscriptions import CancelBody
from portal_app.api.v1.webhooks import WebhookEndpointCreate
from portal_app.billing.payments.refunding import refund_invoice
from portal_app.models import (
    CreditNote,
    Invoice,
    OutgoingEvent,
    Plan,
    Subscriber,
    Subscription,
    WebhookEndpoint,
    utcnow,
)
from tests.api_world import Tenant, api_client, make_tenant
from tests.builders import table_snapshot

# A valid body per body model, naming merchant A's objects wherever it names one.
SAMPLE_BODIES = {
    SubscriberCreate: lambda a: {"name": "Eve", "email": "eve@example.com", "plan": a.world.plan_id},
    CancelBody: lambda a: {"at_period_end": False},
    NoBody: lambda a: None,
    WebhookEndpointCreate: lambda a: {"url": "http://127.0.0.1:9/b"},
    PortalSessionCreate: lambda a: {"subscriber_id": a.world.subscriber_id, "flow": "invoices"},
    PlanChangeBody: lambda a: {"plan_id": a.world.plan_id},
    RefundBody: lambda a: {"amount": 1},
}
# POSTs that name no object of anyone's: B's call makes B's own object, and A's are untouched.
MAKES_ITS_OWN = {"create_webhook_endpoint"}
# Query filters that name another object: the path parameter whose id they take.
ID_FILTERS = {
    "plan": "plan_id",
    "subscriber": "subscriber_id",
    "subscription": "subscription_id",
    "invoice": "invoice_id",
}
TABLES = {
    "plan": Plan,
    "subscriber": Subscriber,
    "subscription": Subscription,
    "invoice": Invoice,
    "webhook_endpoint": WebhookEndpoint,
    "event": OutgoingEvent,
    "credit_note": CreditNote,
}


def _row(session: Session, obj: dict):
    table = TABLES[obj["object"]]
    if table is OutgoingEvent:  # events are known by their public id (the webhook-id)
        return session.exec(select(OutgoingEvent).where(OutgoingEvent.public_id == obj["id"])).one()
    return session.get(table, obj["id"])


@pytest.fixture
def tenants(engine, gateway):
    pair = (
        make_tenant(engine, gateway, slug="fit", prefix="FIT"),
        make_tenant(engine, gateway, slug="gym", prefix="GYM"),
    )
    for tenant in pair:  # a credit note each, so that its list has something of B's to show
        refund_invoice(
            engine,
            merchant_id=tenant.world.merchant_id,
            invoice_id=tenant.invoice_id,
            amount_minor=100,
            reason="",
            actor="owner",
            now=utcnow(),
            gateway=gateway,
        )
    return pair


def _url(endpoint: Endpoint, ids: dict[str, int]) -> str:
    return endpoint.openapi_path.format(**ids)


def _body(endpoint: Endpoint, a: Tenant):
    if endpoint.body is None:
        return None
    assert endpoint.body in SAMPLE_BODIES, f"add a sample {endpoint.body.__name__} to SAMPLE_BODIES"
    return SAMPLE_BODIES[endpoint.body](a)


def _only_theirs(engine, body: dict, merchant_id: int) -> None:
    with Session(engine) as session:
        for obj in body["data"]:
            assert obj["object"] in TABLES, f"add the {obj['object']!r} table to TABLES"
            row = _row(session, obj)
            assert row.merchant_id == merchant_id, obj


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: f"{e.method} {e.openapi_path}")
def test_merchant_b_sees_and_changes_nothing_of_merchant_a(endpoint, engine, monkeypatch, tenants):
    a, b = tenants
    client = api_client(engine, monkeypatch)
    before = table_snapshot(engine)
    url, body = _url(endpoint, a.ids), _body(endpoint, a)
    if endpoint.operation_id in MAKES_ITS_OWN:
        a_before = client.get(url, headers=a.headers).json()["data"]
        resp = client.request(endpoint.method, url, headers=b.headers, json=body)
        assert resp.status_code == 200, resp.text
        _only_theirs(engine, {"data": [resp.json()]}, b.world.merchant_id)
        assert client.get(url, headers=a.headers).json()["data"] == a_before
        return
    resp = client.request(endpoint.method, url, headers=b.headers, json=body)
    assert table_snapshot(engine) == before  # B's request changed nothing (of A's, or at all)
    if endpoint.path_params or endpoint.method == "POST":
        # Every object named by id (path or body) is A's: not found, as if it did not exist.
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["code"] == "resource_missing"
        # And A's own key reaches it (the 404 is about B, not about the id).
        assert client.request(endpoint.method, url, headers=a.headers, json=body).status_code != 404
    else:
        assert resp.status_code == 200, resp.text
        assert resp.json()["data"], "B's own objects are listed"
        _only_theirs(engine, resp.json(), b.world.merchant_id)
        for name in endpoint.query.model_fields if endpoint.query else {}:
            if name in ID_FILTERS:
                filtered = client.get(url, params={name: a.ids[ID_FILTERS[name]]}, headers=b.headers)
                assert filtered.status_code == 200 and filtered.json()["data"] == [], name
        for name in endpoint.query.model_fields if endpoint.query else {}:
            if name == "email_or_name":
                found = client.get(url, params={name: "lovelace"}, headers=b.headers).json()["data"]
                _only_theirs(engine, {"data": found}, b.world.merchant_id)
