"""Stripe webhooks: verify the signature, deduplicate by event id, re-fetch, tell the engine.

A webhook only says "look at object X": we never act on the payload body. Every handled event
re-fetches its object through the API (a forged or stale body cannot pay an invoice, and events
that arrive out of order all report the object's current state).

The API route does (see process_webhook, which does exactly this):

    event = verify_and_parse(body, request.headers.get("Stripe-Signature"), secret)  # 400 on WebhookRejected
    claim the event id in its own short transaction (record_event_once); a duplicate -> 200, done
    handle_event(event, gateway=..., callbacks=...)  # Stripe GET, then one engine callback
    on any failure: forget_event() and answer 500, so Stripe's retry handles it again

The claim commits before the Stripe call so no database lock (SQLite's is database-wide) is held
over the network. A crash between claim and callback loses that delivery; the engine's settlement
by lookup_charge() covers charges, and card events are refreshed on the next card update.
"""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
import stripe
from sqlmodel import Session

from portal_app.billing.gateways.base import CardDetails, ChargeOutcome, ChargeResult, SetupOutcome
from portal_app.billing.gateways.stripe.errors import StripeRequestRejected
from portal_app.billing.gateways.stripe.gateway import StripeGateway
from portal_app.billing.gateways.stripe.objects import stripe_field as _field
from portal_app.db import session_scope
from portal_app.models import WebhookEvent, utcnow

log = logging.getLogger(__name__)

DEFAULT_TOLERANCE_SECONDS = 300  # Stripe's default: older signatures are replays

_EVENT_ID = re.compile(r"^evt_[A-Za-z0-9]{1,250}$")
_OBJECT_IDS = {
    "payment_intent": re.compile(r"^pi_[A-Za-z0-9]{1,100}$"),
    "setup_intent": re.compile(r"^seti_[A-Za-z0-9]{1,100}$"),
    "payment_method": re.compile(r"^pm_[A-Za-z0-9]{1,100}$"),
}


class WebhookRejected(Exception):
    """The request is not an authentic, fresh Stripe event: answer 400 and do nothing."""


class WebhookResult(StrEnum):
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    CARD_SAVED = "card_saved"
    CARD_UPDATED = "card_updated"
    IGNORED = "ignored"  # not ours, not final yet, another mode, or a type we do not handle
    DUPLICATE = "duplicate"  # already claimed by an earlier (or concurrent) delivery


class BillingCallbacks(Protocol):
    """What the billing engine does with facts re-fetched from Stripe.

    Every method must be idempotent and forward-only: Stripe delivers at least once and in any
    order, and the engine may already know the outcome from its own charge() or lookup_charge()
    call. So a callback moves a row only forward (pending/unknown/requires_action -> succeeded, never
    succeeded -> failed; a failure for an attempt already settled is ignored) and claims rows with
    conditional UPDATEs like the charge path. Callbacks open their own transactions.
    """

    def payment_succeeded(self, *, idempotency_key: str, gateway_ref: str, result: ChargeResult) -> None:
        """The PaymentIntent created under idempotency_key (our attempt's key) has succeeded; result carries
        what it charged (amount, currency, customer), which must match the attempt to pay its invoice."""
        ...

    def payment_failed(self, *, idempotency_key: str, result: ChargeResult) -> None:
        """It failed: result is DECLINED (decline_code, message, hard) or REQUIRES_ACTION, exactly as
        lookup_charge() would report it, so the engine can reuse its settlement path."""
        ...

    def card_setup_succeeded(self, *, customer_ref: str, setup_ref: str, card: CardDetails) -> None:
        """A SetupIntent finished (the browser may have closed before our server heard of it)."""
        ...

    def card_updated(self, *, card: CardDetails) -> None:
        """The card network refreshed a saved card (new expiry or number): update brand/last4/expiry."""
        ...


# --------------------------------------------------------------------------- verification


