"""Console sign-in under attack and the user's own session controls, through the HTTP routes a
browser uses: strangers' guesses slow down unknown clients but never lock the owner's known browser
out; every failure looks the same; changing the password or signing out everywhere ends every
session of the user."""

from __future__ import annotations

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api, login_throttle
from portal_app.api import console as console_api
from portal_app.billing import accounts, login_devices, sessions
from portal_app.models import AuditEvent, ConsoleSession, MerchantUser
from portal_app.ratelimit import RateLimiter

EMAIL = "owner@acme.example"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a much better passphrase"
BASE = "http://portal.test"


@pytest.fixture
def app(engine, monkeypatch):
    """The API on a fresh database, every throttle at its production limits and empty."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    for module, attribute in [
        *((login_throttle, f"login_{name}_limiter") for name in ("ip", "account_ip", "account", "device")),
        (console_api, "password_change_limiter"),
    ]:
        live = getattr(module, attribute)
        monkeypatch.setattr(module, attribute, RateLimiter(live.name, limit=live.limit, window_seconds=live.window))
    with db.session_scope() as session:
        accounts.sign_up(session, company_name="Acme", email=EMAIL, password=PASSWORD)
    return build_api()


def _client(app, ip: str = "10.0.0.1") -> TestClient:
    return TestClient(app, follow_redirects=False, base_url=BASE, client=(ip, 40000))


def _login(client: TestClient, email: str = EMAIL, password: str = PASSWORD, **headers):
    return client.post(routes.API_CONSOLE_LOGIN, data={"email": email, "password": password}, headers=headers)


def _signed_in(resp) -> bool:
    return (
        resp.status_code == 303
        and resp.headers["location"] == routes.CONSOLE_HOME
        and "console_session" in resp.cookies
    )


def _failure(resp) -> tuple:
    """Everything a client can see of a refused login."""
    return resp.status_code, resp.headers.get("location"), resp.content, resp.headers.get_list("set-cookie")


def _owners_browser(app) -> TestClient:
    """The owner's usual browser: it signed in once, so it holds a device cookie for the account."""
    browser = _client(app, "192.0.2.10")
    assert _signed_in(_login(browser))
    assert browser.cookies.get(routes.CONSOLE_DEVICE_COOKIE)
    return browser


def _strangers_guess(app, count: int, email: str = EMAIL) -> None:
    for n in range(count):
        resp = _login(_client(app, f"203.0.113.{n % 250}"), email=email, password=f"guess number {n}")
        assert resp.headers["location"] == routes.console_login_error_url("invalid")


# --- item 8: throttling that strangers cannot turn against the owner ---------------------------------------


def test_fifty_strangers_guesses_lock_out_new_clients_but_not_the_owners_known_browser(app):
    browser = _owners_browser(app)
    _strangers_guess(app, 50)
    # A new client with the right password waits (and hears the same as for a wrong one) ...
    newcomer = _login(_client(app, "198.51.100.7"))
    assert not _signed_in(newcomer) and newcomer.headers["location"] == routes.console_login_error_url("invalid")
    # ... while the browser that signed in before still gets in, and receives a fresh device cookie.
    old_device = browser.cookies.get(routes.CONSOLE_DEVICE_COOKIE)
    resp = _login(browser)
    assert _signed_in(resp)
    assert resp.cookies.get(routes.CONSOLE_DEVICE_COOKIE) not in (None, old_device)


def test_one_address_is_slowed_on_its_own_for_one_account_and_for_all(app):
    attacker = _client(app, "203.0.113.99")
    for n in range(5):
        _login(attacker, password=f"wrong {n} password")
    assert not _signed_in(_login(attacker))  # account + address
    assert _signed_in(_login(_client(app, "198.51.100.8")))  # the account itself is not locked yet
    sprayer = _client(app, "203.0.113.100")
    for n in range(30):
        _login(sprayer, email=f"user{n}@other.example", password="Summer2026!!")
    assert not _signed_in(_login(sprayer))  # this address, whatever the account


