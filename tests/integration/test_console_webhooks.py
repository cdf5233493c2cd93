"""Console webhooks page handlers: add (secret shown once, gone when the dialog closes), delete,
the delivery log and Resend, for the merchant's own endpoints only; strangers are sent to sign in."""

from __future__ import annotations

import contextlib

import pytest

from portal_app import db
from portal_app.billing import accounts, sessions
from portal_app.billing.objects import SubscriberObject
from portal_app.billing.webhooks_out.delivery import deliver_webhooks
from portal_app.billing.webhooks_out.events import record_event
from portal_app.models import Subscriber, WebhookDelivery, WebhookEndpoint
from portal_app.pages.console.webhooks import ConsoleWebhooksState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import rows
from tests.reflex_states import live_state, run_handler
from tests.webhook_helpers import receiver

_connections = contextlib.ExitStack()


@pytest.fixture
def two_merchants(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    out = {}
    for key, company in (("a", "Acme"), ("b", "Bravo")):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=company, email=f"owner@{company.lower()}.example", password="long enough password"
            )
            cookie = "console_session=" + sessions.open_console_session(session, user)
            person = Subscriber(merchant_id=user.merchant_id, name=f"{company} Person", email=f"p@{company}.example")
            session.add(person)
            session.flush()
            out[key] = {"merchant": user.merchant_id, "cookie": cookie, "subscriber": person.id}
    yield out
    _connections.close()


def _state(cookie: str) -> ConsoleWebhooksState:
    return _connections.enter_context(live_state(ConsoleWebhooksState, cookie, path="/console/webhooks"))


def _emit(merchant_id: int, subscriber_id: int) -> None:
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        record_event(
            session, merchant_id=merchant_id, type="portal_link.regenerated", obj=SubscriberObject.of(subscriber)
        )


def test_add_shows_the_secret_once_and_forgets_it_on_close(engine, two_merchants):
    a = two_merchants["a"]
    state = _state(a["cookie"])
    run_handler(ConsoleWebhooksState.load, state)
    assert state.endpoints == []
    run_handler(ConsoleWebhooksState.set_add_open, state, True)
    run_handler(ConsoleWebhooksState.add, state, {"url": "ftp://nope", "type:invoice.paid": "on"})
    assert "http" in state.add_error and state.new_secret == ""
    run_handler(
        ConsoleWebhooksState.add, state, {"url": "http://127.0.0.1:9/h", "type:invoice.paid": "on", "type:bogus": "on"}
    )
    (row,) = rows(engine, WebhookEndpoint)
    assert state.new_secret == row.secret and state.new_secret.startswith("whsec_")
    assert state.endpoints[0]["types"] == "invoice.paid" and state.endpoints[0]["status"] == "Enabled"
    assert "whsec_" not in repr(state.endpoints)
    run_handler(ConsoleWebhooksState.set_add_open, state, False)
    assert state.new_secret == "" and not state.add_open
    run_handler(ConsoleWebhooksState.set_add_open, state, "garbage")
    assert not state.add_open


def test_delivery_log_resend_and_delete_serve_their_merchant_only(engine, two_merchants):
    a, b = two_merchants["a"], two_merchants["b"]
    with receiver(codes=[500]) as r:
        sa_, sb = _state(a["cookie"]), _state(b["cookie"])
        run_handler(ConsoleWebhooksState.load, sa_)
        run_handler(ConsoleWebhooksState.add, sa_, {"url": r.url})
        run_handler(ConsoleWebhooksState.load, sb)
        run_handler(ConsoleWebhooksState.add, sb, {"url": r.url + "/b"})
        a_endpoint, b_endpoint = sa_.endpoints[0]["id"], sb.endpoints[0]["id"]
        _emit(a["merchant"], a["subscriber"])
        _emit(b["merchant"], b["subscriber"])
        deliver_webhooks(engine)  # A's first try: 500, retrying; B's: 200
        run_handler(ConsoleWebhooksState.show_deliveries, sa_, a_endpoint)
        (d,) = sa_.deliveries
        assert d["status"] == "pending" and d["code"] == "500" and d["next"] and d["can_resend"] == ""
        assert d["type"] == "portal_link.regenerated" and d["event"].startswith("evt_") and "ms" in d["latency"]

        run_handler(ConsoleWebhooksState.show_deliveries, sb, b_endpoint)
        (b_delivery,) = sb.deliveries
        assert b_delivery["status"] == "delivered" and b_delivery["can_resend"] == "1"

        # A cannot open B's log, resend B's delivery or delete B's endpoint, whatever the argument
        for argument in (b_endpoint, int(b_endpoint), None, {"id": 1}, "-1", "1e3"):
            run_handler(ConsoleWebhooksState.show_deliveries, sa_, argument)
            assert "Bravo" not in repr(sa_.deliveries) and "/b" not in repr(sa_.deliveries)
            (emitted,) = run_handler(ConsoleWebhooksState.delete, sa_, argument)
            assert "error" in repr(emitted).lower()
        for argument in (b_delivery["id"], int(b_delivery["id"]), None, ["1"], "0"):
            (emitted,) = run_handler(ConsoleWebhooksState.resend, sa_, argument)
            assert "error" in repr(emitted).lower(), argument
        assert rows(engine, WebhookDelivery, WebhookDelivery.id == int(b_delivery["id"]))[0].status == "delivered"
        assert rows(engine, WebhookEndpoint, WebhookEndpoint.id == int(b_endpoint))[0].deleted_at is None

        # B resends its own delivered one: the same event goes again
        (emitted,) = run_handler(ConsoleWebhooksState.resend, sb, b_delivery["id"])
        assert "Queued" in repr(emitted) and sb.deliveries[0]["status"] == "pending"
        deliver_webhooks(engine)
        b_ids = r.ids()
        assert b_ids.count(b_delivery["event"]) == 2

        # strangers are sent to sign in and change nothing
        for cookie in ("", "console_session=forged", a["cookie"].replace("=", "=x")):
            stranger = _state(cookie)
            for handler, arg in (
                (ConsoleWebhooksState.delete, a_endpoint),
                (ConsoleWebhooksState.resend, b_delivery["id"]),
                (ConsoleWebhooksState.show_deliveries, a_endpoint),
                (ConsoleWebhooksState.add, {"url": "http://127.0.0.1:9/x"}),
            ):
                (emitted,) = run_handler(handler, stranger, arg)
                assert "_redirect" in repr(emitted) and not stranger.signed_in
        assert len(rows(engine, WebhookEndpoint)) == 2

        # A deletes its own
        (emitted,) = run_handler(ConsoleWebhooksState.delete, sa_, a_endpoint)
        assert "deleted" in repr(emitted) and sa_.endpoints == [] and sa_.selected == ""
