"""Notices to subscribers: one email in their language, with their portal link when they must act."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.emails.outbox import send_email
from portal_app.billing.portal_links import (
    current_portal_token,
    current_portal_url,
    is_subscriber_deleted,
    issue_portal_link,
)
from portal_app.models import Merchant, Subscriber, utcnow
from portal_app.routes import PORTAL_FLOWS, portal_url

BACKDATED = timedelta(hours=1)
# The portal step where a card is added or replaced: failed-payment and card-expiry emails open it.
CARD_FLOW = "payment_method_update"
assert CARD_FLOW in PORTAL_FLOWS


def send_subscriber_email(
    session: Session,
    *,
    merchant,
    subscriber,
    kind: str,
    context: dict[str, Any],
    now: datetime,
    with_portal_link: bool = True,
    notice_key: str | None = None,
    flow: str = "",
):
    """Send (or queue in the outbox) one email to a subscriber in their language.

    Fills merchant_name, subscriber_name and, for emails that ask the customer to act, portal_url:
    with a flow (routes.PORTAL_FLOWS) the link opens the portal at that step, e.g. the card form for
    a failed payment or an expiring card.
    The message is dated `now` so back-dated runs (demo data) keep a consistent timeline. A notice
    the engine sends on its own passes its notice_key (emails/notice_keys.py): if that notice was
    recorded already nothing is sent and None is returned.
    """
    full = {"merchant_name": merchant.name, "subscriber_name": subscriber.name, **context}
    if with_portal_link and "portal_url" not in full:
        full["portal_url"] = portal_url_for(session, subscriber, flow=flow)
    message = send_email(
        session,
        merchant=merchant,
        to_address=subscriber.email,
        kind=kind,
        language=subscriber.language or merchant.default_language or "en",
        context=full,
        subscriber_id=subscriber.id,
        notice_key=notice_key,
    )
    # Back-dated runs (demo data, tests) date the message on their clock. A live run's clock is the
    # wall clock give or take the run's length: no UPDATE then, which keeps bulk receipts cheap.
    if message is not None and abs(message.created_at - now) > BACKDATED:
        message.created_at = now
        session.add(message)
    return message


def portal_url_for(session: Session, subscriber: Subscriber, *, flow: str = "") -> str:
    """The subscriber's live portal link (issued if there is none), opening at `flow` when given."""
    if not flow:
        return current_portal_url(session, subscriber)
    token = current_portal_token(session, subscriber) or issue_portal_link(session, subscriber)
    return portal_url(token, flow=flow)


def send_new_link(session: Session, *, email: str, now: datetime | None = None) -> int:
    """Email each subscriber with this address their current portal link (a new one if every
    link was revoked). The caller answers the same whether or not anything was sent; returns how
    many emails were queued (for tests and logs only)."""
    email = (email or "").strip().lower()
    if not email or len(email) > 254 or "@" not in email:
        return 0
    now = now or utcnow()
    sent = 0
    for subscriber in session.exec(select(Subscriber).where(sa.func.lower(Subscriber.email) == email).limit(20)):
        if is_subscriber_deleted(session, subscriber.merchant_id, subscriber.id):
            continue
        send_subscriber_email(
            session,
            merchant=session.get(Merchant, subscriber.merchant_id),
            subscriber=subscriber,
            kind="new_link",
            context={"portal_url": current_portal_url(session, subscriber)},
            now=now,
        )
        sent += 1
    return sent
