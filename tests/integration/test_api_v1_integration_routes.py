"""The REST API's integration routes: webhook endpoints (the secret once), events (what webhooks
deliver, newest first, paged), portal sessions (a single-use URL that opens the portal at its flow,
never stored for replays) and the invoices CSV (streamed, the list's filters, this merchant only)."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import Session, select

from portal_app.models import ApiIdempotencyKey, OutgoingEvent, WebhookEndpoint
from tests.api_world import api_client, make_tenant

pytestmark = pytest.mark.integration


@pytest.fixture
def world(engine, gateway, monkeypatch):
    a = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    b = make_tenant(engine, gateway, slug="gym", prefix="GYM")
    return a, b, api_client(engine, monkeypatch)


def test_a_webhook_endpoint_shows_its_secret_once_and_can_be_deleted(world, engine):
    a, _b, client = world
    made = client.post(
        "/api/v1/webhook_endpoints",
        headers=a.headers,
        json={"url": "http://127.0.0.1:9/hooks", "event_types": ["invoice.paid", "subscription.canceled"]},
    )
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["object"] == "webhook_endpoint" and body["secret"].startswith("whsec_")
    assert sorted(body["event_types"]) == ["invoice.paid", "subscription.canceled"] and body["enabled"] is True
    with Session(engine) as session:
        assert session.get(WebhookEndpoint, body["id"]).secret == body["secret"]
    listed = client.get("/api/v1/webhook_endpoints", headers=a.headers).json()["data"]
    assert body["id"] in [e["id"] for e in listed]
    assert all(e["secret"] is None for e in listed), "the secret is in the creating answer only"
    gone = client.delete(f"/api/v1/webhook_endpoints/{body['id']}", headers=a.headers)
    assert gone.status_code == 200 and gone.json()["deleted"] is True and gone.json()["secret"] is None
    assert client.delete(f"/api/v1/webhook_endpoints/{body['id']}", headers=a.headers).status_code == 404
    assert body["id"] not in [
        e["id"] for e in client.get("/api/v1/webhook_endpoints", headers=a.headers).json()["data"]
    ]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"url": "ftp://127.0.0.1/x"}, "url"),
        ({"url": "http://127.0.0.1:9/x", "event_types": ["invoice.deleted"]}, "event_types.0"),
        ({"url": "http://127.0.0.1:9/x", "event_types": "invoice.paid"}, "event_types"),
        ({"url": "http://127.0.0.1:9/x", "secret": "whsec_mine"}, "secret"),
        ({}, "url"),
    ],
)
def test_a_bad_webhook_endpoint_is_refused_naming_the_parameter(world, body, param):
    a, _b, client = world
    resp = client.post("/api/v1/webhook_endpoints", headers=a.headers, json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["param"] == param


def test_a_webhook_url_must_be_https_in_production(world, monkeypatch):
    from portal_app.billing.webhooks_out import endpoints

    a, _b, client = world
    monkeypatch.setattr(endpoints, "is_production", lambda: True)
    resp = client.post("/api/v1/webhook_endpoints", headers=a.headers, json={"url": "http://shop.example/hooks"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "url"


def test_events_are_the_outbox_newest_first_paged_and_filtered(world, engine):
    a, b, client = world
    first = client.get("/api/v1/events", params={"limit": 2}, headers=a.headers).json()
    with Session(engine) as session:
        outbox = session.exec(
            select(OutgoingEvent)
            .where(OutgoingEvent.merchant_id == a.world.merchant_id)
            .order_by(OutgoingEvent.id.desc())
        ).all()
    assert len(outbox) >= 3, "the tenant's subscription wrote its events"
    assert [e["id"] for e in first["data"]] == [e.public_id for e in outbox[:2]]
    assert first["has_more"] is True
    rest = client.get(
        "/api/v1/events", params={"limit": 100, "starting_after": first["next_cursor"]}, headers=a.headers
    ).json()
    assert [e["id"] for e in rest["data"]] == [e.public_id for e in outbox[2:]] and rest["has_more"] is False
    paid = client.get("/api/v1/events", params={"type": "invoice.paid"}, headers=a.headers).json()["data"]
    assert paid and {e["type"] for e in paid} == {"invoice.paid"}
    assert paid[0]["data"]["object"]["id"] == a.invoice_id and paid[0]["data"]["object"]["status"] == "paid"
    assert client.get("/api/v1/events", params={"type": "nope"}, headers=a.headers).status_code == 400
    theirs = {e["id"] for e in client.get("/api/v1/events", params={"limit": 100}, headers=b.headers).json()["data"]}
    assert theirs.isdisjoint(e.public_id for e in outbox)


def test_a_portal_session_opens_the_portal_once_at_its_flow(world, engine):
    a, _b, client = world
    resp = client.post(
        "/api/v1/portal_sessions",
        headers={**a.headers, "Idempotency-Key": "manage-billing-1"},
        json={
            "subscriber_id": a.world.subscriber_id,
            "flow": "payment_method_update",
            "return_url": "https://shop.example/account",
        },
    )
    assert resp.status_code == 200, resp.text
    session_obj = resp.json()
    assert session_obj["object"] == "portal_session" and session_obj["flow"] == "payment_method_update"
    path = "/" + session_obj["url"].split("/", 3)[3]
    opened = client.get(path)
    assert opened.status_code == 303 and opened.headers["location"].endswith("/portal?flow=payment_method_update")
    assert "portal_session=" in opened.headers["set-cookie"]
    again = client.get(path)
    assert again.headers["location"].endswith("/invalid-link"), "single use"
    # An idempotent replay never hands the URL out again (it was never stored).
    replay = client.post(
        "/api/v1/portal_sessions",
        headers={**a.headers, "Idempotency-Key": "manage-billing-1"},
        json={
            "subscriber_id": a.world.subscriber_id,
            "flow": "payment_method_update",
            "return_url": "https://shop.example/account",
        },
    )
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["id"] == session_obj["id"] and replay.json()["url"] is None
    token = session_obj["url"].rsplit("/", 1)[1]
    with Session(engine) as session:
        stored = session.exec(select(ApiIdempotencyKey.response_body)).all()
    assert stored and all(token not in (body or "") for body in stored)


@pytest.mark.parametrize(
    "body",
    [
        {"subscriber_id": 1, "flow": "delete_everything"},
        {"subscriber_id": 1, "return_url": "javascript:alert(1)"},
        {"subscriber_id": "1"},
        {"subscriber_id": 1, "return_url": "https://x.example/" + "a" * 2000},
    ],
)
def test_a_bad_portal_session_is_refused(world, body):
    a, _b, client = world
    body = {**body, "subscriber_id": a.world.subscriber_id if body["subscriber_id"] == 1 else body["subscriber_id"]}
    resp = client.post("/api/v1/portal_sessions", headers=a.headers, json=body)
    assert resp.status_code == 400, resp.text


def test_the_invoices_csv_is_streamed_with_the_lists_filters(world):
    a, b, client = world
    with client.stream("GET", "/api/v1/invoices", params={"format": "csv"}, headers=a.headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/csv")
        assert "attachment" in resp.headers["content-disposition"]
        assert resp.headers["cache-control"] == "no-store"
        text = "".join(resp.iter_text())
    assert not text.startswith("\ufeff"), "no BOM for programs"
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [int(r["invoice_id"]) for r in rows] == [a.invoice_id]
    paid = client.get("/api/v1/invoices", params={"format": "csv", "status": "void"}, headers=a.headers)
    assert list(csv.DictReader(io.StringIO(paid.text))) == []
    others = client.get(
        "/api/v1/invoices", params={"format": "csv", "subscriber": a.world.subscriber_id}, headers=b.headers
    )
    assert list(csv.DictReader(io.StringIO(others.text))) == [], "another merchant's subscriber matches nothing"
    assert client.get("/api/v1/invoices", params={"format": "xml"}, headers=a.headers).status_code == 400
    assert client.get("/api/v1/invoices", params={"format": "csv"}).status_code == 401
