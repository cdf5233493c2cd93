"""Portal links and the HTTP exchange of a link for a session cookie."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from portal_app import db
from portal_app.api import build_api
from portal_app.api import portal as portal_api
from portal_app.billing import accounts, notify, portal_links, sessions
from portal_app.billing.statuses import transition
from portal_app.models import (
    ConsoleSession,
    Merchant,
    MerchantUser,
    Plan,
    PortalLink,
    PortalSession,
    Subscriber,
    Subscription,
)
from portal_app.ratelimit import RateLimiter
from tests.builders import make_world

NOW = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def subscriber(session):
    merchant = Merchant(name="Acme", slug="acme", invoice_prefix="ACME")
    session.add(merchant)
    session.flush()
    plan = Plan(merchant_id=merchant.id, name="Basic", amount_minor=2900, currency="USD", interval="month")
    sub = Subscriber(merchant_id=merchant.id, name="Zoë", email="zoe@example.com")
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


def test_token_is_256_bits_and_never_stored(session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    assert portal_links.is_well_formed(token) and len(token) == 43
    link = session.exec(select(PortalLink)).one()
    stored = " ".join(str(v) for v in link.model_dump().values())
    assert token not in stored
    assert portal_links.resolve_portal_token(session, token).id == link.id


def test_regenerate_revokes_the_old_link(session, subscriber):
    old = portal_links.issue_portal_link(session, subscriber)
    new = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    assert old != new
    assert portal_links.resolve_portal_token(session, old) is None
    assert portal_links.resolve_portal_token(session, new) is not None
    assert portal_links.current_portal_token(session, subscriber) == new


def test_token_from_another_secret_key_is_refused(session, subscriber, monkeypatch):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    link = session.exec(select(PortalLink)).one()
    monkeypatch.setattr(portal_links, "_derive_token", lambda nonce, secret_key=None: "x" * 43)
    assert portal_links.resolve_portal_token(session, token) is None
    assert link.revoked_at is None


def test_deleted_subscription_invalidates_link_but_canceled_keeps_it(session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber)
    sub = session.exec(select(Subscription)).one()
    transition(sub, "canceled")
    session.commit()
    assert portal_links.resolve_portal_token(session, token) is not None
    sub.deleted_at = NOW
    session.commit()
    assert portal_links.resolve_portal_token(session, token) is None


def test_session_dies_with_its_link_and_after_idle_timeout(session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber, now=NOW)
    link = portal_links.resolve_portal_token(session, token, now=NOW)
    secret = sessions.open_portal_session(session, link, now=NOW)
    session.commit()
    assert sessions.resolve_portal_session(session, secret, now=NOW + timedelta(hours=1)) is not None
    assert sessions.resolve_portal_session(session, secret, now=NOW + timedelta(days=8)) is None
    portal_links.issue_portal_link(session, subscriber, now=NOW)  # regenerate
    session.commit()
    assert sessions.resolve_portal_session(session, secret, now=NOW + timedelta(hours=1)) is None


@pytest.fixture
def client(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(portal_api, "invalid_token_limiter", RateLimiter("t", limit=3, window_seconds=600))
    return TestClient(build_api(), follow_redirects=False)


def test_exchange_sets_httponly_cookie_and_drops_token(client, session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    resp = client.get(f"/portal/{token}")
    assert resp.status_code == 303 and resp.headers["location"] == "/portal"
    assert resp.headers["referrer-policy"] == "no-referrer"
    assert resp.headers["cache-control"] == "no-store"
    cookie = resp.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and token not in cookie
    assert "Max-Age=2592000" in cookie and "Path=/" in cookie  # 30 days: the session's absolute limit
    secret = resp.cookies["portal_session"]
    row = session.exec(select(PortalSession)).one()
    assert row.secret_hash != secret and row.subscriber_id == subscriber.id


def test_invalid_tokens_get_one_generic_answer_and_are_rate_limited(client, session, subscriber):
    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    for bad in ["nope", "A" * 43, "A" * 43]:
        resp = client.get(f"/portal/{bad}")
        assert resp.status_code == 303 and resp.headers["location"] == "/invalid-link"
    # Over the limit, even a valid token gets the generic answer from this client.
    resp = client.get(f"/portal/{token}")
    assert resp.headers["location"] == "/invalid-link"
    assert session.exec(select(PortalSession)).first() is None


def test_health(client):
    assert client.get("/api/health").json() == {"status": "ok", "db": True}


def test_send_new_link_mails_the_current_link_to_known_addresses_only(session, subscriber):
    from portal_app.models import EmailMessage

    token = portal_links.issue_portal_link(session, subscriber)
    session.commit()
    assert notify.send_new_link(session, email="  ZOE@example.com ") == 1
    assert notify.send_new_link(session, email="nobody@example.com") == 0
    assert notify.send_new_link(session, email="x" * 300) == 0
    session.commit()
    (mail,) = session.exec(select(EmailMessage)).all()
    assert mail.kind == "new_link" and mail.to_address == "zoe@example.com"
    assert f"/portal/{token}" in mail.body_text  # the live link is re-sent, not revoked
    assert portal_links.resolve_portal_token(session, token) is not None


def test_send_new_link_skips_deleted_subscriptions(session, subscriber):
    sub = session.exec(select(Subscription)).one()
    sub.deleted_at = NOW
    session.commit()
    assert notify.send_new_link(session, email="zoe@example.com") == 0


def test_portal_session_absolute_timeout_even_when_active(session, subscriber):
    link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber, now=NOW))
    secret = sessions.open_portal_session(session, link, now=NOW)
    session.commit()
    for day in range(6, 30, 6):  # active every six days: never idle
        assert sessions.resolve_portal_session(session, secret, now=NOW + timedelta(days=day)) is not None
    assert sessions.resolve_portal_session(session, secret, now=NOW + timedelta(days=30, minutes=1)) is None


def test_closed_portal_session_stops_at_once(session, subscriber):
    link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber))
    secret = sessions.open_portal_session(session, link)
    session.commit()
    assert sessions.resolve_portal_session(session, secret) == (subscriber.merchant_id, subscriber.id)
    sessions.close_session(session, sessions.PORTAL_SESSION, secret)
    session.commit()
    assert sessions.resolve_portal_session(session, secret) is None


@pytest.mark.parametrize(
    "header,expected",
    [
        ("portal_session=abc", "abc"),
        ("theme=dark; portal_session=abc; lang=es", "abc"),
        ('portal_session="abc"', "abc"),
        ("bad key=1; é=2; portal_session=abc", "abc"),  # a foreign cookie the stdlib parser rejects
        ("portal_session=old; portal_session=abc", "abc"),
        ("console_session=abc", ""),
        ("xportal_session=abc", ""),
        ("portal_session", ""),
        ("", ""),
    ],
)
def test_cookie_header_parsing_is_one_function_for_state_and_routes(header, expected):
    assert sessions.secret_from_cookie_header(header, sessions.PORTAL_SESSION) == expected


def test_portal_identity_from_a_cookie_header(engine, monkeypatch, session, subscriber):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber))
    secret = sessions.open_portal_session(session, link)
    session.commit()
    identity = sessions.portal_identity(f"theme=dark; portal_session={secret}")
    assert identity == sessions.PortalIdentity(subscriber.merchant_id, subscriber.id)
    assert sessions.portal_identity(f"console_session={secret}") is None  # the console cookie is another kind
    assert sessions.console_identity(f"console_session={secret}") is None  # and another table
    assert sessions.portal_identity("portal_session=" + "x" * 101) is None


def test_both_kinds_open_resolve_rotate_and_close_on_every_database(any_engine):
    world = make_world(any_engine)
    with db.session_scope(any_engine) as s:
        user = accounts.sign_up(s, company_name="Fit", email="owner@fit.example", password="long enough password")
        subscriber = s.get(Subscriber, world.subscriber_id)
        link = portal_links.resolve_portal_token(s, portal_links.issue_portal_link(s, subscriber, now=NOW), now=NOW)
        portal_secret = sessions.open_portal_session(s, link, now=NOW)
        first = sessions.open_console_session(s, user, now=NOW)
    later = NOW + timedelta(hours=1)
    with db.session_scope(any_engine) as s:
        assert sessions.resolve_portal_session(s, portal_secret, now=later) == (world.merchant_id, world.subscriber_id)
        assert sessions.resolve_console_session(s, first, now=later).user_id == user.id
        second = sessions.rotate_console_session(s, first, s.get(MerchantUser, user.id), now=later)
        sessions.close_session(s, sessions.PORTAL_SESSION, portal_secret, now=later)
    with db.session_scope(any_engine) as s:
        assert sessions.resolve_console_session(s, first, now=later) is None
        assert sessions.resolve_console_session(s, second, now=later).merchant_id == user.merchant_id
        assert sessions.resolve_portal_session(s, portal_secret, now=later) is None
        stored = {row.secret_hash for row in s.exec(select(ConsoleSession))}
        assert stored.isdisjoint({first, second}) and sessions.hash_secret(second) in stored
