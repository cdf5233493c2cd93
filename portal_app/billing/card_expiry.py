"""Warn subscribers whose card on file expires soon (a step of the billing run).

One warning per card per expiry: the notice key `card_expiring:<card id>:<yyyy-mm>` is unique in
email_message, so two runners that both read "not warned yet" still record one email.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.emails.notice_keys import card_expiring_key
from portal_app.billing.notify import CARD_FLOW, send_subscriber_email
from portal_app.billing.payments.cards import expiry_instant
from portal_app.billing.statuses import RENEWING_STATUSES
from portal_app.db import new_session
from portal_app.models import EmailMessage, Merchant, PaymentMethod, Subscriber, Subscription

CARD_EXPIRY_NOTICE = timedelta(days=30)


def months_expiring_within(now: datetime, window: timedelta) -> list[tuple[int, int]]:
    """(year, month) expiry values whose card stops working in (now, now + window]."""
    months = []
    year, month = now.year, now.month
    for _ in range(window.days // 28 + 2):
        if now < expiry_instant(month, year) <= now + window:
            months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def send_card_expiring_emails(engine: sa.Engine, *, now: datetime, window: timedelta = CARD_EXPIRY_NOTICE) -> int:
    """Warn, `window` ahead, subscribers whose renewing subscription uses a card about to expire;
    returns how many warnings were recorded by this call. Once per card and expiry (its notice key);
    cards already warned are left out of the query, the key settles races."""
    months = months_expiring_within(now, window)
    if not months:
        return 0
    live_subscription = (
        sa.select(Subscription.id)
        .where(
            Subscription.subscriber_id == PaymentMethod.subscriber_id,
            Subscription.status.in_(sorted(RENEWING_STATUSES)),
            Subscription.deleted_at.is_(None),
            Subscription.cancel_at_period_end.is_(False),
        )
        .exists()
    )
    already_told = (
        sa.select(EmailMessage.id)
        .where(
            EmailMessage.subscriber_id == PaymentMethod.subscriber_id,
            EmailMessage.kind == "card_expiring",
            EmailMessage.created_at >= PaymentMethod.created_at,
        )
        .exists()
    )
    sent = 0
    with new_session(engine) as session, session.begin():
        cards = session.exec(
            select(PaymentMethod)
            .where(
                PaymentMethod.is_default.is_(True),
                PaymentMethod.detached_at.is_(None),
                sa.or_(*[sa.and_(PaymentMethod.exp_year == y, PaymentMethod.exp_month == m) for y, m in months]),
                live_subscription,
                ~already_told,
            )
            .order_by(PaymentMethod.id)
        ).all()
        merchants: dict[int, Merchant] = {}
        for card in cards:
            merchant = merchants.get(card.merchant_id) or session.get(Merchant, card.merchant_id)
            merchants[card.merchant_id] = merchant
            subscriber = session.get(Subscriber, card.subscriber_id)
            message = send_subscriber_email(
                session,
                merchant=merchant,
                subscriber=subscriber,
                kind="card_expiring",
                now=now,
                notice_key=card_expiring_key(card.id, card.exp_year, card.exp_month),
                flow=CARD_FLOW,  # the button opens the card form
                context={"brand": card.brand, "last4": card.last4, "exp": f"{card.exp_month:02d}/{card.exp_year}"},
            )
            sent += message is not None
    return sent
