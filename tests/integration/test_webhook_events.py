"""Outgoing webhook events: each change of a subscription's life writes exactly the expected events,
in the change's transaction (a rollback leaves none), with the public object shapes and no portal URL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal_app import db
from portal_app.billing.facades.console.profile import regenerate_portal_link
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.runs import run_billing
from portal_app.billing.subscriptions import cancel_subscription, start_subscription, subscribe, undo_cancellation
from portal_app.billing.webhooks_out.endpoints import create_endpoint
from portal_app.db import new_session
from portal_app.models import MerchantUser, WebhookDelivery
from tests.builders import JAN31, VISA, add_card, make_subscriber, make_world, rows, subscribed_world
from tests.webhook_helpers import events_after, last_event_id

FEB28 = JAN31.replace(month=2, day=28)
MAR31 = JAN31.replace(month=3, day=31)
APR30 = JAN31.replace(month=4, day=30)


class Outbox:
    def __init__(self, engine):
        self.engine, self.seen = engine, last_event_id(engine)

    def new(self) -> list[tuple[str, dict]]:
        found = events_after(self.engine, self.seen)
        self.seen = last_event_id(self.engine)
        return found

    def types(self) -> list[str]:
        return [t for t, _ in self.new()]


def test_a_subscription_life_writes_exactly_its_events(engine, gateway):
    world = make_world(engine)
    outbox = Outbox(engine)
    add_card(world, gateway, VISA, now=JAN31)
    ((kind, payload),) = outbox.new()
    assert kind == "payment_method.updated"
    assert payload["data"]["object"]["object"] == "payment_method" and payload["data"]["object"]["last4"] == "4242"

    # start: incomplete, first invoice finalized
    with new_session(engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=world.merchant_id, subscriber=world.subscriber_id, plan=world.plan_id, start_at=JAN31
        )
        invoice_id = started.invoice.id
    events = outbox.new()
    assert [t for t, _ in events] == ["subscription.created", "invoice.finalized"]
    assert events[0][1]["data"]["object"]["status"] == "incomplete"
    finalized = events[1][1]["data"]["object"]
    assert finalized["status"] == "open" and finalized["number"] and finalized["lines"][0]["amount"] == 2900

    # paid: the invoice, then the subscription active
    charge_invoice(engine, invoice_id, merchant_id=world.merchant_id, trigger="renewal", gateway=gateway, now=JAN31)
    events = outbox.new()
    assert [t for t, _ in events] == ["invoice.paid", "subscription.updated"]
    assert events[0][1]["data"]["object"]["paid_at"] is not None
    updated = events[1][1]["data"]
    assert updated["object"]["status"] == "active" and updated["previous_attributes"] == {"status": "incomplete"}

    # renew: a new invoice finalized and paid; the status does not change
    run_billing(engine, now=FEB28 + timedelta(minutes=3), gateway=gateway)
    assert outbox.types() == ["invoice.finalized", "invoice.paid"]

    # the card now declines: the next renewal fails, past_due
    add_card(world, gateway, "4000000000000341", now=FEB28)
    assert outbox.types() == ["payment_method.updated"]
    run_billing(engine, now=MAR31 + timedelta(minutes=3), gateway=gateway)
    events = outbox.new()
    assert [t for t, _ in events] == ["invoice.finalized", "invoice.payment_failed", "subscription.updated"]
    assert events[1][1]["data"]["object"]["status"] == "open"
    assert events[2][1]["data"]["object"]["status"] == "past_due"
    assert events[2][1]["data"]["previous_attributes"] == {"status": "active"}

    # a card update pays the open invoice: active again
    add_card(world, gateway, VISA, now=MAR31 + timedelta(hours=1))
    events = outbox.new()
    assert [t for t, _ in events] == ["payment_method.updated", "invoice.paid", "subscription.updated"]
    assert events[2][1]["data"]["previous_attributes"] == {"status": "past_due"}

    # cancel at period end, undo, cancel again: updates with the flag's previous value
    sub_id = started.subscription.id
    with new_session(engine) as session, session.begin():
        cancel_subscription(
            session, sub_id, merchant_id=world.merchant_id, actor="subscriber", now=APR30 - timedelta(days=5)
        )
    ((kind, payload),) = outbox.new()
    assert kind == "subscription.updated" and payload["data"]["object"]["cancel_at_period_end"] is True
    assert payload["data"]["previous_attributes"] == {"cancel_at_period_end": False, "canceled_at": None}
    with new_session(engine) as session, session.begin():
        undo_cancellation(
            session, sub_id, merchant_id=world.merchant_id, actor="subscriber", now=APR30 - timedelta(days=4)
        )
    ((kind, payload),) = outbox.new()
    assert kind == "subscription.updated" and payload["data"]["object"]["cancel_at_period_end"] is False
    assert payload["data"]["previous_attributes"]["cancel_at_period_end"] is True
    with new_session(engine) as session, session.begin():
        cancel_subscription(
            session, sub_id, merchant_id=world.merchant_id, actor="subscriber", now=APR30 - timedelta(days=3)
        )
    assert outbox.types() == ["subscription.updated"]

    # the period ends: canceled (in the run's bulk path)
    run_billing(engine, now=APR30 + timedelta(minutes=3), gateway=gateway)
    events = outbox.new()
    assert [t for t, _ in events] == ["subscription.updated", "subscription.canceled"]
    assert events[0][1]["data"]["previous_attributes"] == {"status": "active"}
    assert events[1][1]["data"]["object"]["status"] == "canceled" and events[1][1]["data"]["object"]["ended_at"]

    # every payload has the envelope and never a portal URL or token
    for _, payload in events_after(engine, 0):
        assert set(payload) == {"type", "timestamp", "data"} and "object" in payload["data"]
        assert "/portal/" not in str(payload) and "portal_url" not in str(payload.get("data", {}).get("object", {}))


def test_immediate_cancel_reports_updated_and_canceled(engine, gateway):
    world, result = subscribed_world(engine, gateway, policy="immediately")
    outbox = Outbox(engine)
    with new_session(engine) as session, session.begin():
        cancel_subscription(
            session, result.subscription_id, merchant_id=world.merchant_id, actor="subscriber", now=JAN31
        )
    assert outbox.types() == ["subscription.updated", "subscription.canceled"]


def test_a_rolled_back_change_leaves_no_event_and_no_delivery(engine, gateway):
    world, result = subscribed_world(engine, gateway, policy="immediately")
    with new_session(engine) as session, session.begin():
        create_endpoint(session, merchant_id=world.merchant_id, url="http://127.0.0.1:9/x", actor="test")
    outbox = Outbox(engine)
    with pytest.raises(RuntimeError), new_session(engine) as session, session.begin():
        cancel_subscription(
            session, result.subscription_id, merchant_id=world.merchant_id, actor="subscriber", now=JAN31
        )
        raise RuntimeError("the request failed after the change")
    assert outbox.new() == []
    assert rows(engine, WebhookDelivery) == []


def test_portal_link_regenerated_names_the_subscriber_never_the_link(engine, gateway, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    world, _ = subscribed_world(engine, gateway)
    with new_session(engine) as session, session.begin():
        user = MerchantUser(merchant_id=world.merchant_id, email="owner@fit.example", password_hash="x")
        session.add(user)
        session.flush()
        user_id = user.id
    outbox = Outbox(engine)
    url = regenerate_portal_link(merchant_id=world.merchant_id, user_id=user_id, subscriber_id=world.subscriber_id)
    ((kind, payload),) = outbox.new()
    assert kind == "portal_link.regenerated"
    assert payload["data"]["object"] == {**payload["data"]["object"], "object": "subscriber", "portal_url": None}
    token = url.rsplit("/", 1)[-1]
    assert token not in str(payload)


def test_bulk_renewals_record_their_events_in_bulk(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    # nine more subscribers on the same plan
    for n in range(9):
        with new_session(engine) as session, session.begin():
            sid = make_subscriber(session, world.merchant_id, name=f"Sub {n}").id
        add_card(world, gateway, VISA, now=JAN31, subscriber_id=sid)
        subscribe(
            engine,
            merchant_id=world.merchant_id,
            subscriber_id=sid,
            plan_id=world.plan_id,
            start_at=JAN31,
            gateway=gateway,
        )
    outbox = Outbox(engine)
    run_billing(engine, now=FEB28 + timedelta(minutes=3), gateway=gateway)
    types = outbox.types()
    assert types.count("invoice.finalized") == 10 and types.count("invoice.paid") == 10 and len(types) == 20
