"""The REST API's rate limit: per key (another key of the same merchant is not held back), 429 with
Retry-After and a rate_limit_error."""

from __future__ import annotations

from portal_app import db, routes
from portal_app.api.v1 import throttle
from portal_app.billing.api_keys import create_api_key
from tests.api_world import api_client, make_tenant


def test_a_key_over_its_limit_gets_429_and_other_keys_do_not(engine, gateway, monkeypatch):
    tenant = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    other = make_tenant(engine, gateway, slug="gym", prefix="GYM")
    with db.session_scope(engine) as session:
        _, second_key = create_api_key(session, merchant_id=tenant.world.merchant_id, name="second", actor="user:1")
    client = api_client(engine, monkeypatch, limit=3)
    for _ in range(3):
        assert client.get(routes.API_V1_PLANS, headers=tenant.headers).status_code == 200
    resp = client.get(routes.API_V1_PLANS, headers=tenant.headers)
    assert resp.status_code == 429
    assert resp.headers["retry-after"] == str(throttle.WINDOW_SECONDS)
    assert resp.json()["error"]["type"] == "rate_limit_error" and resp.json()["error"]["code"] == "rate_limit"
    # POSTs count too.
    assert client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, json={}).status_code == 429
    assert client.get(routes.API_V1_PLANS, headers={"Authorization": f"Bearer {second_key}"}).status_code == 200
    assert client.get(routes.API_V1_PLANS, headers=other.headers).status_code == 200


def test_requests_without_a_valid_key_do_not_spend_a_keys_budget(engine, gateway, monkeypatch):
    tenant = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    client = api_client(engine, monkeypatch, limit=2)
    for _ in range(5):
        assert client.get(routes.API_V1_PLANS, headers={"Authorization": "Bearer spk_nope"}).status_code == 401
    assert client.get(routes.API_V1_PLANS, headers=tenant.headers).status_code == 200
