"""Delivery of webhook events: claims, signing, retries with backoff, recovery, resend.

Runs in the background loop (background.py, every few seconds) and in every billing run (the CLI),
never in a subscriber's request. The pattern is the email delivery's (billing/emails/delivery.py):

1. Deliveries held in "sending" past SENDING_TIMEOUT (the worker died mid-POST) go back to pending,
   due now (or failed when that attempt was the last); the interrupted attempt counts.
2. Each due delivery (pending, next_attempt_at past, endpoint enabled) is claimed by a conditional
   UPDATE (pending -> sending, attempts + 1): of two workers only one claims it.
3. One POST outside any transaction, signed per Standard Webhooks (webhook-id = the event's id on
   every attempt and resend, webhook-timestamp = now, webhook-signature = v1,HMAC), 10 s timeout, no
   redirects. 2xx: delivered. Anything else: pending again after RETRY_DELAYS[attempts - 1], or
   failed after MAX_ATTEMPTS - then the endpoint may be disabled (disabling.py).
4. The outcome is written only while the delivery is still this worker's claim (same attempt
   number), with one WebhookAttempt row for the console's delivery log.

At least once: a worker that dies after the receiver answered 2xx but before it recorded it leaves
the claim to recovery, which sends the same event (same webhook-id) again; receivers dedupe on it.
An endpoint that fails in a pass is not tried again in that pass (a dead host costs one timeout).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select
from standardwebhooks import Webhook

from portal_app.billing.audit import audit
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.webhooks_out.disabling import disable_if_dead
from portal_app.billing.webhooks_out.endpoints import enable_endpoint, get_endpoint
from portal_app.billing.webhooks_out.urls import resolves_to_internal
from portal_app.db import new_session
from portal_app.models import OutgoingEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from portal_app.settings import get_settings

log = logging.getLogger(__name__)

# Standard Webhooks' recommended schedule: at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
# after each failure: 8 tries over about 28 hours.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 10.0
SENDING_TIMEOUT = timedelta(minutes=2)  # one attempt takes at most TIMEOUT_SECONDS
INTERRUPTED = "interrupted: the delivery worker stopped during the attempt"
USER_AGENT = "subscriber-portal-webhooks/1"

PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
# The only moves (each a compare-and-set UPDATE naming the current status).
ALLOWED_MOVES = {
    PENDING: {SENDING, FAILED},  # claimed; or its endpoint was deleted
    SENDING: {DELIVERED, PENDING, FAILED},  # the attempt's outcome, or recovery
    DELIVERED: {PENDING},  # a merchant's resend
    FAILED: {PENDING},  # a merchant's resend
}

_table = WebhookDelivery.__table__


def retry_delay(attempts: int) -> timedelta | None:
    """How long to wait after `attempts` failed attempts; None when no attempt is left."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return RETRY_DELAYS[max(attempts, 1) - 1]


def move(session: Session, current: str, new: str, *, where=(), **values) -> int:
    """Compare-and-set: deliveries in `current` matching `where` to `new`; returns how many moved."""
    if new not in ALLOWED_MOVES.get(current, ()):
        raise ValueError(f"webhook delivery: {current} -> {new} is not allowed")
    return session.execute(
        sa.update(_table).where(_table.c.status == current, *where).values(status=new, **values)
    ).rowcount


@dataclasses.dataclass
class DeliveryPass:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: int = 0
    recovered: int = 0


@dataclasses.dataclass(frozen=True)
class _Claim:
    delivery_id: int
    attempt: int
    endpoint_id: int
    url: str
    secret: str
    event_id: str
    payload: str


@dataclasses.dataclass(frozen=True)
class _Answer:
    status_code: int | None
    latency_ms: int
    error: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _due(now: datetime):
    return sa.or_(_table.c.next_attempt_at.is_(None), _table.c.next_attempt_at <= now)


