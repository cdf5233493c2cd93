"""Every per-client rate limit of the HTTP routes, behind a reverse proxy and without one: visitors
behind a trusted proxy get a bucket each, a spoofed X-Forwarded-For from an untrusted peer neither
splits its bucket nor spends anyone else's, and sign-in posts pass the origin check when the proxy
rewrote Host (nginx's default)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from portal_app import db, forwarded, routes
from portal_app.api import build_api, login_throttle
from portal_app.api import console as console_api
from portal_app.api import headers as headers_module
from portal_app.api import portal as portal_api
from portal_app.api import simulated_gateway as tokenizer_route
from portal_app.billing import accounts, portal_links
from portal_app.models import Merchant, Plan, Subscriber, Subscription
from portal_app.ratelimit import RateLimiter
from portal_app.settings import Settings

PUBLIC_URL = "https://billing.example.com"
UPSTREAM_HOST = "127.0.0.1:8000"  # what nginx sends as Host by default ($proxy_host)
PROXY = "127.0.0.1"
OWNER, PASSWORD = "owner@acme.example", "correct horse battery"
LIMIT = 3
NOW = datetime.now(UTC)
_guesses = itertools.count()


@dataclasses.dataclass
class Api:
    app: object
    token: str  # a valid portal link

    def client(self, peer: str, xff: str | None = None) -> TestClient:
        """A new browser (no cookies) whose connection comes from `peer`, sending `xff` if given."""
        headers = {"host": UPSTREAM_HOST, "origin": PUBLIC_URL}
        if xff is not None:
            headers["x-forwarded-for"] = xff
        return TestClient(
            self.app, base_url=f"http://{UPSTREAM_HOST}", client=(peer, 40000), headers=headers, follow_redirects=False
        )


def _api(engine, monkeypatch, trusted: str) -> Api:
    settings = Settings(secret_key="k" * 40, public_url=PUBLIC_URL, trusted_proxies=trusted, _env_file=None)
    monkeypatch.setattr(forwarded, "get_settings", lambda: settings)
    monkeypatch.setattr(headers_module, "get_settings", lambda: settings)
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    for module, name in [
        (portal_api, "invalid_token_limiter"),
        (console_api, "signup_ip_limiter"),
        (login_throttle, "login_ip_limiter"),
        (tokenizer_route, "tokenize_limiter"),
    ]:
        live = getattr(module, name)
        monkeypatch.setattr(module, name, RateLimiter(live.name, limit=LIMIT, window_seconds=live.window))
    with db.session_scope() as session:
        accounts.sign_up(session, company_name="Acme", email=OWNER, password=PASSWORD)
        merchant = Merchant(name="Fit", slug="fit", invoice_prefix="FIT")
        session.add(merchant)
        session.flush()
        plan = Plan(merchant_id=merchant.id, name="Basic", amount_minor=2900, currency="USD", interval="month")
        subscriber = Subscriber(merchant_id=merchant.id, name="Zoë", email="zoe@example.com")
        session.add_all([plan, subscriber])
        session.flush()
        session.add(
            Subscription(
                merchant_id=merchant.id,
                subscriber_id=subscriber.id,
                plan_id=plan.id,
                status="active",
                anchor_at=NOW,
                current_period_start=NOW,
                current_period_end=NOW + timedelta(days=31),
            )
        )
        token = portal_links.issue_portal_link(session, subscriber)
    return Api(build_api(), token)


@pytest.fixture
def behind_proxy(engine, monkeypatch) -> Api:
    return _api(engine, monkeypatch, trusted=PROXY)


@pytest.fixture
def no_proxy_trusted(engine, monkeypatch) -> Api:
    return _api(engine, monkeypatch, trusted="")


@dataclasses.dataclass(frozen=True)
class Limit:
    """One per-client limit: `spend` counts one event for the client, `allowed` says whether the
    client still gets through (a legitimate request, answered normally)."""

    name: str
    spend: Callable[[Api, TestClient], None]
    allowed: Callable[[Api, TestClient], bool]


def _bad_link(api: Api, client: TestClient) -> None:
    assert client.get(f"/portal/bad-token-{next(_guesses)}").headers["location"] == routes.PORTAL_INVALID


def _good_link_opens(api: Api, client: TestClient) -> bool:
    return client.get(f"/portal/{api.token}").headers["location"] == routes.PORTAL


def _wrong_password(api: Api, client: TestClient) -> None:
    # A new account each time: only the per-IP counter is shared between these guesses.
    data = {"email": f"guess{next(_guesses)}@acme.example", "password": "wrong password"}
    assert client.post(routes.API_CONSOLE_LOGIN, data=data).status_code == 303


def _owner_signs_in(api: Api, client: TestClient) -> bool:
    resp = client.post(routes.API_CONSOLE_LOGIN, data={"email": OWNER, "password": PASSWORD})
    assert resp.status_code == 303, resp.status_code  # never 403: Origin is PUBLIC_URL's, Host the upstream's
    return resp.headers["location"] == routes.CONSOLE_HOME


def _signup_answer(client: TestClient) -> str:
    resp = client.post(routes.API_CONSOLE_SIGNUP, data={"company_name": "", "email": "x", "password": "y"})
    assert resp.status_code == 303, resp.status_code
    return resp.headers["location"]


def _tokenize(client: TestClient) -> int:
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": str(NOW.year + 2), "cvc": "123"}
    return client.post(routes.API_SIMULATED_PAYMENT_METHODS, json={"card": card}).status_code


LIMITS = [
    Limit("invalid portal links", _bad_link, _good_link_opens),
    Limit("console sign-in failures", _wrong_password, _owner_signs_in),
    Limit("sign-ups", lambda api, c: _signup_answer(c), lambda api, c: "throttled" not in _signup_answer(c)),
    Limit("card tokens", lambda api, c: _tokenize(c), lambda api, c: _tokenize(c) == 200),
]
IDS = [limit.name for limit in LIMITS]


def _exhaust(api: Api, limit: Limit, clients: Callable[[int], TestClient]) -> None:
    for n in range(LIMIT):
        limit.spend(api, clients(n))


@pytest.mark.parametrize("limit", LIMITS, ids=IDS)
def test_behind_a_trusted_proxy_each_visitor_has_a_bucket(behind_proxy, limit):
    api = behind_proxy
    _exhaust(api, limit, lambda n: api.client(PROXY, "203.0.113.7"))
    assert not limit.allowed(api, api.client(PROXY, "203.0.113.7"))
    # Another visitor through the same proxy, and the same visitor through two trusted hops.
    assert limit.allowed(api, api.client(PROXY, "198.51.100.20"))
    assert limit.allowed(api, api.client(PROXY, "198.51.100.21, 127.0.0.1"))
    assert not limit.allowed(api, api.client(PROXY, "6.6.6.6, 203.0.113.7"))


@pytest.mark.parametrize("limit", LIMITS, ids=IDS)
def test_a_spoofed_header_from_an_untrusted_peer_neither_splits_nor_spends_buckets(behind_proxy, limit):
    api, attacker = behind_proxy, "192.0.2.66"  # straight to the app, not through the proxy
    # A new X-Forwarded-For on every request, one of them naming a real visitor behind the proxy.
    _exhaust(api, limit, lambda n: api.client(attacker, "203.0.113.7" if n == 0 else f"198.51.100.{n}"))
    assert not limit.allowed(api, api.client(attacker, "198.51.100.99"))
    assert limit.allowed(api, api.client(PROXY, "203.0.113.7"))


@pytest.mark.parametrize("limit", LIMITS, ids=IDS)
def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says(no_proxy_trusted, limit):
    api = no_proxy_trusted
    _exhaust(api, limit, lambda n: api.client("192.0.2.10", f"198.51.100.{n}"))
    assert not limit.allowed(api, api.client("192.0.2.10", "198.51.100.99"))
    assert limit.allowed(api, api.client("192.0.2.11", "198.51.100.1"))


@pytest.mark.parametrize("path", [routes.API_CONSOLE_LOGIN, routes.API_CONSOLE_SIGNUP, routes.API_CONSOLE_LOGOUT])
def test_forms_from_another_site_are_refused_behind_the_proxy(behind_proxy, path):
    client = behind_proxy.client(PROXY, "203.0.113.7")
    # The attacker's page even names our public host as Host: only Origin counts, against PUBLIC_URL.
    refused = client.post(path, data={"email": OWNER, "password": PASSWORD}, headers={"origin": "https://evil.example"})
    assert refused.status_code == 403


def test_sign_in_sign_up_and_sign_out_pass_the_origin_check_when_the_proxy_rewrote_host(behind_proxy):
    client = behind_proxy.client(PROXY, "203.0.113.7")
    assert _owner_signs_in(behind_proxy, client)
    signup = {"company_name": "Globex", "email": "new@globex.example", "password": "another long passphrase"}
    assert client.post(routes.API_CONSOLE_SIGNUP, data=signup).headers["location"] == routes.CONSOLE_HOME
    logout = client.post(routes.API_CONSOLE_LOGOUT)
    assert logout.status_code == 303 and logout.headers["location"] == routes.CONSOLE
