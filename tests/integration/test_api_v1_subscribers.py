"""REST API subscribers: register without a card (incomplete subscription, first invoice open, a
portal URL that opens the portal, the invitation when asked), search, retrieve, regenerate the link."""

from __future__ import annotations

import pytest

from portal_app import db, routes
from portal_app.billing import portal_links
from portal_app.billing.objects import SubscriberObject
from portal_app.billing.plans import archive_plan
from portal_app.billing.subscriptions import delete_subscription
from portal_app.models import AuditEvent, EmailMessage, Invoice, Merchant, Subscription, utcnow
from tests.api_world import api_client, make_tenant
from tests.builders import rows


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _register(client, tenant, **overrides):
    body = {"name": "Bo Diddley", "email": "Bo@Example.com", "plan": tenant.world.plan_id, **overrides}
    return client.post(routes.API_V1_SUBSCRIBERS, headers=tenant.headers, json=body)


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_register_without_a_card_answers_the_subscriber_with_a_working_portal_url(client, engine, tenant):
    resp = _register(client, tenant, language="es")
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    subscriber = SubscriberObject.model_validate(resp.json())
    assert (subscriber.name, subscriber.email, subscriber.language) == ("Bo Diddley", "bo@example.com", "es")
    with db.session_scope(engine) as session:
        link = portal_links.resolve_portal_token(session, _token(subscriber.portal_url))
        assert link is not None and link.subscriber_id == subscriber.id
    (sub,) = rows(engine, Subscription, Subscription.subscriber_id == subscriber.id)
    assert sub.status == "incomplete"
    (invoice,) = rows(engine, Invoice, Invoice.subscription_id == sub.id)
    assert invoice.status == "open"
    assert rows(engine, EmailMessage, EmailMessage.subscriber_id == subscriber.id) == []  # not asked
    actors = {a.actor for a in rows(engine, AuditEvent, AuditEvent.subscriber_id == subscriber.id)}
    assert f"api_key:{tenant.key_id}" in actors


def test_the_invitation_goes_out_when_asked_and_the_language_defaults_to_the_merchants(client, engine, tenant):
    with db.session_scope(engine) as session:
        session.get(Merchant, tenant.world.merchant_id).default_language = "es"
    subscriber = _register(client, tenant, send_invitation=True).json()
    assert subscriber["language"] == "es"
    (email,) = rows(engine, EmailMessage, EmailMessage.subscriber_id == subscriber["id"])
    assert email.kind == "invitation"


def test_register_refuses_archived_plans_and_live_duplicates(client, engine, tenant):
    assert _register(client, tenant).status_code == 200
    # The same email on the same plan while it still awaits a card: the registration is resumed.
    again = _register(client, tenant)
    assert again.status_code == 200 and len(rows(engine, Subscription)) == 2
    with db.session_scope(engine) as session:
        archive_plan(session, tenant.world.plan_id, merchant_id=tenant.world.merchant_id)
    resp = _register(client, tenant, email="new@example.com")
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_input"


def test_get_and_list_never_show_a_portal_url(client, tenant):
    created = _register(client, tenant).json()
    got = client.get(routes.API_V1_SUBSCRIBER.format(subscriber_id=created["id"]), headers=tenant.headers).json()
    assert got["portal_url"] is None and got["email"] == "bo@example.com"
    listed = client.get(routes.API_V1_SUBSCRIBERS, headers=tenant.headers).json()
    assert [s["id"] for s in listed["data"]] == [created["id"], tenant.world.subscriber_id]
    assert all(s["portal_url"] is None for s in listed["data"])


@pytest.mark.parametrize(("query", "found"), [("ada", 1), ("LOVELACE@", 1), ("bo@ex", 1), ("nobody", 0), ("", 2)])
def test_search_by_email_or_name(client, tenant, query, found):
    _register(client, tenant)
    resp = client.get(routes.API_V1_SUBSCRIBERS, params={"email_or_name": query}, headers=tenant.headers)
    assert len(resp.json()["data"]) == found


def test_regenerating_the_link_revokes_the_old_one(client, engine, tenant):
    created = _register(client, tenant).json()
    url = routes.API_V1_SUBSCRIBER_PORTAL_LINK.format(subscriber_id=created["id"])
    fresh = client.post(url, headers=tenant.headers)
    assert fresh.status_code == 200
    with db.session_scope(engine) as session:
        assert portal_links.resolve_portal_token(session, _token(created["portal_url"])) is None
        assert portal_links.resolve_portal_token(session, _token(fresh.json()["portal_url"])) is not None
    kinds = [(a.kind, a.actor) for a in rows(engine, AuditEvent, AuditEvent.subscriber_id == created["id"])]
    assert ("portal_link_regenerated", f"api_key:{tenant.key_id}") in kinds


def test_no_link_for_a_subscriber_whose_subscription_was_deleted(client, engine, tenant):
    with db.session_scope(engine) as session:
        delete_subscription(
            session, tenant.subscription_id, merchant_id=tenant.world.merchant_id, actor="user:1", now=utcnow()
        )
    url = routes.API_V1_SUBSCRIBER_PORTAL_LINK.format(subscriber_id=tenant.world.subscriber_id)
    resp = client.post(url, headers=tenant.headers)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_allowed"


def test_the_invitation_of_a_registration_without_a_card_asks_for_one(client, engine, tenant):
    subscriber = _register(client, tenant, send_invitation=True, language="es").json()
    (email,) = rows(engine, EmailMessage, EmailMessage.subscriber_id == subscriber["id"])
    assert "añada su tarjeta en el portal" in email.body_text
    assert subscriber["portal_url"] in email.body_text