def test_a_device_cookie_counts_only_for_its_own_account_and_only_untampered(app):
    browser = _owners_browser(app)
    token = browser.cookies.get(routes.CONSOLE_DEVICE_COOKIE)
    assert login_devices.trusted_device(token, EMAIL) is not None
    assert login_devices.trusted_device(token, "someone@else.example") is None
    assert EMAIL not in token and PASSWORD not in token
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert login_devices.trusted_device(forged, EMAIL) is None
    assert login_devices.trusted_device(token, EMAIL, now=1e12) is None  # expired
    _strangers_guess(app, 10)
    stranger = _client(app, "198.51.100.9")
    stranger.cookies.set(routes.CONSOLE_DEVICE_COOKIE, forged, domain="portal.test", path=routes.API_CONSOLE_LOGIN)
    assert not _signed_in(_login(stranger))


def test_a_known_device_that_keeps_failing_is_locked_out_on_its_own(app):
    browser = _owners_browser(app)
    for n in range(10):
        _login(browser, password=f"fat finger {n}!")
    assert not _signed_in(_login(browser))  # its own budget is spent: refused, even with the right password
    assert _signed_in(_login(_client(app, "198.51.100.10")))  # other clients are not held back by it


def test_every_failure_answers_the_same_after_one_password_check(app, monkeypatch):
    browser = _owners_browser(app)
    checks = []

    class CountingHasher:
        def __init__(self, real):
            self.real = real

        def verify(self, hash_, password):
            checks.append(1)
            return self.real.verify(hash_, password)

        def __getattr__(self, name):
            return getattr(self.real, name)

    monkeypatch.setattr(accounts, "password_hasher", CountingHasher(accounts.password_hasher))

    def attempt(client, **kw):
        checks.clear()
        answer = _failure(_login(client, **kw))
        assert len(checks) == 1, "every failure spends exactly one Argon2 verification"
        return answer

    unknown = attempt(_client(app, "198.51.100.20"), email="nobody@acme.example")
    malformed = attempt(_client(app, "198.51.100.21"), email="not an email")
    wrong = attempt(_client(app, "198.51.100.22"), password="not the password")
    _strangers_guess(app, 10)
    throttled = attempt(_client(app, "198.51.100.23"))  # the right password, refused unchecked
    device_failure = attempt(browser, password="not the password")
    assert unknown == malformed == wrong == throttled == device_failure
    status, location, body, set_cookies = unknown
    assert status == 303 and location == routes.console_login_error_url("invalid") and set_cookies == []


def test_device_cookie_flags(app):
    resp = _login(_client(app))
    device = next(c for c in resp.headers.get_list("set-cookie") if c.startswith(routes.CONSOLE_DEVICE_COOKIE + "="))
    assert "HttpOnly" in device and f"Path={routes.API_CONSOLE_LOGIN}" in device
    assert "samesite=strict" in device.lower() and "Secure" not in device
    assert f"Max-Age={login_devices.DEVICE_TOKEN_MAX_AGE_SECONDS}" in device


# --- item 7: change password and sign out everywhere --------------------------------------------------


def _user(engine) -> MerchantUser:
    with db.session_scope(engine) as session:
        user = session.exec(select(MerchantUser).where(MerchantUser.email == EMAIL)).one()
        session.expunge(user)
        return user


def _other_browsers(engine, count: int = 2) -> list[str]:
    """Sessions of the same user on other browsers (their cookie secrets)."""
    with db.session_scope(engine) as session:
        user = session.exec(select(MerchantUser).where(MerchantUser.email == EMAIL)).one()
        return [sessions.open_console_session(session, user) for _ in range(count)]


def _alive(secret: str) -> bool:
    return sessions.console_identity(f"console_session={secret}") is not None


def _change(client, current=PASSWORD, new=NEW_PASSWORD, repeat=None, **headers):
    data = {"current_password": current, "new_password": new, "repeat_password": new if repeat is None else repeat}
    return client.post(routes.API_CONSOLE_PASSWORD, data=data, headers=headers)


def test_change_password_ends_every_session_and_continues_this_browser_on_a_fresh_one(app, engine):
    browser = _owners_browser(app)
    mine = browser.cookies.get("console_session")
    elsewhere = _other_browsers(engine)
    resp = _change(browser)
    assert resp.status_code == 303 and resp.headers["location"] == routes.console_settings_url(password="changed")
    fresh = resp.cookies["console_session"]
    assert fresh != mine and _alive(fresh)
    assert not any(_alive(secret) for secret in [mine, *elsewhere])
    assert not _signed_in(_login(_client(app, "198.51.100.30")))  # the old password is gone
    assert _signed_in(_login(_client(app, "198.51.100.31"), password=NEW_PASSWORD))
    with db.session_scope(engine) as session:
        assert session.exec(select(AuditEvent.kind).where(AuditEvent.kind == "password_changed")).all()


