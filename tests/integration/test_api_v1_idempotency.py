"""Idempotency-Key on the REST API's POSTs: a replay answers the first result (and acts once), a
different request under the key is refused, a duplicate in flight gets 409 (PostgreSQL too), keys
are per merchant and live 24 h, and the stored answer holds no portal token."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlmodel import select

from portal_app import db, routes
from portal_app.billing import api_idempotency
from portal_app.billing.facades import api as api_facade
from portal_app.models import ApiIdempotencyKey, AuditEvent, EmailMessage, Subscriber, utcnow
from tests.api_world import api_client, make_tenant
from tests.builders import rows


@pytest.fixture
def tenant(engine, gateway):
    return make_tenant(engine, gateway, slug="fit", prefix="FIT")


@pytest.fixture
def client(engine, monkeypatch):
    return api_client(engine, monkeypatch)


def _register(client, tenant, key: str | None = "key-1", **overrides):
    body = {"name": "Bo Diddley", "email": "bo@example.com", "plan": tenant.world.plan_id, "send_invitation": True}
    headers = {**tenant.headers, **({"Idempotency-Key": key} if key else {})}
    return client.post(routes.API_V1_SUBSCRIBERS, headers=headers, json={**body, **overrides})


def test_a_replay_answers_the_first_result_and_registers_once(client, engine, tenant):
    first = _register(client, tenant)
    assert first.status_code == 200 and "idempotent-replayed" not in first.headers
    again = _register(client, tenant)
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["cache-control"] == "no-store"
    assert len(rows(engine, Subscriber, Subscriber.email == "bo@example.com")) == 1
    assert len(rows(engine, EmailMessage, EmailMessage.kind == "invitation")) == 1


def test_the_stored_answer_holds_no_portal_token_and_a_replay_rederives_the_current_one(client, engine, tenant):
    first = _register(client, tenant).json()
    token = first["portal_url"].rsplit("/", 1)[1]
    (stored,) = rows(engine, ApiIdempotencyKey)
    assert token not in stored.response_body and "portal/" not in stored.response_body
    assert stored.portal_subscriber_id == first["id"]
    # The link is regenerated: a replay shows the live link, never the revoked one.
    regenerated = client.post(
        routes.API_V1_SUBSCRIBER_PORTAL_LINK.format(subscriber_id=first["id"]), headers=tenant.headers
    ).json()
    assert regenerated["portal_url"] != first["portal_url"]
    assert _register(client, tenant).json()["portal_url"] == regenerated["portal_url"]


def test_a_different_request_under_the_same_key_is_refused(client, engine, tenant):
    assert _register(client, tenant).status_code == 200
    resp = _register(client, tenant, email="other@example.com")
    assert resp.status_code == 400
    assert resp.json()["error"] == {
        "type": "idempotency_error",
        "code": "idempotency_key_reused",
        "message": resp.json()["error"]["message"],
    }
    # Another path with the same key is another request too.
    url = routes.API_V1_SUBSCRIBER_PORTAL_LINK.format(subscriber_id=tenant.world.subscriber_id)
    resp = client.post(url, headers={**tenant.headers, "Idempotency-Key": "key-1"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "idempotency_key_reused"
    assert len(rows(engine, Subscriber, Subscriber.email == "other@example.com")) == 0


def test_keys_belong_to_one_merchant(client, engine, gateway, tenant):
    other = make_tenant(engine, gateway, slug="gym", prefix="GYM")
    assert _register(client, tenant).status_code == 200
    theirs = client.post(
        routes.API_V1_SUBSCRIBERS,
        headers={**other.headers, "Idempotency-Key": "key-1"},
        json={"name": "Bo Diddley", "email": "bo@example.com", "plan": tenant.world.plan_id},
    )
    assert theirs.status_code == 404  # their own request ran (A's plan is not theirs); nothing of A replayed
    assert "idempotent-replayed" not in theirs.headers


def test_invalid_requests_and_server_errors_are_not_stored(client, engine, tenant, monkeypatch):
    assert _register(client, tenant, name="").status_code == 400
    assert rows(engine, ApiIdempotencyKey) == []

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api_facade, "register_subscriber", explode)
    assert _register(client, tenant).status_code == 500
    assert rows(engine, ApiIdempotencyKey) == []
    monkeypatch.undo()
    client = api_client(engine, monkeypatch)
    assert _register(client, tenant).status_code == 200  # the same key, now it works


def test_a_domain_refusal_is_stored_and_replayed(client, engine, tenant):
    url = routes.API_V1_SUBSCRIPTION_UNDO_CANCEL.format(subscription_id=tenant.subscription_id)
    headers = {**tenant.headers, "Idempotency-Key": "undo-1"}
    first = client.post(url, headers=headers)
    assert first.status_code == 409
    again = client.post(url, headers=headers)
    assert again.status_code == 409 and again.headers["idempotent-replayed"] == "true"


@pytest.mark.parametrize("key", ["", " ", "é", "a" * 256, "tab\tkey"])
def test_a_malformed_key_is_400(client, tenant, key):
    resp = client.post(
        routes.API_V1_SUBSCRIBERS,
        headers={**tenant.headers, "Idempotency-Key": key.encode()},
        json={"name": "Bo", "email": "bo@example.com", "plan": tenant.world.plan_id},
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "idempotency_key_invalid"


def test_a_request_in_flight_gets_409_until_abandoned(client, engine, tenant):
    body = b'{"name":"Bo","email":"bo@example.com","plan":%d}' % tenant.world.plan_id
    fingerprint = api_idempotency.request_fingerprint("POST", routes.API_V1_SUBSCRIBERS, "", body)
    claim = api_facade.claim_idempotency_key(tenant.world.merchant_id, "k", fingerprint)
    assert claim.outcome is api_idempotency.ClaimOutcome.NEW
    headers = {**tenant.headers, "Idempotency-Key": "k", "Content-Type": "application/json"}
    resp = client.post(routes.API_V1_SUBSCRIBERS, headers=headers, content=body)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == "idempotency_request_in_progress"
    # Its worker died: after ABANDONED_AFTER the key is taken over.
    with db.session_scope(engine) as session:
        row = session.get(ApiIdempotencyKey, claim.claim_id)
        row.created_at = utcnow() - api_idempotency.ABANDONED_AFTER - timedelta(seconds=1)
    assert client.post(routes.API_V1_SUBSCRIBERS, headers=headers, content=body).status_code == 200


def test_keys_expire_after_24_hours(client, engine, tenant):
    first = _register(client, tenant).json()
    with db.session_scope(engine) as session:
        row = session.exec(select(ApiIdempotencyKey)).one()
        row.created_at = utcnow() - api_idempotency.KEY_LIFETIME - timedelta(seconds=1)
    # The old answer is gone: the request runs again. The email's registration still awaits its card,
    # so it is resumed (as in the console), not duplicated.
    again = _register(client, tenant)
    assert again.status_code == 200 and "idempotent-replayed" not in again.headers
    assert again.json()["id"] == first["id"]
    assert len(rows(engine, Subscriber, Subscriber.email == "bo@example.com")) == 1
    assert len(rows(engine, ApiIdempotencyKey)) == 1


def test_no_key_acts_every_time(client, engine, tenant):
    assert _register(client, tenant, key=None).status_code == 200
    assert _register(client, tenant, key=None, email="second@example.com").status_code == 200
    assert rows(engine, ApiIdempotencyKey) == []


def test_concurrent_duplicates_act_once(any_engine, gateway, monkeypatch):
    """Two requests with one key at the same moment (PostgreSQL: both insert the key; one waits on
    the unique index, then finds it in flight): one registration, the other 409 or a replay."""
    tenant = make_tenant(any_engine, gateway, slug="fit", prefix="FIT")
    client = api_client(any_engine, monkeypatch)
    real = api_facade.register_subscriber

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(api_facade, "register_subscriber", slow)
    answers: list = []
    barrier = threading.Barrier(3)

    def send():
        barrier.wait()
        answers.append(_register(client, tenant, key="same"))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) >= 1 and set(statuses) <= {200, 409}
    assert sum(1 for a in answers if a.status_code == 200 and "idempotent-replayed" not in a.headers) == 1
    assert len(rows(any_engine, Subscriber, Subscriber.email == "bo@example.com")) == 1
    assert len(rows(any_engine, AuditEvent, AuditEvent.kind == "subscriber_registered")) == 1


def test_a_claim_racing_an_uncommitted_one_finds_it_in_flight(any_engine, gateway):
    """The second insert of a key waits for the first transaction (PostgreSQL: on the unique index;
    SQLite: on the write lock), then reads the committed claim."""
    tenant = make_tenant(any_engine, gateway, slug="fit", prefix="FIT")
    merchant_id, now = tenant.world.merchant_id, utcnow()
    first = db.new_session(any_engine)
    first.begin()
    assert api_idempotency.claim_key(first, merchant_id=merchant_id, key="k", fingerprint="f", now=now).outcome == "new"
    outcome: list = []

    def second():
        with db.session_scope(any_engine) as session:
            outcome.append(
                api_idempotency.claim_key(session, merchant_id=merchant_id, key="k", fingerprint="f", now=now)
            )

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.5)
    assert outcome == []  # waiting for the first transaction
    first.commit()
    first.close()
    thread.join(10)
    assert [c.outcome for c in outcome] == [api_idempotency.ClaimOutcome.IN_FLIGHT]
