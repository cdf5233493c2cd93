"""Merchant sign-up, login and console sessions, through the HTTP routes a browser uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from portal_app import db
from portal_app.api import build_api, login_throttle
from portal_app.api import console as console_api
from portal_app.billing import accounts, sessions
from portal_app.models import ConsoleSession, Merchant, MerchantUser, utcnow
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings

PASSWORD = "correct horse battery"


def test_password_hash_is_argon2id_with_owasp_minimum(session):
    user = accounts.sign_up(session, company_name="Acme Fitness", email="Owner@Acme.example", password=PASSWORD)
    assert user.email == "owner@acme.example"
    assert user.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    "company,email,password,message",
    [
        ("", "a@b.example", PASSWORD, "company"),
        ("X" * 121, "a@b.example", PASSWORD, "company"),
        ("Acme", "not-an-email", PASSWORD, "email"),
        ("Acme", "a@b.example", "short", "password"),
        ("Acme", "a@b.example", "p" * 257, "password"),
    ],
)
def test_sign_up_validates(session, company, email, password, message):
    with pytest.raises(accounts.AccountError, match=f"(?i){message}"):
        accounts.sign_up(session, company_name=company, email=email, password=password)
    assert session.exec(select(Merchant)).first() is None


def test_duplicate_email_refused_and_slugs_unique(session):
    accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    with pytest.raises(accounts.AccountError, match="already exists"):
        accounts.sign_up(session, company_name="Acme", email="A@acme.example", password=PASSWORD)
    accounts.sign_up(session, company_name="Acme", email="b@acme.example", password=PASSWORD)
    assert sorted(m.slug for m in session.exec(select(Merchant))) == ["acme", "acme-2"]


def test_authenticate_same_answer_for_unknown_email_and_wrong_password(session):
    accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    assert accounts.authenticate(session, email="a@acme.example", password=PASSWORD) is not None
    assert accounts.authenticate(session, email="a@acme.example", password="wrong password!") is None
    assert accounts.authenticate(session, email="nobody@acme.example", password=PASSWORD) is None
    assert accounts.authenticate(session, email="", password="") is None


def test_console_session_timeouts_and_logout(session):
    user = accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    now = utcnow()
    secret = sessions.open_console_session(session, user, now=now)
    assert sessions.resolve_console_session(session, secret, now=now + timedelta(minutes=90)).user_id == user.id
    assert sessions.resolve_console_session(session, secret, now=now + timedelta(minutes=90 + 121)) is None
    secret = sessions.open_console_session(session, user, now=now)
    stored = session.exec(select(ConsoleSession).where(ConsoleSession.revoked_at.is_(None))).all()
    assert all(row.secret_hash != secret for row in stored)
    sessions.close_session(session, sessions.CONSOLE_SESSION, secret)
    assert sessions.resolve_console_session(session, secret, now=now) is None


def test_absolute_timeout_even_when_active(session):
    user = accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    now = utcnow()
    secret = sessions.open_console_session(session, user, now=now)
    for minutes in range(60, 13 * 60 + 1, 60):  # active every hour
        result = sessions.resolve_console_session(session, secret, now=now + timedelta(minutes=minutes))
    assert result is None


@pytest.fixture
def client(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    for name, limit in [("ip", 30), ("account_ip", 5), ("account", 3), ("device", 10)]:
        monkeypatch.setattr(login_throttle, f"login_{name}_limiter", RateLimiter(name, limit=limit, window_seconds=900))
    monkeypatch.setattr(console_api, "password_change_limiter", RateLimiter("pw", limit=5, window_seconds=900))
    monkeypatch.setattr(console_api, "signup_ip_limiter", RateLimiter("su", limit=10, window_seconds=900))
    return TestClient(build_api(), follow_redirects=False, base_url="http://portal.test")


def _login(client, email, password, **headers):
    return client.post("/api/console/login", data={"email": email, "password": password}, headers=headers)


def test_signup_then_login_rotates_session_and_logout_revokes(client, session):
    resp = client.post(
        "/api/console/signup", data={"company_name": "Globex", "email": "g@globex.example", "password": PASSWORD}
    )
    assert resp.status_code == 303 and resp.headers["location"] == "/console/dashboard"
    first = resp.cookies["console_session"]
    resp = _login(client, "g@globex.example", PASSWORD)
    assert resp.headers["location"] == "/console/dashboard"
    second = resp.cookies["console_session"]
    assert first != second
    with db.session_scope() as s:
        assert sessions.resolve_console_session(s, first) is None  # rotated at login
        assert sessions.resolve_console_session(s, second) is not None
    client.cookies.set("console_session", second)
    assert client.post("/api/console/logout").status_code == 303
    with db.session_scope() as s:
        assert sessions.resolve_console_session(s, second) is None


def test_login_failures_are_generic_and_throttled_per_account(client, session):
    accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    session.commit()
    unknown = _login(client, "nobody@acme.example", PASSWORD)
    wrong = _login(client, "a@acme.example", "wrong password!")
    assert unknown.headers["location"] == wrong.headers["location"] == "/console?error=invalid"
    _login(client, "a@acme.example", "wrong again!!")
    _login(client, "a@acme.example", "and again!!!!")
    # Over the per-account limit: an unknown client waits even with the right password, and is told
    # nothing different from a wrong password.
    assert _login(client, "a@acme.example", PASSWORD).headers["location"] == "/console?error=invalid"


def test_cross_site_login_post_refused(client, session):
    accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    session.commit()
    resp = _login(client, "a@acme.example", PASSWORD, origin="https://evil.example")
    assert resp.status_code == 403 and "console_session" not in resp.cookies
    # The app's own origin is PUBLIC_URL's (the Host header may be a proxy's upstream name).
    assert _login(client, "a@acme.example", PASSWORD, origin=get_settings().public_url).status_code == 303


def test_signup_error_is_reported_and_nothing_created(client, session):
    resp = client.post("/api/console/signup", data={"company_name": "", "email": "x", "password": "y"})
    assert resp.headers["location"].startswith("/console/signup?error=")
    assert session.exec(select(MerchantUser)).first() is None


def test_console_identity_from_a_cookie_header_and_logout_without_a_cookie(client, session, engine):
    user = accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    secret = sessions.open_console_session(session, user)
    session.commit()
    identity = sessions.console_identity(f"lang=es; console_session={secret}")
    assert identity == sessions.ConsoleIdentity(merchant_id=user.merchant_id, user_id=user.id, email="a@acme.example")
    assert sessions.console_identity(f"portal_session={secret}") is None
    resp = client.post("/api/console/logout")  # no cookie: nothing to end, still signed out
    assert resp.status_code == 303 and resp.headers["location"] == "/console"
    assert sessions.console_identity(f"console_session={secret}") is not None


def test_login_cookie_flags_and_lifetime(client, session):
    accounts.sign_up(session, company_name="Acme", email="a@acme.example", password=PASSWORD)
    session.commit()
    cookie = _login(client, "a@acme.example", PASSWORD).headers["set-cookie"]
    assert cookie.startswith("console_session=") and "HttpOnly" in cookie and "Path=/" in cookie
    assert "samesite=lax" in cookie.lower() and "Max-Age=43200" in cookie and "Secure" not in cookie
