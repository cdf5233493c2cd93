"""Links that stay true: the exchange keeps a known ?flow= (and drops any other), an unusable link
lands on the invalid-link page with the reason and (when known) the merchant and the subscriber's
language, and the page's facade validates its query."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from portal_app import db, i18n, routes
from portal_app.api import build_api
from portal_app.api import portal as portal_api
from portal_app.billing import portal_links
from portal_app.billing.facades import invalid_link
from portal_app.models import Merchant, Plan, PortalSession, Subscriber, Subscription
from portal_app.ratelimit import RateLimiter

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def subscriber(session):
    merchant = Merchant(name="Acme Fitness", slug="acme", invoice_prefix="ACME", support_email="help@acme.example")
    session.add(merchant)
    session.flush()
    plan = Plan(merchant_id=merchant.id, name="Basic", amount_minor=2900, currency="USD", interval="month")
    sub = Subscriber(merchant_id=merchant.id, name="Zoë", email="zoe@example.com", language="es")
    session.add_all([plan, sub])
    session.flush()
    session.add(
        Subscription(
            merchant_id=merchant.id,
            subscriber_id=sub.id,
            plan_id=plan.id,
            status="active",
            anchor_at=NOW,
            current_period_start=NOW,
            current_period_end=NOW + timedelta(days=31),
        )
    )
    session.commit()
    return sub


@pytest.fixture
def client(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(portal_api, "invalid_token_limiter", RateLimiter("t", limit=50, window_seconds=600))
    return TestClient(build_api(), follow_redirects=False)


@pytest.mark.parametrize("flow", routes.PORTAL_FLOWS)
def test_the_lasting_link_keeps_a_known_flow(client, session, subscriber, flow):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    assert routes.portal_url(token, flow=flow).endswith(f"/portal/{token}?flow={flow}")  # what emails carry
    resp = client.get(f"/portal/{token}?flow={flow}")
    assert resp.status_code == 303 and resp.headers["location"] == f"/portal?flow={flow}"
    assert "portal_session" in resp.cookies


@pytest.mark.parametrize(
    "hostile", ["<script>alert(1)</script>", "invoices&x=1", "INVOICES", "https://evil.example", "invoices/../x", ""]
)
def test_an_unknown_flow_is_dropped_never_reflected(client, session, subscriber, hostile):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    resp = client.get(f"/portal/{token}", params={"flow": hostile})
    assert resp.status_code == 303 and resp.headers["location"] == "/portal"


def test_malformed_and_unknown_tokens_get_the_generic_page(client, session, subscriber):
    for bad in ["nope", "A" * 43]:
        resp = client.get(f"/portal/{bad}", params={"flow": "invoices"})
        assert resp.status_code == 303 and resp.headers["location"] == routes.PORTAL_INVALID
    assert portal_links.check_portal_token(session, "nope").reason == "unknown"
    assert portal_links.check_portal_token(session, "A" * 43) == portal_links.UNKNOWN


def test_a_replaced_link_says_so_branded_in_the_subscribers_language(client, session, subscriber):
    old = portal_links.issue_portal_link(session, subscriber)
    new = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    resp = client.get(f"/portal/{old}")
    assert resp.status_code == 303
    assert resp.headers["location"] == routes.portal_invalid_url("revoked", merchant_slug="acme", lang="es")
    assert old not in resp.headers["location"] and "portal_session" not in resp.cookies
    check = portal_links.check_portal_token(session, old)
    assert check.reason == "revoked" and check.link is None and check.subscriber_id == subscriber.id
    assert portal_links.check_portal_token(session, new).reason == ""


def test_a_deleted_subscription_says_so_even_though_its_links_were_revoked(client, session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber)
    sub = session.exec(select(Subscription)).one()
    sub.deleted_at = NOW
    portal_links.revoke_portal_links(session, merchant_id=subscriber.merchant_id, subscriber_id=subscriber.id)
    session.commit()
    resp = client.get(f"/portal/{token}")
    assert resp.headers["location"] == routes.portal_invalid_url("deleted", merchant_slug="acme", lang="es")
    assert session.exec(select(PortalSession)).first() is None


def test_a_token_from_another_secret_key_reveals_no_merchant(client, session, subscriber, monkeypatch):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    monkeypatch.setattr(portal_links, "_derive_token", lambda nonce, secret_key=None: "x" * 43)
    assert client.get(f"/portal/{token}").headers["location"] == routes.PORTAL_INVALID


def _view(**query):
    """The page's view of a URL as routes.portal_invalid_url builds it (signed), unless `signature` is given."""
    args = {"reason": "", "merchant_slug": "", "lang": "", "accept_language": ""} | query
    if "signature" not in args and isinstance(args["merchant_slug"], str):
        reason = args["reason"] if args["reason"] in routes.INVALID_REASONS else ""
        args["signature"] = routes.invalid_link_signature(reason, args["merchant_slug"])
    return invalid_link.invalid_link_view(**args)


def test_a_crafted_reason_under_a_merchants_name_reads_generic(engine, monkeypatch, session, subscriber):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    for forged in ("", "0" * 20, routes.invalid_link_signature("revoked", "acme"), None, 7):
        view = _view(reason="deleted", merchant_slug="acme", lang="es", signature=forged)
        assert view.reason == "" and view.merchant_name == "Acme Fitness"  # the look, no claim
    assert _view(reason="deleted", merchant_slug="acme").reason == "deleted"


def test_the_invalid_page_query_is_validated(engine, monkeypatch, session, subscriber):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    branded = _view(reason="deleted", merchant_slug="acme", lang="es")
    assert (branded.reason, branded.language, branded.merchant_name, branded.support_email) == (
        "deleted",
        "es",
        "Acme Fitness",
        "help@acme.example",
    )
    assert _view(reason="deleted", merchant_slug="nobody").merchant_name == ""  # unknown slug: generic
    assert _view(reason="deleted", merchant_slug="nobody").reason == ""
    assert _view(reason="<script>", merchant_slug="acme").reason == ""  # unknown reason: generic text
    assert _view(reason="revoked").reason == ""  # a merchant's case needs its merchant
    assert _view(reason="ended").reason == "ended"  # an ended session is true without one
    assert _view(merchant_slug="../../etc").merchant_name == ""
    assert _view(merchant_slug="acme", lang="fr").language == "en"  # the merchant's default language
    assert _view(lang="xx", accept_language="fr-FR,es;q=0.8,en;q=0.5").language == "es"
    assert _view(accept_language="de").language == "en"


def test_accept_language_picks_the_best_supported_language():
    assert i18n.accept_language("es-MX,es;q=0.9,en;q=0.8") == "es"
    assert i18n.accept_language("en;q=0.4, es;q=0.9") == "es"
    assert i18n.accept_language("fr, de;q=0.5") == ""
    assert i18n.accept_language("es;q=0, en") == "en"
    assert i18n.accept_language("es;q=abc") == ""
    assert i18n.accept_language(None) == ""
