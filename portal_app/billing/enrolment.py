"""Enrolling a subscriber on a plan: the steps the console's registration and the hosted signup page
share (one implementation): is this email already on the plan, a new subscriber, the first portal
link with its invitation email."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.audit import audit
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.portal_links import issue_portal_link
from portal_app.models import Merchant, Subscriber, Subscription
from portal_app.routes import portal_url


def live_subscription_on_plan(session: Session, *, merchant_id: int, email: str, plan_id: int) -> Subscription | None:
    """The email's live (not ended, not deleted) subscription on this plan of the merchant, or None."""
    subscriptions = session.exec(
        select(Subscription)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscriber.merchant_id == merchant_id,
            Subscriber.email == email,
            Subscription.plan_id == plan_id,
            Subscription.deleted_at.is_(None),
        )
        .order_by(Subscription.id)
    ).all()
    return next((sub for sub in subscriptions if not subscription_service.is_ended(sub)), None)


def add_subscriber(
    session: Session,
    *,
    merchant_id: int,
    name: str,
    email: str,
    language: str,
    actor: str,
    now: datetime,
    detail: dict,
    gateway_customer_id: str = "",
) -> Subscriber:
    """A new subscriber row with its "registered" timeline entry."""
    subscriber = Subscriber(
        merchant_id=merchant_id,
        name=name,
        email=email,
        language=language,
        created_at=now,
        gateway_customer_id=gateway_customer_id,
    )
    session.add(subscriber)
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        actor=actor,
        kind="subscriber_registered",
        detail=detail,
        now=now,
    )
    return subscriber


def issue_first_link(
    session: Session,
    *,
    merchant_id: int,
    subscriber_id: int,
    plan_name: str,
    actor: str,
    now: datetime,
    invite: bool,
    add_card: bool = False,
) -> bool:
    """The subscriber's first portal link, emailed in an invitation (their language) when `invite`,
    asking for a card when `add_card` (registered without one); returns whether it was."""
    subscriber = session.get(Subscriber, subscriber_id)
    token = issue_portal_link(session, subscriber, now=now)
    if not invite:
        return False
    send_subscriber_email(
        session,
        merchant=session.get(Merchant, merchant_id),
        subscriber=subscriber,
        kind="invitation",
        now=now,
        context={"plan_name": plan_name, "portal_url": portal_url(token), "add_card": add_card},
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        actor=actor,
        kind="invitation_sent",
        detail={},
        now=now,
    )
    return True
