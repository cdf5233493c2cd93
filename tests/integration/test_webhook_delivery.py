"""Outgoing webhook delivery against a real loopback receiver: Standard Webhooks signatures, the
backoff schedule, exactly one delivery per event id when the receiver fails at first, disabling
after persistent failure (with the merchant's email), resend, tenancy, and two runners at once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from portal_app.billing.errors import BillingError, NotAllowed, NotFound
from portal_app.billing.objects import SubscriberObject
from portal_app.billing.webhooks_out import delivery as delivery_module
from portal_app.billing.webhooks_out.delivery import MAX_ATTEMPTS, RETRY_DELAYS, deliver_webhooks, resend_delivery
from portal_app.billing.webhooks_out.endpoints import (
    WebhookEndpointError,
    create_endpoint,
    delete_endpoint,
    list_endpoints,
)
from portal_app.billing.webhooks_out.events import record_event
from portal_app.billing.webhooks_out.queries import EventQueryError, list_attempts, list_deliveries, list_events
from portal_app.db import new_session
from portal_app.models import EmailMessage, MerchantUser, Subscriber, WebhookDelivery, WebhookEndpoint
from tests.builders import make_merchant, make_subscriber, rows
from tests.webhook_helpers import receiver

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _merchant(engine, slug="acme"):
    with new_session(engine) as session, session.begin():
        merchant = make_merchant(session, slug, slug[:4].upper())
        session.add(MerchantUser(merchant_id=merchant.id, email=f"owner@{slug}.example", password_hash="x"))
        subscriber = make_subscriber(session, merchant.id, name=f"{slug} Person")
        return merchant.id, subscriber.id


def _endpoint(engine, merchant_id, url, event_types=None):
    with new_session(engine) as session, session.begin():
        view, secret = create_endpoint(
            session, merchant_id=merchant_id, url=url, event_types=event_types, actor="test", now=T0
        )
        return view.id, secret


def _event(engine, merchant_id, subscriber_id, type="portal_link.regenerated") -> str:
    with new_session(engine) as session, session.begin():
        subscriber = session.get(Subscriber, subscriber_id)
        return record_event(session, merchant_id=merchant_id, type=type, obj=SubscriberObject.of(subscriber), now=T0)


def _deliveries(engine, endpoint_id):
    return sorted(rows(engine, WebhookDelivery, WebhookDelivery.endpoint_id == endpoint_id), key=lambda d: d.id)


def test_backoff_schedule_is_standard_webhooks():
    assert [d.total_seconds() for d in RETRY_DELAYS] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert MAX_ATTEMPTS == 8
    assert timedelta(hours=24) < sum(RETRY_DELAYS, timedelta()) < timedelta(hours=30)
    assert delivery_module.retry_delay(8) is None and delivery_module.retry_delay(1) == timedelta(seconds=5)


def test_a_delivery_is_signed_and_verifies_with_standardwebhooks(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver() as r:
        _, secret = _endpoint(engine, merchant_id, r.url)
        assert secret.startswith("whsec_") and len(secret) >= len("whsec_") + 32
        event_id = _event(engine, merchant_id, subscriber_id)
        assert deliver_webhooks(engine, now=T0).delivered == 1
    ((headers, body),) = r.requests
    assert headers["webhook-id"] == event_id and headers["content-type"] == "application/json"
    payload = Webhook(secret).verify(body, headers)
    assert payload["type"] == "portal_link.regenerated" and payload["data"]["object"]["id"] == subscriber_id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)  # another secret does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Person", "Persona"), headers)  # nor a changed body


def test_a_receiver_failing_twice_gets_the_event_later_exactly_once(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(codes=[500, 503]) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        event_id = _event(engine, merchant_id, subscriber_id)
        assert deliver_webhooks(engine, now=T0).retrying == 1
        assert deliver_webhooks(engine, now=T0 + timedelta(seconds=1)).delivered == 0  # not due yet
        (delivery,) = _deliveries(engine, endpoint_id)
        assert delivery.status == "pending" and delivery.next_attempt_at == T0 + timedelta(seconds=5)
        assert delivery.last_status_code == 500
        deliver_webhooks(engine, now=T0 + timedelta(seconds=5))
        second = T0 + timedelta(seconds=5)
        assert _deliveries(engine, endpoint_id)[0].next_attempt_at == second + timedelta(minutes=5)
        assert deliver_webhooks(engine, now=second + timedelta(minutes=5)).delivered == 1
        for later in (1, 2, 30):
            deliver_webhooks(engine, now=T0 + timedelta(days=later))
    assert r.ids() == [event_id] * 3  # the same webhook-id on every try
    (delivery,) = _deliveries(engine, endpoint_id)
    assert delivery.status == "delivered" and delivery.attempts == 3 and delivery.last_status_code == 200
    with new_session(engine) as session:
        log = list_attempts(session, merchant_id=merchant_id, delivery_id=delivery.id)
        (view,) = list_deliveries(session, merchant_id=merchant_id, endpoint_id=endpoint_id)
    assert [a.status_code for a in log] == [500, 503, 200] and all(a.latency_ms >= 0 for a in log)
    assert view.event_id == event_id and view.status == "delivered" and view.next_attempt_at is None


def test_redirects_are_not_followed(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(codes=[302]) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        _event(engine, merchant_id, subscriber_id)
        deliver_webhooks(engine, now=T0)
    (delivery,) = _deliveries(engine, endpoint_id)
    assert delivery.status == "pending" and delivery.last_status_code == 302 and len(r.requests) == 1


def _exhaust(engine, endpoint_id):
    """Run passes at each next try until the endpoint's first delivery is out of attempts."""
    for _ in range(MAX_ATTEMPTS + 2):
        delivery = _deliveries(engine, endpoint_id)[0]
        if delivery.status != "pending":
            return delivery
        deliver_webhooks(engine, now=delivery.next_attempt_at)
    return _deliveries(engine, endpoint_id)[0]


