"""Read models for the subscriber portal: everything one page shows, in one call."""

from __future__ import annotations

import dataclasses
import hashlib

from sqlmodel import Session, select

from portal_app.models import Merchant, Plan, Subscriber, Subscription


@dataclasses.dataclass(frozen=True)
class PortalSummary:
    merchant_name: str
    merchant_slug: str
    logo_version: str  # changes when the logo changes ("" = no logo)
    subscriber_name: str
    language: str
    plan_name: str
    subscription_status: str


def current_subscription(session: Session, merchant_id: int, subscriber_id: int) -> Subscription | None:
    """The subscriber's live subscription: the newest one not deleted."""
    return session.exec(
        select(Subscription)
        .where(
            Subscription.merchant_id == merchant_id,
            Subscription.subscriber_id == subscriber_id,
            Subscription.deleted_at.is_(None),
        )
        .order_by(Subscription.id.desc())
    ).first()


def portal_summary(session: Session, *, merchant_id: int, subscriber_id: int) -> PortalSummary | None:
    """What the portal header and overview show, scoped to one merchant's subscriber."""
    subscriber = session.get(Subscriber, subscriber_id)
    merchant = session.get(Merchant, merchant_id)
    if subscriber is None or merchant is None or subscriber.merchant_id != merchant_id:
        return None
    subscription = current_subscription(session, merchant_id, subscriber_id)
    plan = session.get(Plan, subscription.plan_id) if subscription else None
    return PortalSummary(
        merchant_name=merchant.name,
        merchant_slug=merchant.slug,
        logo_version=hashlib.sha256(merchant.logo_png).hexdigest()[:12] if merchant.logo_png else "",
        subscriber_name=subscriber.name,
        language=subscriber.language,
        plan_name=plan.name if plan else "",
        subscription_status=subscription.status if subscription else "",
    )
