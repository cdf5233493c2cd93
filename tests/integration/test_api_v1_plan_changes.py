"""REST API plan changes: preview (nothing changes), change (an upgrade prorated and charged at once),
refusals as 409, another merchant's plan as 404, bad bodies as 400, and an Idempotency-Key replay that
changes once."""

from __future__ import annotations

import pytest

from portal_app import db, routes
from portal_app.billing.plan_switches import set_switch_targets
from portal_app.billing.plans import create_plan
from portal_app.models import Invoice, PlanChange, Subscription, utcnow
from tests.api_world import api_client, make_tenant
from tests.builders import rows

pytestmark = pytest.mark.integration


@pytest.fixture
def tenants(engine, gateway):
    a = make_tenant(engine, gateway, slug="fit", prefix="FIT")
    b = make_tenant(engine, gateway, slug="gym", prefix="GYM")
    with db.session_scope(engine) as session:
        pro = create_plan(
            session, merchant_id=a.world.merchant_id, name="Pro", amount_minor=4900, currency="USD", interval="month"
        )
        hidden = create_plan(
            session, merchant_id=a.world.merchant_id, name="Hidden", amount_minor=9900, currency="USD", interval="month"
        )
        set_switch_targets(session, a.world.plan_id, [pro.id], merchant_id=a.world.merchant_id, actor="t", now=utcnow())
        return a, b, pro.id, hidden.id


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _post(client, tenant, route, plan_id, **headers):
    url = route.format(subscription_id=tenant.subscription_id)
    return client.post(url, headers=tenant.headers | headers, json={"plan_id": plan_id})


def test_preview_then_change_an_upgrade(client, engine, tenants, gateway):
    a, _, pro, _ = tenants
    resp = _post(client, a, routes.API_V1_SUBSCRIPTION_PREVIEW_CHANGE, pro)
    assert resp.status_code == 200, resp.text
    preview = resp.json()
    assert (preview["object"], preview["timing"], preview["upgrade"], preview["to_plan_id"]) == (
        "plan_change_preview",
        "now",
        True,
        pro,
    )
    assert preview["amount_due"] > 0 and preview["credit"] == 0 and preview["next_renewal_amount"] == 4900
    assert [line["amount"] < 0 for line in preview["lines"]] == [True, False]
    assert sum(line["amount"] for line in preview["lines"]) == preview["amount_due"]
    assert rows(engine, PlanChange) == []

    resp = _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, pro)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["object"], body["payment"], body["subscription"]["plan_id"]) == ("plan_change", "succeeded", pro)
    (invoice,) = rows(engine, Invoice, Invoice.id == body["invoice_id"])
    assert (invoice.total_minor, invoice.status) == (preview["amount_due"], "paid")
    (sub,) = rows(engine, Subscription, Subscription.id == a.subscription_id)
    assert sub.plan_id == pro


def test_refusals_and_other_merchants(client, tenants):
    a, b, pro, hidden = tenants
    resp = _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, hidden)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_offered", resp.text
    assert _post(client, a, routes.API_V1_SUBSCRIPTION_PREVIEW_CHANGE, a.world.plan_id).status_code == 409
    # Merchant B's plan, and merchant B asking about merchant A's subscription: not found.
    assert _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, b.world.plan_id).status_code == 404
    url = routes.API_V1_SUBSCRIPTION_PREVIEW_CHANGE.format(subscription_id=a.subscription_id)
    assert client.post(url, headers=b.headers, json={"plan_id": pro}).status_code == 404
    for bad in ({"plan_id": "1"}, {"plan_id": 0}, {}, {"plan_id": pro, "extra": 1}):
        url = routes.API_V1_SUBSCRIPTION_CHANGE_PLAN.format(subscription_id=a.subscription_id)
        assert client.post(url, headers=a.headers, json=bad).status_code == 400, bad


def test_an_idempotency_key_replay_changes_once(client, engine, tenants):
    a, _, pro, _ = tenants
    first = _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, pro, **{"Idempotency-Key": "change-1"})
    again = _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, pro, **{"Idempotency-Key": "change-1"})
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(rows(engine, PlanChange)) == 1
    # Without the key, a second submit is refused: the plan is already Pro.
    assert _post(client, a, routes.API_V1_SUBSCRIPTION_CHANGE_PLAN, pro).json()["error"]["code"] == "same_plan"
