"""REST API subscriptions: filters, retrieve, cancel now or at the period end, undo; deleted
subscriptions are gone."""

from __future__ import annotations

import pytest

from portal_app import db, routes
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.subscriptions import delete_subscription
from portal_app.models import AuditEvent, utcnow
from tests.api_world import api_client, make_tenant
from tests.builders import rows


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _list(client, tenant, **params) -> list[int]:
    resp = client.get(routes.API_V1_SUBSCRIPTIONS, params=params, headers=tenant.headers)
    assert resp.status_code == 200, resp.text
    return [s["id"] for s in resp.json()["data"]]


def test_filters(client, tenant):
    sub_id, world = tenant.subscription_id, tenant.world
    assert _list(client, tenant) == [sub_id]
    assert _list(client, tenant, status="active") == [sub_id]
    assert _list(client, tenant, status="canceled") == []
    assert _list(client, tenant, plan=world.plan_id) == [sub_id]
    assert _list(client, tenant, plan=world.plan_id + 100) == []
    assert _list(client, tenant, subscriber=world.subscriber_id) == [sub_id]
    assert _list(client, tenant, subscriber=world.subscriber_id + 100) == []


def _cancel(client, tenant, at_period_end):
    url = routes.API_V1_SUBSCRIPTION_CANCEL.format(subscription_id=tenant.subscription_id)
    return client.post(url, headers=tenant.headers, json={"at_period_end": at_period_end})


def test_cancel_at_period_end_then_undo(client, engine, tenant):
    resp = _cancel(client, tenant, True)
    assert resp.status_code == 200
    sub = SubscriptionObject.model_validate(resp.json())
    assert sub.status == "active" and sub.cancel_at_period_end and sub.canceled_at is not None
    assert _cancel(client, tenant, True).status_code == 409  # already set to end
    undo = client.post(
        routes.API_V1_SUBSCRIPTION_UNDO_CANCEL.format(subscription_id=tenant.subscription_id), headers=tenant.headers
    )
    assert undo.status_code == 200
    assert undo.json()["cancel_at_period_end"] is False and undo.json()["canceled_at"] is None
    kinds = [(a.kind, a.actor) for a in rows(engine, AuditEvent)]
    assert ("subscription_canceled", f"api_key:{tenant.key_id}") in kinds
    assert ("cancellation_undone", f"api_key:{tenant.key_id}") in kinds


def test_cancel_now_ends_it(client, tenant):
    resp = _cancel(client, tenant, False)
    assert resp.status_code == 200
    assert resp.json()["status"] == "canceled" and resp.json()["ended_at"] is not None
    assert _cancel(client, tenant, False).status_code == 409
    got = client.get(routes.API_V1_SUBSCRIPTION.format(subscription_id=tenant.subscription_id), headers=tenant.headers)
    assert got.json()["status"] == "canceled"


def test_cancel_needs_an_explicit_choice(client, tenant):
    url = routes.API_V1_SUBSCRIPTION_CANCEL.format(subscription_id=tenant.subscription_id)
    resp = client.post(url, headers=tenant.headers, json={})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "at_period_end"
    resp = client.post(url, headers=tenant.headers, json={"at_period_end": "false"})
    assert resp.status_code == 400 and resp.json()["error"]["param"] == "at_period_end"


def test_a_deleted_subscription_is_gone(client, engine, tenant):
    with db.session_scope(engine) as session:
        delete_subscription(
            session, tenant.subscription_id, merchant_id=tenant.world.merchant_id, actor="user:1", now=utcnow()
        )
    assert _list(client, tenant) == []
    url = routes.API_V1_SUBSCRIPTION.format(subscription_id=tenant.subscription_id)
    assert client.get(url, headers=tenant.headers).status_code == 404
    assert _cancel(client, tenant, False).status_code == 404
