"""Read models of subscriptions for the portal and the console, computed from the domain predicates
so that no page compares status strings."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import i18n
from portal_app.billing.money import Money
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus, is_ended
from portal_app.billing.subscriptions import (
    access_ends_at,
    asks_for_payment,
    can_self_cancel,
    can_undo_cancellation,
    display_status,
    next_amount,
    next_renewal_at,
    on_grace_period,
)
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.models import Invoice, Plan, Subscriber, Subscription

I, S = InvoiceStatus, SubscriptionStatus

# The console's words for each status (English: the console is the merchant's, English-only).
STATUS_WORDS = {
    S.ACTIVE: "Active",
    S.TRIALING: "Trial",
    S.PAUSED: "Paused",
    S.PAST_DUE: "Past due",
    S.CANCELED: "Canceled",
    S.UNPAID: "Unpaid",
    S.INCOMPLETE: "Incomplete",
}


def status_key(sub: Subscription) -> str:
    """The badge a subscription wears: "deleted", "canceling" (a period-end cancellation still to
    come, whatever the clock says) or its status."""
    if sub.deleted_at is not None:
        return "deleted"
    if sub.cancel_at_period_end and sub.status != S.CANCELED:
        return "canceling"
    return sub.status


def status_label(sub: Subscription) -> str:
    """The one way the console words a subscription's status, on every list, page and summary:
    "Active · cancels Dec 21, 2026", "Past due", "Canceled · ended Nov 3, 2026", "Deleted · Nov 3, 2026",
    "Trial · ends Feb 14, 2027", "Paused · resumes Mar 15, 2027", "Active · pauses Feb 28, 2027".
    A subscription set to cancel at its period end never reads as plain "Active"."""
    day = i18n.fmt_short_date
    if sub.deleted_at is not None:
        return f"Deleted · {day(sub.deleted_at, 'en')}"
    word = STATUS_WORDS.get(sub.status, sub.status.replace("_", " ").capitalize())
    if sub.status == S.CANCELED:
        return f"{word} · ended {day(sub.ended_at, 'en')}" if sub.ended_at else word
    if sub.cancel_at_period_end:
        return f"{word} · cancels {day(sub.current_period_end, 'en')}"
    if sub.status == S.TRIALING and sub.trial_end is not None:
        return f"{word} · ends {day(sub.trial_end, 'en')}"
    if sub.status == S.PAUSED and sub.resume_at is not None:
        return f"{word} · resumes {day(sub.resume_at, 'en')}"
    if sub.status == S.ACTIVE and sub.pause_starts_at is not None:
        return f"{word} · pauses {day(sub.pause_starts_at, 'en')}"
    return word


@dataclasses.dataclass(frozen=True)
class SubscriptionOverview:
    """Everything the portal and console show about one subscription, computed once."""

    subscription_id: int
    subscriber_id: int
    status: str
    plan_id: int
    plan_name: str
    price: Money
    interval: str
    interval_count: int
    cancellation_policy: str
    current_period_start: datetime
    current_period_end: datetime
    next_renewal_at: datetime | None
    next_amount: Money | None
    can_self_cancel: bool
    on_grace_period: bool
    access_ends_at: datetime | None
    cancellation_reason: str
    has_open_invoice: bool
    amount_due: Money | None  # sum of open invoices
    is_deleted: bool
    display_status: str  # status, or "canceling" during the grace period (display_status())
    asks_for_payment: bool  # past due / unpaid with an amount open (asks_for_payment())
    is_ended: bool  # canceled or deleted (statuses.is_ended())
    can_undo_cancellation: bool  # a period-end cancellation that can still be taken back
    status_key: str  # the badge: status_key()
    status_label: str  # the words: status_label()


def subscription_overview(
    session: Session, subscription_id: int, *, merchant_id: int, now: datetime
) -> SubscriptionOverview:
    sub = get_scoped(session, Subscription, row_id(subscription_id), merchant_id)
    return _overview(session, sub, now)


def _overview(session: Session, sub: Subscription, now: datetime) -> SubscriptionOverview:
    plan = session.get(Plan, sub.plan_id)
    due = session.execute(
        sa.select(Invoice.currency, sa.func.sum(Invoice.total_minor))
        .where(Invoice.subscription_id == sub.id, Invoice.status == I.OPEN)
        .group_by(Invoice.currency)
    ).first()
    amount_due = Money(int(due[1]), due[0]) if due is not None else None
    return SubscriptionOverview(
        subscription_id=sub.id,
        subscriber_id=sub.subscriber_id,
        status=sub.status,
        plan_id=plan.id,
        plan_name=plan.name,
        price=Money(plan.amount_minor, plan.currency),
        interval=plan.interval,
        interval_count=plan.interval_count,
        cancellation_policy=plan.cancellation_policy,
        current_period_start=sub.current_period_start,
        current_period_end=sub.current_period_end,
        next_renewal_at=next_renewal_at(sub),
        next_amount=next_amount(sub, plan),
        can_self_cancel=can_self_cancel(sub, plan),
        on_grace_period=on_grace_period(sub, now),
        access_ends_at=access_ends_at(sub),
        cancellation_reason=sub.cancellation_reason,
        has_open_invoice=due is not None,
        amount_due=amount_due,
        is_deleted=sub.deleted_at is not None,
        display_status=display_status(sub, now),
        asks_for_payment=asks_for_payment(sub, amount_due),
        is_ended=is_ended(sub),
        can_undo_cancellation=can_undo_cancellation(sub, now),
        status_key=status_key(sub),
        status_label=status_label(sub),
    )


def subscriber_subscriptions(
    session: Session, *, merchant_id: int, subscriber_id: int, now: datetime, include_deleted: bool = False
) -> list[SubscriptionOverview]:
    """The subscriber's subscriptions, newest first."""
    get_scoped(session, Subscriber, subscriber_id, merchant_id)
    stmt = select(Subscription).where(
        Subscription.merchant_id == merchant_id, Subscription.subscriber_id == subscriber_id
    )
    if not include_deleted:
        stmt = stmt.where(Subscription.deleted_at.is_(None))
    return [_overview(session, sub, now) for sub in session.exec(stmt.order_by(Subscription.id.desc()))]


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
