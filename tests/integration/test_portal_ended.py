"""The merchant and language of an ended portal session (billing/facades/portal_ended.py): a tab
whose link was revoked lands on that merchant's branded invalid page, in the subscriber's language."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal_app import db, routes
from portal_app.billing import sessions
from portal_app.billing.facades.portal_ended import ended_session
from portal_app.billing.portal_links import issue_portal_link, resolve_portal_token, revoke_portal_links
from portal_app.billing.subscription_views import current_subscription
from portal_app.billing.subscriptions import delete_subscription
from portal_app.models import Subscriber, utcnow
from tests.builders import subscribed_world


@pytest.fixture
def wired(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    return engine


def test_a_revoked_session_still_names_its_merchant_and_language(wired, gateway):
    world, _ = subscribed_world(wired, gateway)
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, world.subscriber_id)
        subscriber.language = "es"
        session.add(subscriber)
        token = issue_portal_link(session, subscriber)
    with db.session_scope() as session:
        secret = sessions.open_portal_session(session, resolve_portal_token(session, token))
    cookie = f"other=1; {routes.PORTAL_SESSION_COOKIE}={secret}"
    assert ended_session(cookie) == ("ended", "fit", "es")
    with db.session_scope() as session:
        revoke_portal_links(session, merchant_id=world.merchant_id, subscriber_id=world.subscriber_id)
    assert sessions.portal_identity(cookie) is None
    assert ended_session(cookie) == ("ended", "fit", "es")


@pytest.mark.parametrize("cookie", ["", "other=1", f"{routes.PORTAL_SESSION_COOKIE}=unknown", "x" * 5000])
def test_no_session_no_brand(wired, cookie):
    assert ended_session(cookie) == ("ended", "", "")


def test_a_session_whose_subscription_was_deleted_says_deleted(wired, gateway):
    world, _ = subscribed_world(wired, gateway)
    with db.session_scope() as session:
        token = issue_portal_link(session, session.get(Subscriber, world.subscriber_id))
    with db.session_scope() as session:
        secret = sessions.open_portal_session(session, resolve_portal_token(session, token))
    cookie = f"{routes.PORTAL_SESSION_COOKIE}={secret}"
    with db.session_scope() as session:
        sub = current_subscription(session, world.merchant_id, world.subscriber_id)
        delete_subscription(session, sub.id, merchant_id=world.merchant_id, actor="merchant", now=utcnow())
    assert ended_session(cookie) == ("deleted", "fit", "en")


def test_a_database_outage_still_answers_the_plain_page(wired, monkeypatch):
    def down(_cookie):
        raise sa.exc.OperationalError("SELECT", {}, Exception("down"))

    monkeypatch.setattr(sessions, "ended_portal_session", down)
    assert ended_session(f"{routes.PORTAL_SESSION_COOKIE}=abc") == ("ended", "", "")