def _stuck(now: datetime):
    return sa.or_(_table.c.claimed_at.is_(None), _table.c.claimed_at < now - SENDING_TIMEOUT)


def recover_stuck(engine, *, now: datetime) -> int:
    with new_session(engine) as session, session.begin():
        done = {"claimed_at": None, "last_error": INTERRUPTED}
        failed = move(session, SENDING, FAILED, where=[_stuck(now), _table.c.attempts >= MAX_ATTEMPTS], **done)
        requeued = move(session, SENDING, PENDING, where=[_stuck(now)], next_attempt_at=now, **done)
    if failed + requeued:
        log.warning("recovered %d webhook deliveries stuck in sending", failed + requeued)
    return failed + requeued


def _claim(engine, delivery_id: int, now: datetime) -> _Claim | None:
    with new_session(engine) as session, session.begin():
        if not move(
            session,
            PENDING,
            SENDING,
            where=[_table.c.id == delivery_id, _due(now)],
            claimed_at=now,
            attempts=_table.c.attempts + 1,
        ):
            return None
        delivery = session.get(WebhookDelivery, delivery_id)
        endpoint = session.get(WebhookEndpoint, delivery.endpoint_id)
        event = session.get(OutgoingEvent, delivery.event_id)
        return _Claim(
            delivery.id, delivery.attempts, endpoint.id, endpoint.url, endpoint.secret, event.public_id, event.payload
        )


