"""REST API authentication: a live Bearer key or 401 (with WWW-Authenticate), and the secret never
reaches a log line."""

from __future__ import annotations

import logging

import pytest

from portal_app import db, routes
from portal_app.api.v1 import ENDPOINTS
from portal_app.billing.api_keys import revoke_api_key
from portal_app.billing.facades import api as api_facade
from tests.api_world import api_client, make_tenant


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _assert_401(resp):
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"].startswith("Bearer")
    assert resp.headers["cache-control"] == "no-store"
    error = resp.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key" and error["message"]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "bearer spk_unknown",
        "Bearer spk_" + "x" * 43,
        "Bearer x" * 50,
    ],
)
def test_no_or_unknown_key_is_401(client, tenant, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    _assert_401(client.get(routes.API_V1_PLANS, headers=headers))
    _assert_401(client.post(routes.API_V1_SUBSCRIBERS, headers=headers, json={}))


def test_every_route_refuses_a_missing_key(client, tenant):
    for endpoint in ENDPOINTS:
        url = endpoint.path.replace(":int", "").format(**tenant.ids)
        _assert_401(client.request(endpoint.method, url))


def test_a_live_key_works_and_a_revoked_one_does_not(client, engine, tenant):
    assert client.get(routes.API_V1_PLANS, headers=tenant.headers).status_code == 200
    lower_scheme = {"Authorization": f"bearer   {tenant.key}"}
    assert client.get(routes.API_V1_PLANS, headers=lower_scheme).status_code == 200
    with db.session_scope(engine) as session:
        revoke_api_key(session, merchant_id=tenant.world.merchant_id, key_id=tenant.key_id, actor="user:1")
    _assert_401(client.get(routes.API_V1_PLANS, headers=tenant.headers))


def test_the_secret_never_reaches_a_log_line(client, tenant, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    client.get(routes.API_V1_PLANS, headers=tenant.headers)
    client.get(routes.API_V1_PLANS, headers={"Authorization": f"Bearer {tenant.key}x"})  # unknown key
    client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, json={"name": "x"})  # a 400

    # A failure inside a request is logged with its traceback: still no secret.
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api_facade, "list_plans", explode)
    assert client.get(routes.API_V1_PLANS, headers=tenant.headers).status_code == 500
    assert "boom" in caplog.text  # the failure was logged ...
    assert tenant.key not in caplog.text  # ... and no line carries the key
    assert tenant.key[4:] not in caplog.text


def test_cookies_never_authenticate_and_cross_site_bearer_calls_work(client, engine, tenant):
    """Only the Bearer header opens the API: a browser's console cookie gets 401 (so a cross-site page
    cannot ride a session), and a Bearer call with any Origin is served (no form CSRF check here)."""
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, "whatever-the-browser-holds")
    _assert_401(client.get(routes.API_V1_PLANS))
    resp = client.post(
        routes.API_V1_SUBSCRIBERS,
        headers={**tenant.headers, "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        json={"name": "Bo", "email": "bo@example.com", "plan": tenant.world.plan_id},
    )
    assert resp.status_code == 200
    # The app's security headers still apply, and the answer is never cached.
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["cache-control"] == "no-store"
    assert resp.headers["x-request-id"]
