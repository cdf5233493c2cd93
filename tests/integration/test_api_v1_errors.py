"""REST API errors: Stripe-like objects with a type, a code, a message and (for a parameter) `param`;
garbage in any parameter is a 400 or a 404, never a 500."""

from __future__ import annotations

import pytest

from portal_app import routes
from portal_app.billing.facades import api as api_facade
from portal_app.models import Subscriber
from tests.api_world import api_client, make_tenant
from tests.builders import rows


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _error(resp, status: int, code: str, param: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["cache-control"] == "no-store"
    error = resp.json()["error"]
    assert error["code"] == code and error["message"] and error["type"]
    assert error.get("param") == param
    return error


@pytest.mark.parametrize(
    ("query", "param", "code"),
    [
        ("limit=0", "limit", "parameter_invalid"),
        ("limit=101", "limit", "parameter_invalid"),
        ("limit=ten", "limit", "parameter_invalid"),
        ("limit=1.5", "limit", "parameter_invalid"),
        ("starting_after=-3", "starting_after", "parameter_invalid"),
        ("starting_after=99999999999999999999999", "starting_after", "parameter_invalid"),
        ("limit=1&limit=2", "limit", "parameter_invalid"),
        ("colour=red", "colour", "parameter_unknown"),
    ],
)
def test_bad_query_parameters_are_400_with_param(client, tenant, query, param, code):
    _error(client.get(f"{routes.API_V1_PLANS}?{query}", headers=tenant.headers), 400, code, param)


def test_bad_filters_are_400(client, tenant):
    resp = client.get(f"{routes.API_V1_SUBSCRIPTIONS}?status=sleeping", headers=tenant.headers)
    _error(resp, 400, "parameter_invalid", "status")
    resp = client.get(f"{routes.API_V1_SUBSCRIBERS}?email_or_name={'a' * 101}", headers=tenant.headers)
    _error(resp, 400, "parameter_invalid", "email_or_name")
    _error(
        client.get(f"{routes.API_V1_PLAN.format(plan_id=tenant.world.plan_id)}?x=1", headers=tenant.headers),
        400,
        "parameter_unknown",
        "x",
    )


@pytest.mark.parametrize("bad_id", ["abc", "0", "-1", "1e3", "９", "99999999999999999999", "4611686018427387904"])
def test_garbage_ids_are_404(client, tenant, bad_id):
    for template in (routes.API_V1_PLAN, routes.API_V1_SUBSCRIBER, routes.API_V1_INVOICE):
        url = template.replace("{plan_id}", bad_id).replace("{subscriber_id}", bad_id).replace("{invoice_id}", bad_id)
        _error(client.get(url, headers=tenant.headers), 404, "resource_missing")
    _error(client.get(f"{routes.API_V1_INVOICES}/{bad_id}.pdf", headers=tenant.headers), 404, "resource_missing")


def test_unknown_urls_and_methods_answer_json(client, tenant):
    _error(client.get(f"{routes.API_V1}/customers", headers=tenant.headers), 404, "resource_missing")
    resp = client.delete(routes.API_V1_PLANS, headers=tenant.headers)
    _error(resp, 405, "method_not_allowed")
    assert resp.headers["allow"] == "GET"


def _post_subscriber(client, tenant, body, **kw):
    return client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, **kw, json=body)


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"email": "bo@example.com", "plan": 1}, "parameter_missing", "name"),
        ({"name": "Bo", "email": "bo@example.com", "plan": 1, "card": "4242424242424242"}, "parameter_unknown", "card"),
        ({"name": "Bo", "email": "bo@example.com", "plan": "1"}, "parameter_invalid", "plan"),
        (
            {"name": "Bo", "email": "bo@example.com", "plan": 1, "send_invitation": "yes"},
            "parameter_invalid",
            "send_invitation",
        ),
        ({"name": "Bo", "email": "bo@example.com", "plan": 1, "language": "fr"}, "parameter_invalid", "language"),
        ({"name": "x" * 121, "email": "bo@example.com", "plan": 1}, "parameter_invalid", "name"),
        ({"name": "Bo", "email": "not an email", "plan": 1}, "invalid_input", "email"),
        ({"name": "   ", "email": "bo@example.com", "plan": 1}, "invalid_input", "name"),
        ([1, 2], "invalid_json", None),
        ("just text", "invalid_json", None),
    ],
)
def test_bad_bodies_are_400_and_write_nothing(client, engine, tenant, body, code, param):
    before = len(rows(engine, Subscriber))
    _error(_post_subscriber(client, tenant, body), 400, code, param)
    assert len(rows(engine, Subscriber)) == before


def test_a_body_that_is_not_json_is_400(client, tenant):
    resp = client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, content=b"{name: Bo")
    _error(resp, 400, "invalid_json")
    resp = client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, content=b"\xff\xfe")
    _error(resp, 400, "invalid_json")
    resp = client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, content=b"{" * 100_000)
    _error(resp, 400, "request_too_large")


def test_a_post_without_parameters_refuses_a_body_with_some(client, tenant):
    url = routes.API_V1_SUBSCRIBER_PORTAL_LINK.format(subscriber_id=tenant.world.subscriber_id)
    _error(client.post(url, headers=tenant.headers, json={"x": 1}), 400, "parameter_unknown", "x")
    assert client.post(url, headers=tenant.headers, json={}).status_code == 200
    assert client.post(url, headers=tenant.headers).status_code == 200


def test_domain_refusals_map_to_404_and_409(client, tenant):
    _error(
        _post_subscriber(client, tenant, {"name": "Bo", "email": "bo@example.com", "plan": 999}),
        404,
        "resource_missing",
    )
    undo = routes.API_V1_SUBSCRIPTION_UNDO_CANCEL.format(subscription_id=tenant.subscription_id)
    _error(client.post(undo, headers=tenant.headers), 409, "not_allowed")


def test_an_unexpected_failure_is_a_json_500_without_details(client, tenant, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(api_facade, "get_plan", explode)
    resp = client.get(routes.API_V1_PLAN.format(plan_id=tenant.world.plan_id), headers=tenant.headers)
    assert resp.status_code == 500
    assert resp.json() == {"error": {"type": "api_error", "code": "internal_error", "message": "Something went wrong."}}


def test_nul_and_control_characters_are_400_on_every_database(any_engine, gateway, monkeypatch):
    """PostgreSQL refuses NUL in text: such input is refused before it reaches the database."""
    tenant = make_tenant(any_engine, gateway, slug="fit", prefix="FIT")
    client = api_client(any_engine, monkeypatch)
    resp = client.get(routes.API_V1_SUBSCRIBERS, params={"email_or_name": "a\x00b"}, headers=tenant.headers)
    _error(resp, 400, "parameter_invalid", "email_or_name")
    for body in (
        b'{"name":"a\\u0000b","email":"x@example.com","plan":%d}',
        b'{"name":"Bo","email":"x\\u0000@example.com","plan":%d}',
        b'{"name":"Bo","email":"x\\u001f@example.com","plan":%d}',
    ):
        resp = client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, content=body % tenant.world.plan_id)
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_input", resp.text
    lone_surrogate = b'{"name":"\\ud800","email":"x@example.com","plan":%d}' % tenant.world.plan_id
    _error(client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, content=lone_surrogate), 400, "invalid_json")
    assert len(rows(any_engine, Subscriber)) == 1