def signed_headers(secret: str, event_id: str, payload: str, *, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt (signed at `at`, the wall clock by default)."""
    at = at or utcnow()
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(event_id, at, payload),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _post(claim: _Claim, client: httpx.Client, *, production: bool) -> _Answer:
    started = time.perf_counter()
    try:
        if production and resolves_to_internal(claim.url):
            return _Answer(None, 0, "refused: the endpoint's host resolves to a non-public address")
        response = client.post(
            claim.url,
            content=claim.payload.encode(),
            headers=signed_headers(claim.secret, claim.event_id, claim.payload),
        )
        latency = int((time.perf_counter() - started) * 1000)
        error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return _Answer(response.status_code, latency, error)
    except httpx.TimeoutException:
        return _Answer(None, int((time.perf_counter() - started) * 1000), f"timed out after {TIMEOUT_SECONDS:g} s")
    except httpx.HTTPError as exc:
        return _Answer(None, int((time.perf_counter() - started) * 1000), f"{type(exc).__name__}: {exc}"[:300])


def _record(session: Session, claim: _Claim, answer: _Answer, now: datetime) -> str:
    """The attempt's outcome while the delivery is still this claim; returns the status written ("" if
    recovery took it meanwhile)."""
    mine = [_table.c.id == claim.delivery_id, _table.c.attempts == claim.attempt]
    facts = {
        "claimed_at": None,
        "last_status_code": answer.status_code,
        "last_latency_ms": answer.latency_ms,
        "last_error": answer.error[:300],
    }
    if answer.ok:
        outcome = (
            DELIVERED
            if move(session, SENDING, DELIVERED, where=mine, next_attempt_at=None, delivered_at=now, **facts)
            else ""
        )
    else:
        delay = retry_delay(claim.attempt)
        if delay is None:
            outcome = FAILED if move(session, SENDING, FAILED, where=mine, next_attempt_at=None, **facts) else ""
        else:
            outcome = (
                PENDING if move(session, SENDING, PENDING, where=mine, next_attempt_at=now + delay, **facts) else ""
            )
    if outcome:
        session.add(
            WebhookAttempt(
                delivery_id=claim.delivery_id,
                attempt=claim.attempt,
                status_code=answer.status_code,
                latency_ms=answer.latency_ms,
                error=answer.error[:300],
                created_at=now,
            )
        )
    return outcome


def deliver_webhooks(
    engine, *, now: datetime | None = None, limit: int = 500, client: httpx.Client | None = None
) -> DeliveryPass:
    """One delivery pass (see the module's docstring); never raises for a receiver's problem.
    `now` is the clock for claims and backoff (tests pass it); signatures use the wall clock."""
    now = now or utcnow()
    summary = DeliveryPass(recovered=recover_stuck(engine, now=now))
    ep = WebhookEndpoint.__table__
    with new_session(engine) as session:
        due = list(
            session.execute(
                sa.select(_table.c.id, _table.c.endpoint_id)
                .join(ep, ep.c.id == _table.c.endpoint_id)
                .where(_table.c.status == PENDING, _due(now), ep.c.enabled.is_(True), ep.c.deleted_at.is_(None))
                .order_by(_table.c.id)
                .limit(limit)
            ).all()
        )
    if not due:
        return summary
    production = get_settings().environment == "production"
    own_client = client is None
    client = client or httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
    failing: set[int] = set()
    try:
        for delivery_id, endpoint_id in due:
            if endpoint_id in failing:
                continue
            claim = _claim(engine, delivery_id, now)
            if claim is None:
                continue  # another worker has it, or it was resent/deleted meanwhile
            answer = _post(claim, client, production=production)
            with new_session(engine) as session, session.begin():
                outcome = _record(session, claim, answer, now)
                if outcome == FAILED and disable_if_dead(session, session.get(WebhookDelivery, delivery_id), now=now):
                    summary.disabled += 1
            if answer.ok:
                summary.delivered += 1
                continue
            failing.add(endpoint_id)
            summary.failed += outcome == FAILED
            summary.retrying += outcome == PENDING
            log.warning(
                "webhook delivery %s (event %s) to endpoint %s failed, attempt %d of %d: %s",
                delivery_id,
                claim.event_id,
                endpoint_id,
                claim.attempt,
                MAX_ATTEMPTS,
                answer.error,
            )
    finally:
        if own_client:
            client.close()
    return summary


def resend_delivery(
    session: Session, *, merchant_id: int, delivery_id: object, actor: str, now: datetime | None = None
) -> None:
    """A merchant's Resend: the delivery (delivered or failed) is due again at once with a fresh set
    of attempts and the same event id (webhook-id). Resending to a disabled endpoint enables it again
    (the merchant says the receiver is back; the deliveries still waiting go out too). NotFound for
    another merchant's delivery or a deleted endpoint; NotAllowed while it is waiting or being sent."""
    now = now or utcnow()
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
        raise NotFound("No such webhook delivery.")
    delivery = session.exec(
        select(WebhookDelivery).where(WebhookDelivery.id == delivery_id, WebhookDelivery.merchant_id == merchant_id)
    ).first()
    if delivery is None:
        raise NotFound("No such webhook delivery.")
    endpoint = get_endpoint(session, merchant_id=merchant_id, endpoint_id=delivery.endpoint_id, for_update=True)
    where = [_table.c.id == delivery.id, _table.c.merchant_id == merchant_id]
    values = {"attempts": 0, "next_attempt_at": now, "claimed_at": None}
    if not (
        move(session, FAILED, PENDING, where=where, **values)
        or move(session, DELIVERED, PENDING, where=where, **values)
    ):
        raise NotAllowed("This delivery is already waiting to be sent.")
    if not endpoint.enabled:
        enable_endpoint(session, merchant_id=merchant_id, endpoint_id=endpoint.id, actor=actor, now=now)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=None,
        actor=actor,
        kind="webhook_resent",
        detail={"endpoint_id": endpoint.id, "delivery_id": delivery.id},
        now=now,
    )
    session.expire(delivery)


def pending_ids(session: Session, *, merchant_id: int) -> list[int]:
    """Deliveries of this merchant waiting for a try (tests and the console)."""
    return list(
        session.exec(
            select(WebhookDelivery.id).where(
                WebhookDelivery.merchant_id == merchant_id, WebhookDelivery.status == PENDING
            )
        )
    )
