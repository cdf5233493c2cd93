"""Session secrets stay out of Reflex: the socket handshake loses its Cookie header before Reflex
sees it (kept in process memory for the live connection only), and the console's portal link is
answered by an authorized HTTP route instead of a state var."""

from __future__ import annotations

import asyncio

import pytest
from starlette.testclient import TestClient

from portal_app import connections, db, routes
from portal_app.api import build_api
from portal_app.billing import accounts, sessions
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from tests.builders import PLAN_FORM, card_form


def _through_middleware(scope: dict) -> tuple[dict, str, str]:
    """(the scope Reflex gets, the cookie the connection key finds while open, and after close)."""
    seen = {}

    async def reflex(inner_scope, receive, send):
        seen["scope"] = inner_scope
        seen["cookie"] = connections.cookie_of(dict(_decoded(inner_scope["headers"])))

    asyncio.run(connections.HandshakeCookieMiddleware(reflex)(scope, None, None))
    return seen["scope"], seen["cookie"], connections.cookie_of(dict(_decoded(seen["scope"]["headers"])))


def _decoded(headers):
    return [(name.decode(), value.decode()) for name, value in headers]


def test_the_socket_handshake_reaches_reflex_without_its_cookie():
    cookie = "console_session=s3cret-console; portal_session=s3cret-portal"
    scope = {
        "type": "websocket",
        "path": routes.REFLEX_EVENT + "/",
        "headers": [(b"host", b"portal.test"), (b"cookie", cookie.encode()), (b"x-portal-connection", b"forged")],
    }
    inner, live, closed = _through_middleware(scope)
    assert b"s3cret" not in repr(inner).encode() and "cookie" not in dict(_decoded(inner["headers"]))
    assert live == cookie and closed == ""  # reachable for exactly as long as the socket is open
    key = dict(_decoded(inner["headers"]))[connections.CONNECTION_HEADER]
    assert key != "forged" and len(key) >= 40  # a client cannot choose its connection key
    assert connections.live_connection_count() == 0


def test_http_routes_keep_their_cookie():
    scope = {"type": "http", "path": routes.HEALTH, "headers": [(b"cookie", b"portal_session=x")]}
    inner, _, _ = _through_middleware(scope)
    assert inner is scope


@pytest.fixture
def merchants(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    gateway = SimulatedGateway()
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    out = {}
    for key in ("a", "b"):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=key.upper(), email=f"owner@{key}.example", password="long enough password"
            )
            secret = sessions.open_console_session(session, user)
        plan_id = plans_facade.save_plan(merchant_id=user.merchant_id, user_id=user.id, form=PLAN_FORM)
        result = registration_facade.register_subscriber(
            merchant_id=user.merchant_id,
            user_id=user.id,
            plan_id=plan_id,
            form={"name": f"Person {key}", "email": f"person@{key}.example", **card_form()},
        )
        out[key] = {"merchant": user.merchant_id, "user": user.id, "secret": secret, "subscriber": result.subscriber_id}
    return out


def test_portal_link_route_answers_the_merchants_own_subscribers_only(merchants):
    a, b = merchants["a"], merchants["b"]
    client = TestClient(build_api(), base_url="http://portal.test")
    mine, theirs = routes.console_portal_link_url(a["subscriber"]), routes.console_portal_link_url(b["subscriber"])
    assert client.get(mine).status_code == 401  # no session
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, a["secret"])
    resp = client.get(mine)
    assert resp.status_code == 200 and resp.headers["cache-control"] == "no-store"
    assert resp.json()["url"] == profile_facade.portal_link_url(
        merchant_id=a["merchant"], subscriber_id=a["subscriber"]
    )
    assert resp.json()["url"].startswith(routes.portal_url(""))
    other = client.get(theirs)
    assert other.status_code == 404 and "url" not in other.json()
    assert client.get(mine, headers={"sec-fetch-site": "cross-site"}).status_code == 403
    profile_facade.delete_subscription(merchant_id=a["merchant"], user_id=a["user"], subscriber_id=a["subscriber"])
    assert client.get(mine).status_code == 404  # the portal is closed


def test_the_event_path_is_reflexs_socket_endpoint():
    from reflex_base.constants import Endpoint

    assert "/" + Endpoint.EVENT.value == routes.REFLEX_EVENT


def test_the_console_outbox_never_shows_a_live_portal_link(merchants, engine):
    from sqlmodel import Session, select

    from portal_app.billing.facades.console import outbox as outbox_facade
    from portal_app.models import EmailMessage

    a = merchants["a"]
    profile_facade.send_invitation(merchant_id=a["merchant"], user_id=a["user"], subscriber_id=a["subscriber"])
    token = profile_facade.portal_link_url(merchant_id=a["merchant"], subscriber_id=a["subscriber"]).rsplit("/", 1)[1]
    with Session(engine) as session:  # the email itself carries the link (the subscriber needs it)
        assert any(token in m.body_text for m in session.exec(select(EmailMessage)).all())
    shown = outbox_facade.list_outbox(merchant_id=a["merchant"])[0]
    assert shown and all(token not in m.body_text for m in shown)
    assert any(outbox_facade.HIDDEN_LINK in m.body_text for m in shown)
