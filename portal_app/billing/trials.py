"""Free trials: a plan with trial_days > 0 starts new subscriptions `trialing`, with no invoice.

The trial is period -1 of the subscription's anchor: anchor_at = trial_end = start + trial_days,
period_index = -1, current period [start, trial_end). TRIALING renews (statuses.RENEWING_STATUSES),
so at trial_end the billing run's ordinary renewal (renewal_terms / renewal_invoices) bills period 0
of the anchor, [trial_end, trial_end + interval), and charges it: paid -> active
(invoices.reactivate_paid_up_subscriptions), declined -> past_due and dunning as usual. The card is
still taken at signup, so the first charge needs nobody.

A cancellation during the trial ends it at trial_end (at period end; at once if the plan cancels
immediately) and costs nothing: no invoice is ever issued. Merchant.trial_reminder_days before
trial_end (0 = off) the subscriber gets one `trial_will_end` email, with the first charge's amount and
date, and the merchant's product one `subscription.trial_will_end` event: exactly once, by the
email's notice key (emails/notice_keys.py), however many runs pass.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.emails.notice_keys import trial_will_end_key
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.renewal_terms import renewal_terms
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.billing.webhooks_out.events import record_event
from portal_app.db import new_session
from portal_app.models import Merchant, Plan, Subscriber, Subscription

S = SubscriptionStatus

MAX_TRIAL_DAYS = 365
BATCH_SIZE = 500


def has_trial(plan: Plan) -> bool:
    return plan.trial_days > 0


def is_trialing(sub: Subscription) -> bool:
    return sub.status == S.TRIALING and sub.deleted_at is None


def start_trialing(
    session: Session, *, merchant_id: int, subscriber: Subscriber, plan: Plan, start_at: datetime, actor: str
) -> Subscription:
    """The subscription in its free period (see the module's rules); no invoice. Flushed."""
    trial_end = start_at + timedelta(days=plan.trial_days)
    sub = Subscription(
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        plan_id=plan.id,
        status=S.TRIALING,  # a new row enters trialing directly (incomplete -> trialing is the table's move)
        anchor_at=trial_end,
        period_index=-1,
        current_period_start=start_at,
        current_period_end=trial_end,
        trial_end=trial_end,
        created_at=start_at,
    )
    session.add(sub)
    session.flush()
    record_event(
        session, merchant_id=merchant_id, type="subscription.created", obj=SubscriptionObject.of(sub), now=start_at
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        actor=actor,
        kind="trial_started",
        detail={"subscription_id": sub.id, "plan_id": plan.id, "plan": plan.name, "trial_end": trial_end},
        now=start_at,
    )
    return sub


def first_charge(sub: Subscription, plans: dict[int, Plan]) -> Money:
    """What the conversion at trial_end will charge: the renewal's own terms (a discount or credit
    counts), so the reminder and the portal say the true amount."""
    term = renewal_terms(sub, plans)
    return Money(term.total_minor, plans[term.plan_id].currency)


def send_trial_reminders(engine: sa.Engine, *, now: datetime) -> int:
    """The run's reminder phase: one trial_will_end email and event per trial entering its merchant's
    reminder window. Returns how many were sent now."""
    sent = 0
    after_id = 0
    while True:
        with new_session(engine) as session, session.begin():
            due = list(
                session.exec(
                    select(Subscription, Merchant)
                    .join(Merchant, Merchant.id == Subscription.merchant_id)
                    .where(
                        Subscription.status == S.TRIALING.value,
                        Subscription.deleted_at.is_(None),
                        Subscription.cancel_at_period_end.is_(False),
                        Subscription.trial_end.is_not(None),
                        Subscription.trial_end > now,
                        Merchant.trial_reminder_days > 0,
                        Subscription.id > after_id,
                    )
                    .order_by(Subscription.id)
                    .limit(BATCH_SIZE)
                )
            )
            if not due:
                return sent
            after_id = due[-1][0].id
            for sub, merchant in due:
                if sub.trial_end - timedelta(days=merchant.trial_reminder_days) <= now:
                    sent += _remind(session, sub, merchant, now=now)


def _remind(session: Session, sub: Subscription, merchant: Merchant, *, now: datetime) -> int:
    plan_ids = {sub.plan_id} | ({sub.pending_plan_id} if sub.pending_plan_id else set())
    plans = {p.id: p for p in session.exec(select(Plan).where(Plan.id.in_(plan_ids)))}
    amount = first_charge(sub, plans)
    message = send_subscriber_email(
        session,
        merchant=merchant,
        subscriber=session.get(Subscriber, sub.subscriber_id),
        kind="trial_will_end",
        context={"plan_name": plans[sub.plan_id].name, "trial_end": sub.trial_end, "amount": amount},
        now=now,
        notice_key=trial_will_end_key(sub.id, sub.trial_end),
    )
    if message is None:
        return 0  # reminded already
    record_event(
        session,
        merchant_id=sub.merchant_id,
        type="subscription.trial_will_end",
        obj=SubscriptionObject.of(sub),
        now=now,
    )
    audit(
        session,
        merchant_id=sub.merchant_id,
        subscriber_id=sub.subscriber_id,
        actor="system",
        kind="trial_reminder_sent",
        detail={"subscription_id": sub.id, "trial_end": sub.trial_end, "amount_minor": amount.amount_minor},
        now=now,
    )
    return 1