@pytest.mark.parametrize(
    ("current", "new", "repeat", "code"),
    [
        ("not my password", NEW_PASSWORD, None, "current"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x", "mismatch"),
        (PASSWORD, "short", None, "weak"),
        (PASSWORD, "p" * 257, None, "weak"),
    ],
)
def test_refused_password_changes_change_nothing(app, engine, current, new, repeat, code):
    browser = _owners_browser(app)
    mine = browser.cookies.get("console_session")
    elsewhere = _other_browsers(engine, 1)
    before = _user(engine).password_hash
    resp = _change(browser, current, new, repeat)
    assert resp.headers["location"] == routes.console_settings_url(password_error=code)
    assert "console_session" not in resp.cookies
    assert _user(engine).password_hash == before
    assert _alive(mine) and _alive(elsewhere[0])


def test_password_change_needs_a_session_the_same_origin_and_few_wrong_guesses(app):
    assert _change(_client(app)).headers["location"] == routes.CONSOLE  # no session
    browser = _owners_browser(app)
    assert _change(browser, origin="https://evil.example").status_code == 403
    for _ in range(5):
        _change(browser, current="guessing the current one")
    resp = _change(browser)  # the right current password, after five wrong ones
    assert resp.headers["location"] == routes.console_settings_url(password_error="throttled")


def test_sign_out_everywhere_ends_every_session_of_the_user_only(app, engine):
    browser = _owners_browser(app)
    mine = browser.cookies.get("console_session")
    elsewhere = _other_browsers(engine)
    with db.session_scope(engine) as session:
        teammate = accounts.add_user(
            session, merchant_id=_user(engine).merchant_id, email="team@acme.example", password=PASSWORD
        )
        teammates_session = sessions.open_console_session(session, teammate)
    assert (
        browser.post(routes.API_CONSOLE_SIGN_OUT_EVERYWHERE, headers={"origin": "https://evil.example"}).status_code
        == 403
    )
    assert _alive(mine)
    resp = browser.post(routes.API_CONSOLE_SIGN_OUT_EVERYWHERE)
    assert resp.status_code == 303 and resp.headers["location"] == routes.CONSOLE
    assert 'console_session=""' in resp.headers["set-cookie"] or "Max-Age=0" in resp.headers["set-cookie"]
    assert not any(_alive(secret) for secret in [mine, *elsewhere])
    assert _alive(teammates_session)
    with db.session_scope(engine) as session:
        revoked = session.exec(select(ConsoleSession).where(ConsoleSession.revoked_at.is_not(None))).all()
        assert len(revoked) == 1 + len(elsewhere)


def test_logout_still_ends_only_this_browser(app, engine):
    browser = _owners_browser(app)
    mine = browser.cookies.get("console_session")
    elsewhere = _other_browsers(engine, 1)
    browser.post(routes.API_CONSOLE_LOGOUT)
    assert not _alive(mine) and _alive(elsewhere[0])


def test_revoking_every_session_of_a_user_on_sqlite_and_postgres(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    with db.session_scope() as session:
        user = accounts.sign_up(session, company_name="Acme", email=EMAIL, password=PASSWORD)
        teammate = accounts.add_user(session, merchant_id=user.merchant_id, email="t@acme.example", password=PASSWORD)
        secrets_ = [sessions.open_console_session(session, user) for _ in range(3)]
        kept = sessions.open_console_session(session, teammate)
    fresh = accounts.change_password(
        cookie_header=f"console_session={secrets_[0]}",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        repeated_password=NEW_PASSWORD,
    )
    assert _alive(fresh) and _alive(kept) and not any(_alive(s) for s in secrets_)
    assert sessions.sign_out_everywhere(f"console_session={fresh}") is not None
    assert not _alive(fresh) and _alive(kept)
    assert sessions.sign_out_everywhere(f"console_session={fresh}") is None  # nothing left to end