def verify_and_parse(
    payload: bytes | str,
    sig_header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> stripe.Event:
    """Check the Stripe-Signature header (t=..., v1=HMAC-SHA256 of "t.body") and return the event.

    payload must be the raw request body: re-serialised JSON would not match the signature.
    Raises WebhookRejected for a missing/malformed header, a wrong signature, a signature older
    than `tolerance` seconds, or a body that is not a Stripe event; ValueError when the secret is
    not configured (a deployment bug, not the sender's fault).
    """
    if not secret or not secret.strip():
        raise ValueError("The Stripe webhook secret is not configured")
    if tolerance <= 0:
        raise ValueError("tolerance must be > 0 (0 would accept replayed events forever)")
    if not sig_header:
        raise WebhookRejected("missing Stripe-Signature header")
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    try:
        event = stripe.Webhook.construct_event(payload, sig_header, secret, tolerance)
    except stripe.SignatureVerificationError as err:
        raise WebhookRejected(f"bad signature: {err.user_message}") from err
    except (ValueError, TypeError, AttributeError) as err:  # not UTF-8, not JSON, not an event object
        raise WebhookRejected("the body is not a Stripe event") from err
    if not _EVENT_ID.fullmatch(str(_field(event, "id", ""))) or not _field(event, "type"):
        raise WebhookRejected("the body is not a Stripe event")
    return event


# --------------------------------------------------------------------------- deduplication


def record_event_once(session: Session, event_id: str, event_type: str) -> bool:
    """Claim an event id: True for the first delivery, False (and no change) for any duplicate.

    INSERT ... ON CONFLICT DO NOTHING on the primary key, so concurrent deliveries cannot both
    win: PostgreSQL makes the second insert wait for the first transaction and then skip; SQLite
    serialises writers (BEGIN IMMEDIATE). The caller commits.
    """
    if not event_id or len(event_id) > 255:
        raise ValueError("event_id must be 1-255 characters")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        raise NotImplementedError(f"record_event_once supports PostgreSQL and SQLite, not {dialect}")
    table = WebhookEvent.__table__
    stmt = (
        insert(table)
        .values(id=event_id, type=(event_type or "")[:80], received_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
        # RETURNING, not rowcount: psycopg 3.3 under SQLAlchemy 2.1 reports rowcount -1 here.
        .returning(table.c.id)
    )
    return session.execute(stmt).first() is not None


def forget_event(session: Session, event_id: str) -> None:
    """Release a claim whose handling failed, so Stripe's next delivery is processed again."""
    session.execute(sa.delete(WebhookEvent.__table__).where(WebhookEvent.__table__.c.id == event_id))


# --------------------------------------------------------------------------- dispatch


def handle_event(event: Any, *, gateway: StripeGateway, callbacks: BillingCallbacks) -> WebhookResult:
    """Re-fetch the event's object from Stripe and call the matching engine callback.

    Payment events dispatch on the PaymentIntent's state now, not on the event type: a late
    payment_failed for an intent that has since succeeded reports the success.
    Raises StripeUnavailable when Stripe cannot be asked (the delivery must be retried).
    """
    event_type = str(_field(event, "type", ""))
    kind = event_type.split(".", 1)[0]
    if event_type not in _HANDLERS:
        return WebhookResult.IGNORED
    if bool(_field(event, "livemode", False)) == gateway.test_mode:
        log.warning("webhook %s: livemode does not match the configured key; ignored", _field(event, "id"))
        return WebhookResult.IGNORED
    object_id = str(_field(_field(_field(event, "data"), "object"), "id", ""))
    if not _OBJECT_IDS[kind].fullmatch(object_id):
        log.warning("webhook %s: unexpected object id; ignored", _field(event, "id"))
        return WebhookResult.IGNORED
    try:
        return _HANDLERS[event_type](object_id, gateway, callbacks)
    except StripeRequestRejected as err:
        if err.code == "resource_missing":  # deleted since: nothing left to act on
            return WebhookResult.IGNORED
        raise


def _payment_intent_changed(pi_id: str, gateway: StripeGateway, callbacks: BillingCallbacks) -> WebhookResult:
    idempotency_key, result = gateway.charge_status(pi_id)
    if not idempotency_key:  # created outside the engine (Dashboard, another integration)
        return WebhookResult.IGNORED
    if result.outcome is ChargeOutcome.SUCCEEDED:
        callbacks.payment_succeeded(idempotency_key=idempotency_key, gateway_ref=pi_id, result=result)
        return WebhookResult.PAYMENT_SUCCEEDED
    if result.outcome in (ChargeOutcome.DECLINED, ChargeOutcome.REQUIRES_ACTION):
        callbacks.payment_failed(idempotency_key=idempotency_key, result=result)
        return WebhookResult.PAYMENT_FAILED
    return WebhookResult.IGNORED  # processing: a later event will tell


def _setup_intent_succeeded(seti_id: str, gateway: StripeGateway, callbacks: BillingCallbacks) -> WebhookResult:
    customer_ref, result = gateway.setup_status(seti_id)
    if result.outcome is not SetupOutcome.SUCCEEDED or result.card is None or not customer_ref:
        return WebhookResult.IGNORED
    callbacks.card_setup_succeeded(customer_ref=customer_ref, setup_ref=seti_id, card=result.card)
    return WebhookResult.CARD_SAVED


def _payment_method_updated(pm_id: str, gateway: StripeGateway, callbacks: BillingCallbacks) -> WebhookResult:
    card = gateway.card_details(pm_id)
    if card is None:
        return WebhookResult.IGNORED
    callbacks.card_updated(card=card)
    return WebhookResult.CARD_UPDATED


_HANDLERS = {
    "payment_intent.succeeded": _payment_intent_changed,
    "payment_intent.payment_failed": _payment_intent_changed,
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_method.automatically_updated": _payment_method_updated,
}


def process_webhook(
    payload: bytes,
    sig_header: str | None,
    *,
    secret: str,
    gateway: StripeGateway,
    callbacks: BillingCallbacks,
    engine: sa.Engine | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> WebhookResult:
    """The whole webhook request: verify, claim once, handle; un-claim and re-raise on failure.

    WebhookRejected -> answer 400; any other exception -> 500 (Stripe retries); a result -> 200.
    """
    event = verify_and_parse(payload, sig_header, secret, tolerance)
    event_id = str(event.id)
    with session_scope(engine) as session:
        if not record_event_once(session, event_id, str(event.type)):
            return WebhookResult.DUPLICATE
    try:
        return handle_event(event, gateway=gateway, callbacks=callbacks)
    except BaseException:
        with session_scope(engine) as session:
            forget_event(session, event_id)
        raise


__all__ = [
    "BillingCallbacks",
    "DEFAULT_TOLERANCE_SECONDS",
    "WebhookRejected",
    "WebhookResult",
    "forget_event",
    "handle_event",
    "process_webhook",
    "record_event_once",
    "verify_and_parse",
]
