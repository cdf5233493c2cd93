"""The merchant REST API's calls (api/v1): each takes the key's merchant first, owns its transaction
and returns the public objects of billing/objects.py, the same shapes webhook events carry.

Another merchant's id is NotFound, like an id that does not exist. Lists are keyset pages on the id,
newest first (`starting_after` = the last id of the previous page). Writes reuse the console's and the
portal's domain calls, with `api_key:<id>` as the actor in the subscriber's timeline.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import api_idempotency, api_keys
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.api_idempotency import Claim, ClaimOutcome
from portal_app.billing.api_keys import ApiKeyIdentity
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.facades.console import profile
from portal_app.billing.facades.console.forms import ConsoleError, has_control_characters, parse_id
from portal_app.billing.facades.console.registration import register_subscriber_without_card
from portal_app.billing.objects import (
    ApiObject,
    InvoiceObject,
    PlanObject,
    SubscriberObject,
    SubscriptionObject,
    invoice_object,
    invoice_objects,
)
from portal_app.billing.portal_links import (
    current_portal_token,
    is_subscriber_deleted,
    issue_portal_link,
)
from portal_app.billing.portal_links import (
    regenerate_portal_link as regenerate_link,
)
from portal_app.billing.subscriber_search import escape_like
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Invoice, Merchant, Plan, Subscriber, Subscription, utcnow
from portal_app.routes import portal_url

MAX_PAGE_SIZE = 100


def api_actor(key_id: int) -> str:
    """Who did it, in audit rows: the API key (its id; the console lists keys by id and name)."""
    return f"api_key:{int(key_id)}"


@dataclasses.dataclass(frozen=True)
class ObjectPage:
    """One page of a list: the objects (newest first) and whether older ones follow."""

    data: list[ApiObject]
    has_more: bool
    last_cursor: int | None = None  # objects whose id is not their cursor (events: evt_...) set it

    @property
    def next_cursor(self) -> int | None:
        """The `starting_after` of the next page (the last object's id or cursor), when there is one."""
        if not (self.has_more and self.data):
            return None
        return self.last_cursor if self.last_cursor is not None else self.data[-1].id


def _keyset(session: Session, stmt, model, *, limit: int, starting_after: int | None) -> tuple[list, bool]:
    """Rows of `stmt` (already scoped to the merchant) by id descending, after the cursor."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    if starting_after is not None:
        stmt = stmt.where(model.id < int(starting_after))
    found = session.exec(stmt.order_by(model.id.desc()).limit(limit + 1)).all()
    return list(found[:limit]), len(found) > limit


def _slug(session: Session, merchant_id: int) -> str:
    merchant = session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("Merchant not found")
    return merchant.slug


# --- plans --------------------------------------------------------------------------------------


def list_plans(merchant_id: int, *, limit: int = 10, starting_after: int | None = None) -> ObjectPage:
    with db.session_scope() as session:
        slug = _slug(session, merchant_id)
        rows, more = _keyset(
            session,
            select(Plan).where(Plan.merchant_id == merchant_id),
            Plan,
            limit=limit,
            starting_after=starting_after,
        )
        return ObjectPage([PlanObject.of(plan, slug) for plan in rows], more)


def get_plan(merchant_id: int, plan_id: Any) -> PlanObject:
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, parse_id(plan_id, "plan"), merchant_id)
        return PlanObject.of(plan, _slug(session, merchant_id))


# --- subscribers --------------------------------------------------------------------------------


def list_subscribers(
    merchant_id: int, *, query: str = "", limit: int = 10, starting_after: int | None = None
) -> ObjectPage:
    """The merchant's subscribers, newest first; `query` matches a part of the name or email."""
    if has_control_characters(query or ""):
        raise ConsoleError("Search for letters, digits and punctuation only.", field="email_or_name")
    stmt = select(Subscriber).where(Subscriber.merchant_id == merchant_id)
    if query := (query or "").strip():
        pattern = f"%{escape_like(query.lower())}%"
        stmt = stmt.where(
            sa.or_(
                sa.func.lower(Subscriber.name).like(pattern, escape="\\"),
                sa.func.lower(Subscriber.email).like(pattern, escape="\\"),
            )
        )
    with db.session_scope() as session:
        rows, more = _keyset(session, stmt, Subscriber, limit=limit, starting_after=starting_after)
        return ObjectPage([SubscriberObject.of(row) for row in rows], more)


def get_subscriber(merchant_id: int, subscriber_id: Any) -> SubscriberObject:
    with db.session_scope() as session:
        return SubscriberObject.of(get_scoped(session, Subscriber, parse_id(subscriber_id, "subscriber"), merchant_id))


def register_subscriber(
    merchant_id: int,
    *,
    key_id: int,
    plan_id: Any,
    name: str,
    email: str,
    language: str = "",
    send_invitation: bool = False,
    now: datetime | None = None,
) -> SubscriberObject:
    """Register a subscriber on a plan without a card (the console's Stripe-mode registration): the
    subscription starts incomplete with its first invoice open, and the subscriber adds a card in the
    portal. Returns the subscriber with their portal URL (a credential: shown in this answer only)."""
    form = {"name": name, "email": email, "language": language, "send_invitation": "on" if send_invitation else ""}
    result = register_subscriber_without_card(
        merchant_id=merchant_id, actor=api_actor(key_id), plan_id=plan_id, form=form, now=now
    )
    with db.session_scope() as session:
        subscriber = get_scoped(session, Subscriber, result.subscriber_id, merchant_id)
        token = current_portal_token(session, subscriber) or issue_portal_link(session, subscriber, now=now)
        return SubscriberObject.of(subscriber, portal_url=portal_url(token))


def _live_subscriber(session: Session, merchant_id: int, subscriber_id: Any) -> Subscriber:
    subscriber = get_scoped(session, Subscriber, parse_id(subscriber_id, "subscriber"), merchant_id)
    if is_subscriber_deleted(session, merchant_id, subscriber.id):
        raise NotAllowed("This subscriber's subscription was deleted: their portal is closed.")
    return subscriber


def regenerate_portal_link(
    merchant_id: int, subscriber_id: Any, *, key_id: int, now: datetime | None = None
) -> SubscriberObject:
    """Revoke the subscriber's portal link (and the sessions it opened) and issue a new one."""
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        token = regenerate_link(session, subscriber, actor=api_actor(key_id), now=now)
        return SubscriberObject.of(subscriber, portal_url=portal_url(token))


def _current_portal_url(session: Session, merchant_id: int, subscriber_id: int) -> str | None:
    """The subscriber's live portal URL (re-derived, never stored), None once the portal is closed."""
    subscriber = session.exec(
        select(Subscriber).where(Subscriber.id == subscriber_id, Subscriber.merchant_id == merchant_id)
    ).first()
    if subscriber is None or is_subscriber_deleted(session, merchant_id, subscriber_id):
        return None
    token = current_portal_token(session, subscriber)
    return portal_url(token) if token else None


# --- subscriptions ------------------------------------------------------------------------------


def _live_subscriptions(merchant_id: int):
    """The merchant's subscriptions the API shows: deleted ones are gone (as in the console)."""
    return select(Subscription).where(Subscription.merchant_id == merchant_id, Subscription.deleted_at.is_(None))


def list_subscriptions(
    merchant_id: int,
    *,
    status: str | None = None,
    plan_id: int | None = None,
    subscriber_id: int | None = None,
    limit: int = 10,
    starting_after: int | None = None,
) -> ObjectPage:
    stmt = _live_subscriptions(merchant_id)
    if status:
        stmt = stmt.where(Subscription.status == status)
    if plan_id is not None:
        stmt = stmt.where(Subscription.plan_id == int(plan_id))
    if subscriber_id is not None:
        stmt = stmt.where(Subscription.subscriber_id == int(subscriber_id))
    with db.session_scope() as session:
        rows, more = _keyset(session, stmt, Subscription, limit=limit, starting_after=starting_after)
        return ObjectPage([SubscriptionObject.of(row) for row in rows], more)


def _live_subscription(session: Session, merchant_id: int, subscription_id: Any) -> Subscription:
    sub = get_scoped(session, Subscription, parse_id(subscription_id, "subscription"), merchant_id)
    if sub.deleted_at is not None:
        raise NotFound("Subscription not found")
    return sub


def get_subscription(merchant_id: int, subscription_id: Any) -> SubscriptionObject:
    with db.session_scope() as session:
        return SubscriptionObject.of(_live_subscription(session, merchant_id, subscription_id))


def cancel_subscription(
    merchant_id: int, subscription_id: Any, *, key_id: int, at_period_end: bool, now: datetime | None = None
) -> SubscriptionObject:
    """Cancel as the merchant decides (the plan's self-service policy binds subscribers, not the
    merchant): at the period end (undo possible until then) or now. Unpaid and incomplete
    subscriptions have no paid period left and end at once."""
    now = now or utcnow()
    with db.session_scope() as session:
        sub = _live_subscription(session, merchant_id, subscription_id)
        result = subscription_service.cancel_subscription(
            session,
            sub.id,
            merchant_id=merchant_id,
            actor=api_actor(key_id),
            now=now,
            mode="at_period_end" if at_period_end else "immediately",
        )
        return SubscriptionObject.of(result.subscription)


def undo_cancellation(
    merchant_id: int, subscription_id: Any, *, key_id: int, now: datetime | None = None
) -> SubscriptionObject:
    """Take back a cancellation scheduled for the period end (until the period ends)."""
    now = now or utcnow()
    with db.session_scope() as session:
        sub = _live_subscription(session, merchant_id, subscription_id)
        sub = subscription_service.undo_cancellation(
            session, sub.id, merchant_id=merchant_id, actor=api_actor(key_id), now=now
        )
        return SubscriptionObject.of(sub)


# --- invoices -----------------------------------------------------------------------------------


def list_invoices(
    merchant_id: int,
    *,
    status: str | None = None,
    subscriber_id: int | None = None,
    subscription_id: int | None = None,
    limit: int = 10,
    starting_after: int | None = None,
) -> ObjectPage:
    stmt = select(Invoice).where(Invoice.merchant_id == merchant_id)
    if status:
        stmt = stmt.where(Invoice.status == status)
    if subscriber_id is not None:
        stmt = stmt.where(Invoice.subscriber_id == int(subscriber_id))
    if subscription_id is not None:
        stmt = stmt.where(Invoice.subscription_id == int(subscription_id))
    with db.session_scope() as session:
        rows, more = _keyset(session, stmt, Invoice, limit=limit, starting_after=starting_after)
        return ObjectPage(list(invoice_objects(session, rows)), more)


def get_invoice(merchant_id: int, invoice_id: Any) -> InvoiceObject:
    with db.session_scope() as session:
        return invoice_object(session, get_scoped(session, Invoice, parse_id(invoice_id, "invoice"), merchant_id))


def invoice_pdf(merchant_id: int, invoice_id: Any) -> tuple[str, bytes]:
    """(filename, PDF) of a finalized invoice (rendered once, then stored); NotFound for a draft."""
    return profile.invoice_pdf(merchant_id=merchant_id, invoice_id=invoice_id)


# --- idempotency keys ---------------------------------------------------------------------------


def claim_idempotency_key(merchant_id: int, key: str, fingerprint: str, *, now: datetime | None = None) -> Claim:
    """Claim an Idempotency-Key for a POST (committed before the request runs). A replayed answer
    that held a portal URL gets the subscriber's current one, re-derived (never stored)."""
    now = now or utcnow()
    with db.session_scope() as session:
        claim = api_idempotency.claim_key(session, merchant_id=merchant_id, key=key, fingerprint=fingerprint, now=now)
        if claim.outcome is ClaimOutcome.REPLAY and claim.portal_subscriber_id is not None:
            url = _current_portal_url(session, merchant_id, claim.portal_subscriber_id)
            claim = dataclasses.replace(claim, body={**(claim.body or {}), "portal_url": url})
        return claim


def finish_idempotent_request(
    merchant_id: int, claim_id: int, *, status: int, body: dict[str, Any], portal_subscriber_id: int | None = None
) -> None:
    with db.session_scope() as session:
        api_idempotency.finish_claim(
            session,
            claim_id,
            merchant_id=merchant_id,
            status=status,
            body=body,
            portal_subscriber_id=portal_subscriber_id,
        )


def drop_idempotency_claim(merchant_id: int, claim_id: int) -> None:
    with db.session_scope() as session:
        api_idempotency.drop_claim(session, claim_id, merchant_id=merchant_id)


# --- keys ---------------------------------------------------------------------------------------


def authenticate_key(secret: str) -> ApiKeyIdentity | None:
    """The merchant a live API key speaks for (its last use noted), or None."""
    with db.session_scope() as session:
        return api_keys.authenticate(session, secret)
