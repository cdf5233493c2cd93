"""Portal grants (billing/portal_grants.py) and their exchange route (GET /portal/session/<token>):
single use (also when two redemptions race), five minutes, tenancy, checked return_url and flow,
and the lasting link keeps working."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from portal_app import db
from portal_app.api import build_api
from portal_app.api import portal as portal_api
from portal_app.billing import portal_grants, portal_links, sessions
from portal_app.billing.errors import NotFound
from portal_app.billing.portal_grants import InvalidPortalGrant, create_portal_grant, redeem_portal_grant
from portal_app.models import PortalGrant, PortalLink, PortalSession, Subscription, utcnow
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings
from tests.builders import make_merchant, make_subscriber, make_world


@pytest.fixture
def world(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    world = make_world(any_engine)
    with world.session() as session, session.begin():
        session.add(
            Subscription(
                merchant_id=world.merchant_id,
                subscriber_id=world.subscriber_id,
                plan_id=world.plan_id,
                status="active",
                anchor_at=utcnow(),
                current_period_start=utcnow(),
                current_period_end=utcnow() + timedelta(days=30),
            )
        )
        lasting = portal_links.issue_portal_link(session, session.get(portal_links.Subscriber, world.subscriber_id))
    world.lasting = lasting
    return world


def _grant(world, **kw):
    with db.session_scope() as session:
        return create_portal_grant(
            session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, actor="api_key:1", **kw
        )


def _token(grant) -> str:
    return urlsplit(grant.url).path.rsplit("/", 1)[1]


def test_grant_is_single_use_hash_only_and_keeps_the_lasting_link(world):
    grant = _grant(world, flow="invoices", return_url="https://shop.example/account")
    token = _token(grant)
    assert len(token) >= 43 and grant.url.startswith(get_settings().public_url.rstrip("/") + "/portal/session/")
    assert grant.flow == "invoices" and grant.return_url == "https://shop.example/account"
    assert timedelta(minutes=4) < grant.expires_at - utcnow() <= timedelta(minutes=5)
    with world.session() as session:
        row = session.exec(select(PortalGrant)).one()
        assert token not in " ".join(str(v) for v in row.model_dump().values())
    redeemed = redeem_portal_grant(token, ip="1.2.3.4")
    assert redeemed is not None and redeemed.flow == "invoices"
    assert sessions.portal_identity(f"portal_session={redeemed.secret}") == (world.merchant_id, world.subscriber_id)
    assert sessions.portal_return_url(f"portal_session={redeemed.secret}") == "https://shop.example/account"
    assert redeem_portal_grant(token, ip="1.2.3.4") is None  # used
    with world.session() as session:
        assert session.exec(select(PortalLink).where(PortalLink.revoked_at.is_(None))).one()
        assert portal_links.resolve_portal_token(session, world.lasting) is not None
    assert sessions.exchange_portal_token(world.lasting, ip="1.2.3.4").secret is not None  # still opens the portal


@pytest.mark.concurrency
def test_two_concurrent_redemptions_open_one_session(world):
    token = _token(_grant(world))
    results, barrier = [], threading.Barrier(8)

    def redeem():
        barrier.wait()
        results.append(redeem_portal_grant(token, ip="1.2.3.4"))

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if r is not None]) == 1
    with world.session() as session:
        assert len(session.exec(select(PortalSession)).all()) == 1


def test_grant_expires_after_five_minutes(world):
    now = utcnow()
    with db.session_scope() as session:
        grant = create_portal_grant(
            session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, actor="t", now=now
        )
    assert redeem_portal_grant(_token(grant), ip="x", now=now + timedelta(minutes=5, seconds=1)) is None
    assert redeem_portal_grant(_token(grant), ip="x", now=now + timedelta(minutes=4, seconds=59)) is not None


def test_another_merchants_subscriber_unknown_ids_and_deleted_subscriptions_are_not_found(world):
    with db.session_scope() as session:
        other = make_merchant(session, "other", "OTH")
        stranger = make_subscriber(session, other.id, "Eve Stranger")
        for subscriber_id in (stranger.id, 999_999, "1", None):
            with pytest.raises(NotFound):
                create_portal_grant(session, merchant_id=world.merchant_id, subscriber_id=subscriber_id, actor="t")
    grant = _grant(world)
    with db.session_scope() as session:
        for sub in session.exec(select(Subscription)):
            sub.deleted_at = utcnow()
            session.add(sub)
    assert redeem_portal_grant(_token(grant), ip="x") is None  # deleted after the grant was made
    with db.session_scope() as session, pytest.raises(NotFound):
        create_portal_grant(session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id, actor="t")


@pytest.mark.parametrize(
    "return_url",
    [
        "javascript:alert(1)",
        "/relative/path",
        "//shop.example/x",
        "ftp://shop.example/",
        "https://",
        "https://user:pw@shop.example/",
        "https://shop.example/\nSet-Cookie: x",
        "https://shop.example/ x",
        "https://shop.example:99999/",
        "https://shop.example/" + "a" * 2000,
        42,
    ],
)
def test_bad_return_urls_are_refused(world, return_url):
    with pytest.raises(InvalidPortalGrant) as err:
        _grant(world, return_url=return_url)
    assert err.value.field == "return_url"


@pytest.mark.parametrize("flow", ["payment_method", "INVOICES", "invoices ", "../x", 1, ["invoices"]])
def test_flows_outside_the_list_are_refused(world, flow):
    with pytest.raises(InvalidPortalGrant) as err:
        _grant(world, flow=flow)
    assert err.value.field == "flow"


def test_production_wants_https_return_urls(world, monkeypatch):
    monkeypatch.setattr(portal_grants, "get_settings", lambda: type("S", (), {"environment": "production"})())
    with pytest.raises(InvalidPortalGrant):
        _grant(world, return_url="http://shop.example/")
    assert _grant(world, return_url="https://shop.example/").return_url == "https://shop.example/"


# --- the exchange route ----------------------------------------------------------------------------


@pytest.fixture
def client(world, monkeypatch):
    monkeypatch.setattr(portal_api, "invalid_token_limiter", RateLimiter("grant-t", limit=3, window_seconds=600))
    return TestClient(build_api(), follow_redirects=False)


def test_exchange_sets_the_cookie_and_lands_on_the_flow_without_the_token(client, world):
    token = _token(_grant(world, flow="payment_method_update"))
    response = client.get(f"/portal/session/{token}")
    assert response.status_code == 303
    assert response.headers["location"] == "/portal?flow=payment_method_update"
    assert token not in response.headers["location"]
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("portal_session=") and "httponly" in cookie.lower()
    again = client.get(f"/portal/session/{token}")
    assert again.headers["location"] == "/invalid-link"


def test_exchange_without_flow_lands_on_the_portal(client, world):
    response = client.get(f"/portal/session/{_token(_grant(world))}")
    assert response.headers["location"] == "/portal"


def test_bad_grants_share_the_generic_page_and_the_link_rate_limit(client, world):
    for bad in ("x" * 43, "short", "%00" * 5):
        assert client.get(f"/portal/session/{bad}").headers["location"] == "/invalid-link"
    token = _token(_grant(world))
    # Three misses from this IP: even a valid grant gets the generic page now (and stays unused).
    assert client.get(f"/portal/session/{token}").headers["location"] == "/invalid-link"
    assert client.get(f"/portal/{world.lasting}").headers["location"] == "/invalid-link"
    with world.session() as session:
        assert session.exec(select(PortalGrant).where(PortalGrant.redeemed_at.is_not(None))).first() is None