def test_persistent_failure_disables_the_endpoint_and_emails_the_merchant_once(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(default=500) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        _event(engine, merchant_id, subscriber_id)
        _event(engine, merchant_id, subscriber_id)
        delivery = _exhaust(engine, endpoint_id)
        assert delivery.status == "failed" and delivery.attempts == MAX_ATTEMPTS
        (endpoint,) = rows(engine, WebhookEndpoint, WebhookEndpoint.id == endpoint_id)
        assert (
            not endpoint.enabled and "over a day" in endpoint.disabled_reason and "HTTP 500" in endpoint.disabled_reason
        )
        # nothing more is sent to it; new events get no delivery for it
        sent = len(r.requests)
        _event(engine, merchant_id, subscriber_id)
        deliver_webhooks(engine, now=T0 + timedelta(days=5))
        assert len(r.requests) == sent and len(_deliveries(engine, endpoint_id)) == 2
    emails = rows(engine, EmailMessage, EmailMessage.kind == "webhook_disabled")
    assert sorted(e.to_address for e in emails) == ["help@acme.example", "owner@acme.example"]
    assert r.url in emails[0].body_text and "/console/webhooks" in emails[0].body_text
    with new_session(engine) as session:
        (view,) = list_endpoints(session, merchant_id=merchant_id)
    assert not view.enabled and view.disabled_at is not None


def test_one_success_meanwhile_keeps_the_endpoint_enabled(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(codes=[500, 200], default=500) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        _event(engine, merchant_id, subscriber_id)  # fails first, then...
        _event(engine, merchant_id, subscriber_id)
        deliver_webhooks(engine, now=T0)  # 1st: 500, the endpoint is skipped for the rest of the pass
        deliver_webhooks(engine, now=T0 + timedelta(seconds=1))  # 2nd event: 200
        _exhaust(engine, endpoint_id)
    (endpoint,) = rows(engine, WebhookEndpoint, WebhookEndpoint.id == endpoint_id)
    assert endpoint.enabled
    assert _deliveries(engine, endpoint_id)[0].status == "failed"
    assert rows(engine, EmailMessage, EmailMessage.kind == "webhook_disabled") == []


def test_resend_sends_the_same_event_again_and_reenables_a_disabled_endpoint(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(default=500) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        event_id = _event(engine, merchant_id, subscriber_id)
        delivery = _exhaust(engine, endpoint_id)
        r.default = 200
        later = T0 + timedelta(days=3)
        with new_session(engine) as session, session.begin():
            resend_delivery(session, merchant_id=merchant_id, delivery_id=delivery.id, actor="user:1", now=later)
        with new_session(engine) as session, session.begin(), pytest.raises(NotAllowed):
            resend_delivery(session, merchant_id=merchant_id, delivery_id=delivery.id, actor="user:1", now=later)
        assert deliver_webhooks(engine, now=later).delivered == 1
        # and a delivered one can be resent too
        with new_session(engine) as session, session.begin():
            resend_delivery(session, merchant_id=merchant_id, delivery_id=delivery.id, actor="user:1", now=later)
        assert deliver_webhooks(engine, now=later).delivered == 1
    assert set(r.ids()) == {event_id} and len(r.ids()) == MAX_ATTEMPTS + 2
    (endpoint,) = rows(engine, WebhookEndpoint, WebhookEndpoint.id == endpoint_id)
    assert endpoint.enabled and endpoint.disabled_reason == ""


def test_endpoints_get_only_their_types_and_only_events_after_they_exist(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver() as r:
        early = _event(engine, merchant_id, subscriber_id)
        _endpoint(engine, merchant_id, r.url, event_types=["invoice.paid"])
        all_id, _ = _endpoint(engine, merchant_id, r.url + "/all")
        later = _event(engine, merchant_id, subscriber_id)
        deliver_webhooks(engine, now=T0)
    assert r.ids() == [later]  # the invoice.paid-only endpoint got nothing; nobody got the early one
    assert early not in r.ids() and len(_deliveries(engine, all_id)) == 1


def test_endpoint_validation(engine):
    merchant_id, _ = _merchant(engine)
    with new_session(engine) as session:
        for bad in (
            "",
            "ftp://x.example/",
            "not a url",
            "https://user:pw@x.example/",
            "http://x.example/" + "a" * 2100,
            42,
        ):
            with pytest.raises(BillingError) as info:
                create_endpoint(session, merchant_id=merchant_id, url=bad, actor="t")
            assert info.value.field == "url"
        for bad_types in (["invoice.nope"], "invoice.paid", [1]):
            with pytest.raises(WebhookEndpointError) as info:
                create_endpoint(
                    session, merchant_id=merchant_id, url="https://x.example/h", event_types=bad_types, actor="t"
                )
            assert info.value.field == "event_types"
        view, _ = create_endpoint(
            session,
            merchant_id=merchant_id,
            url=" https://x.example/h ",
            event_types=["invoice.paid", "invoice.paid"],
            actor="t",
        )
        assert view.url == "https://x.example/h" and view.event_types == ("invoice.paid",)


def test_another_merchant_cannot_see_delete_or_resend(engine):
    a, a_subscriber = _merchant(engine, "acme")
    b, _ = _merchant(engine, "bravo")
    with receiver() as r:
        endpoint_id, _ = _endpoint(engine, a, r.url)
        _event(engine, a, a_subscriber)
        deliver_webhooks(engine, now=T0)
    (delivery,) = _deliveries(engine, endpoint_id)
    with new_session(engine) as session, session.begin():
        assert list_endpoints(session, merchant_id=b) == []
        assert list_events(session, merchant_id=b) == []
        assert list_attempts(session, merchant_id=b, delivery_id=delivery.id) == []
        for call in (
            lambda: list_deliveries(session, merchant_id=b, endpoint_id=endpoint_id),
            lambda: delete_endpoint(session, merchant_id=b, endpoint_id=endpoint_id, actor="user:9"),
            lambda: resend_delivery(session, merchant_id=b, delivery_id=delivery.id, actor="user:9"),
            lambda: delete_endpoint(session, merchant_id=a, endpoint_id="1", actor="user:9"),
            lambda: resend_delivery(session, merchant_id=a, delivery_id=None, actor="user:9"),
        ):
            with pytest.raises(NotFound):
                call()
    assert len(list_endpoints(new_session(engine), merchant_id=a)) == 1


def test_deleting_an_endpoint_stops_its_waiting_deliveries(engine):
    merchant_id, subscriber_id = _merchant(engine)
    with receiver(default=500) as r:
        endpoint_id, _ = _endpoint(engine, merchant_id, r.url)
        _event(engine, merchant_id, subscriber_id)
        deliver_webhooks(engine, now=T0)
        with new_session(engine) as session, session.begin():
            delete_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint_id, actor="user:1")
        deliver_webhooks(engine, now=T0 + timedelta(days=1))
    assert len(r.requests) == 1
    assert _deliveries(engine, endpoint_id)[0].status == "failed"
    with new_session(engine) as session:
        assert list_endpoints(session, merchant_id=merchant_id) == []


def test_events_list_newest_first_with_a_cursor_and_a_type(engine):
    merchant_id, subscriber_id = _merchant(engine)
    ids = [_event(engine, merchant_id, subscriber_id) for _ in range(5)]
    with new_session(engine) as session:
        page = list_events(session, merchant_id=merchant_id, limit=2)
        assert [e.id for e in page] == ids[::-1][:2]
        rest = list_events(session, merchant_id=merchant_id, limit=10, starting_after=page[-1].cursor)
        assert [e.id for e in rest] == ids[::-1][2:]
        assert list_events(session, merchant_id=merchant_id, type="invoice.paid") == []
        assert rest[0].payload["type"] == "portal_link.regenerated"
        for bad in ({"limit": 0}, {"limit": 102}, {"type": "nope"}, {"starting_after": "x"}):
            with pytest.raises(EventQueryError):
                list_events(session, merchant_id=merchant_id, **bad)


@pytest.mark.concurrency
def test_two_runners_at_once_deliver_each_event_once(any_engine):
    merchant_id, subscriber_id = _merchant(any_engine)
    with receiver(delay=0.05) as r:
        _endpoint(any_engine, merchant_id, r.url)
        ids = [_event(any_engine, merchant_id, subscriber_id) for _ in range(12)]
        barrier = threading.Barrier(2)
        results = []

        def run():
            barrier.wait()
            results.append(deliver_webhooks(any_engine, now=T0).delivered)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(r.ids()) == sorted(ids) and sum(results) == 12
    assert json.loads(r.requests[0][1])["type"] == "portal_link.regenerated"
