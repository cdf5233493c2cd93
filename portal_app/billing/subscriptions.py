"""Subscriptions: start, cancel (per plan policy), undo, delete, and the predicates the UI shows.

Statuses follow Stripe: a new subscription is `incomplete` until its first invoice is paid, then
`active`; dunning moves it to `past_due` and finally `unpaid` or `canceled`. Ending one goes through
statuses.end_subscription. The read models (subscription_views) carry the predicates here
(`can_self_cancel`, `on_grace_period`, `display_status`, ...) so that no page compares status strings.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError, NotAllowed
from portal_app.billing.invoices import create_draft_invoice, finalize_invoice, settle_invoice
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.pauses import next_billing_at
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.periods import period_bounds
from portal_app.billing.plans import CancellationPolicy
from portal_app.billing.portal_links import revoke_portal_links
from portal_app.billing.renewal_terms import discount_off
from portal_app.billing.statuses import (
    InvoiceStatus,
    SubscriptionStatus,
    end_subscription,
    is_ended,
    renews,
)
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.billing.trials import has_trial, start_trialing
from portal_app.billing.webhooks_out.events import record_event
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, PaymentMethod, Plan, Subscriber, Subscription

S, I = SubscriptionStatus, InvoiceStatus

MAX_REASON_LENGTH = 500


class SubscriptionError(BillingError):
    code = "subscription_error"


# --- predicates (pure: computed from rows, no queries unless named so) ------------------------


def next_renewal_at(sub: Subscription) -> datetime | None:
    """When the next invoice is issued, or None if the subscription will not renew."""
    if sub.deleted_at is None and (resumes := next_billing_at(sub)) is not None:
        return resumes  # a pause: the next invoice comes when it ends (pauses.py)
    if sub.deleted_at is not None or not renews(sub.status) or sub.cancel_at_period_end:
        return None
    return sub.current_period_end


def next_amount(sub: Subscription, plan: Plan) -> Money | None:
    """What the next renewal will charge (the plan's current price less a running retention
    discount, as renewal_terms bills it), or None if it won't renew."""
    if not next_renewal_at(sub):
        return None
    price = Money(plan.amount_minor, plan.currency)
    running = sub.discount_cycles_left > 0 and sub.discount_kind
    return price - discount_off(sub.discount_kind, sub.discount_value, price) if running else price


def on_grace_period(sub: Subscription, now: datetime) -> bool:
    """Canceled at period end, and the paid period is still running (undo is possible)."""
    return (
        sub.cancel_at_period_end
        and sub.deleted_at is None
        and sub.status != S.CANCELED
        and now < sub.current_period_end
    )


def can_undo_cancellation(sub: Subscription, now: datetime) -> bool:
    return on_grace_period(sub, now)


def can_self_cancel(sub: Subscription, plan: Plan) -> bool:
    """Whether the portal offers "Cancel subscription" (the plan allows it and it is not ending yet)."""
    return (
        plan.cancellation_policy != CancellationPolicy.NOT_ALLOWED
        and not is_ended(sub)
        and not sub.cancel_at_period_end
    )


def display_status(sub: Subscription, now: datetime) -> str:
    """The status people see: "canceling" while a period-end cancellation is in its grace period."""
    return "canceling" if on_grace_period(sub, now) else sub.status


def asks_for_payment(sub: Subscription, amount_due: Money | None) -> bool:
    """A failed renewal waits for the customer: past due or unpaid with an amount still open."""
    return sub.status in (S.PAST_DUE, S.UNPAID) and bool(amount_due)


def access_ends_at(sub: Subscription) -> datetime | None:
    """When service stops: the period end for a scheduled cancellation, the end for an ended one."""
    if sub.status == S.CANCELED or sub.deleted_at is not None:
        return sub.ended_at
    if sub.cancel_at_period_end:
        return sub.current_period_end
    return None


# --- start -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class StartedSubscription:
    subscription: Subscription
    invoice: Invoice | None  # the first period's invoice, finalized (open) and not charged yet; None in a trial


def start_subscription(
    session: Session,
    *,
    merchant_id: int,
    subscriber: Subscriber | int,
    plan: Plan | int,
    start_at: datetime,
    payment_method: PaymentMethod | int | None = None,
    actor: str = "system",
) -> StartedSubscription:
    """Create the subscription (period 0 anchored on start_at) and finalize its first invoice.

    The charge is the caller's next step, after committing (a gateway call never runs inside a
    transaction): `subscribe()` does both. The subscription stays `incomplete` until that first
    invoice is paid.
    """
    subscriber = get_scoped(session, Subscriber, row_id(subscriber), merchant_id)
    plan = get_scoped(session, Plan, row_id(plan), merchant_id)
    if not plan.active:
        raise SubscriptionError("This plan is no longer offered.")
    if start_at.tzinfo is None:
        raise SubscriptionError("start_at must be timezone-aware (UTC).")
    if payment_method is not None:
        pm = get_scoped(session, PaymentMethod, row_id(payment_method), merchant_id)
        if pm.subscriber_id != subscriber.id or pm.detached_at is not None:
            raise SubscriptionError("This card does not belong to the subscriber.")
        _make_default(session, pm)
    if has_trial(plan):  # a free period first: trialing, no invoice (trials.py)
        return StartedSubscription(
            start_trialing(session, **_who(merchant_id, subscriber, plan, start_at, actor)), None
        )
    start, end = period_bounds(start_at, plan.interval, plan.interval_count, 0)
    sub = Subscription(
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        plan_id=plan.id,
        status=S.INCOMPLETE,
        anchor_at=start_at,
        period_index=0,
        current_period_start=start,
        current_period_end=end,
        created_at=start_at,
    )
    session.add(sub)
    session.flush()
    record_event(
        session, merchant_id=merchant_id, type="subscription.created", obj=SubscriptionObject.of(sub), now=start_at
    )
    invoice = create_draft_invoice(session, sub.id, merchant_id=merchant_id, now=start_at)
    finalize_invoice(session, invoice.id, merchant_id=merchant_id, now=start_at)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        actor=actor,
        kind="subscription_started",
        detail={"subscription_id": sub.id, "plan_id": plan.id, "plan": plan.name, "invoice": invoice.number},
        now=start_at,
    )
    return StartedSubscription(sub, invoice)


def _who(merchant_id, subscriber, plan, start_at, actor) -> dict:
    return {"merchant_id": merchant_id, "subscriber": subscriber, "plan": plan, "start_at": start_at, "actor": actor}


def _make_default(session: Session, pm: PaymentMethod) -> None:
    table = PaymentMethod.__table__
    session.execute(
        sa.update(table).where(table.c.subscriber_id == pm.subscriber_id, table.c.id != pm.id).values(is_default=False)
    )
    pm.is_default = True
    session.add(pm)


@dataclasses.dataclass(frozen=True)
class SubscribeResult:
    subscription_id: int
    invoice_id: int | None  # None: a trial, nothing to charge yet
    charge: ChargeInvoiceResult | None

    @property
    def active(self) -> bool:
        return self.charge is not None and self.charge.paid


def subscribe(
    engine: sa.Engine,
    *,
    merchant_id: int,
    subscriber_id: int,
    plan_id: int,
    start_at: datetime,
    gateway,
    now: datetime | None = None,
    actor: str = "system",
) -> SubscribeResult:
    """Start a subscription and charge its first invoice with the subscriber's default card."""

    with new_session(engine) as session, session.begin():
        started = start_subscription(
            session, merchant_id=merchant_id, subscriber=subscriber_id, plan=plan_id, start_at=start_at, actor=actor
        )
        sub_id, invoice_id = started.subscription.id, started.invoice.id if started.invoice else None
    charge = (
        charge_invoice(
            engine, invoice_id, merchant_id=merchant_id, trigger="renewal", gateway=gateway, now=now or start_at
        )
        if invoice_id
        else None
    )
    return SubscribeResult(sub_id, invoice_id, charge)


# --- cancel / undo / delete ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CancelResult:
    subscription: Subscription
    immediate: bool
    access_ends_at: datetime | None


def cancel_subscription(
    session: Session,
    subscription_id: Subscription | int,
    *,
    merchant_id: int,
    actor: str,
    reason: str = "",
    now: datetime,
    mode: str = "policy",
) -> CancelResult:
    """Cancel per the plan's policy (mode="policy", the portal) or as the merchant forces it
    (mode="at_period_end" | "immediately", the console).

    at_period_end keeps the status and service until the period ends (undo possible until then);
    immediately ends it now. unpaid/incomplete subscriptions have no paid period left, so they
    always end at once, as do paused ones (billing/pauses.py).
    """
    sub = get_scoped(session, Subscription, row_id(subscription_id), merchant_id, for_update=True)
    plan = session.get(Plan, sub.plan_id)
    if is_ended(sub):
        raise NotAllowed("This subscription has already ended.")
    if sub.cancel_at_period_end:
        raise NotAllowed("This subscription is already set to end at the end of the period.")
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_LENGTH:
        raise SubscriptionError(f"Please keep the reason under {MAX_REASON_LENGTH} characters.", field="reason")
    if mode == "policy":
        policy = plan.cancellation_policy
        if policy == CancellationPolicy.NOT_ALLOWED:
            merchant = session.get(Merchant, merchant_id)
            contact = f" at {merchant.support_email}" if merchant.support_email else ""
            raise NotAllowed(f"This plan can't be canceled online. Please contact {merchant.name}{contact}.")
    elif mode in (CancellationPolicy.AT_PERIOD_END, CancellationPolicy.IMMEDIATELY):
        policy = mode
    else:
        raise SubscriptionError(f"Unknown cancellation mode {mode!r}.")
    # paused: the paid period is over and nothing is owed until it resumes, so it ends at once too.
    immediate = policy == CancellationPolicy.IMMEDIATELY or sub.status in (S.UNPAID, S.INCOMPLETE, S.PAUSED)

    sub.cancellation_reason = reason
    if immediate:
        end_subscription(session, sub, now=now)
    else:
        # Status stays active/past_due: the customer keeps what they paid for until the period ends.
        previous = {"cancel_at_period_end": sub.cancel_at_period_end, "canceled_at": sub.canceled_at}
        sub.cancel_at_period_end = True
        sub.canceled_at = now
    session.add(sub)
    session.flush()
    if not immediate:  # an immediate end reported itself (statuses.end_subscriptions)
        _report_update(session, sub, previous, now=now)
    ends = access_ends_at(sub)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="subscription_canceled",
        detail={"subscription_id": sub.id, "immediate": immediate, "reason": reason, "access_ends_at": ends},
        now=now,
    )
    merchant = session.get(Merchant, merchant_id)
    subscriber = session.get(Subscriber, sub.subscriber_id)
    send_subscriber_email(
        session,
        merchant=merchant,
        subscriber=subscriber,
        kind="cancellation",
        now=now,
        context={"plan_name": plan.name, "access_ends": ends, "reason": reason, "immediate": immediate},
    )
    return CancelResult(sub, immediate, ends)


def undo_cancellation(
    session: Session, subscription_id: Subscription | int, *, merchant_id: int, actor: str, now: datetime
) -> Subscription:
    """Take back a cancellation scheduled for the period end; possible until the period ends."""
    sub = get_scoped(session, Subscription, row_id(subscription_id), merchant_id, for_update=True)
    if not can_undo_cancellation(sub, now):
        raise NotAllowed(
            "There is no cancellation to undo: the subscription is not set to end, or it has already ended."
        )
    previous = {"cancel_at_period_end": sub.cancel_at_period_end, "canceled_at": sub.canceled_at}
    sub.cancel_at_period_end = False
    sub.canceled_at = None
    previous_reason, sub.cancellation_reason = sub.cancellation_reason, ""
    session.add(sub)
    session.flush()
    _report_update(session, sub, previous, now=now)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="cancellation_undone",
        detail={"subscription_id": sub.id, "reason_was": previous_reason},
        now=now,
    )
    return sub


def _report_update(session: Session, sub: Subscription, previous: dict, *, now: datetime) -> None:
    """subscription.updated for a change that is not a status move (those report themselves)."""
    record_event(
        session,
        merchant_id=sub.merchant_id,
        type="subscription.updated",
        obj=SubscriptionObject.of(sub),
        previous_attributes=previous,
        now=now,
    )


def delete_subscription(
    session: Session,
    subscription_id: Subscription | int,
    *,
    merchant_id: int,
    actor: str,
    now: datetime,
    reason: str = "",
) -> Subscription:
    """Remove a subscription (merchant only): it ends now, its unpaid invoices are voided, and the
    subscriber's portal links are revoked once no other live subscription needs them."""

    sub = get_scoped(session, Subscription, row_id(subscription_id), merchant_id, for_update=True)
    if sub.deleted_at is not None:
        raise NotAllowed("This subscription is already deleted.")
    if sub.status != S.CANCELED:
        end_subscription(session, sub, now=now)
    sub.deleted_at = now
    session.add(sub)
    session.flush()
    # A deleted subscription is not owed: void what is unpaid, except an invoice being charged right
    # now (its outcome settles it; voiding under a live claim could lose a payment).
    voided = []
    for invoice in session.exec(
        select(Invoice).where(
            Invoice.subscription_id == sub.id,
            Invoice.status.in_([I.OPEN.value, I.UNCOLLECTIBLE.value]),
            Invoice.charging_attempt_id.is_(None),
        )
    ).all():
        # The deletion's own audit row lists them (voided_invoices): no row per invoice.
        settle_invoice(session, invoice.id, I.VOID, merchant_id=merchant_id, actor=actor, now=now, audited=False)
        voided.append(invoice.number)
    others_live = session.execute(
        sa.select(sa.func.count())
        .select_from(Subscription)
        .where(
            Subscription.subscriber_id == sub.subscriber_id,
            Subscription.id != sub.id,
            Subscription.deleted_at.is_(None),
        )
    ).scalar_one()
    revoked = (
        0
        if others_live
        else revoke_portal_links(session, merchant_id=merchant_id, subscriber_id=sub.subscriber_id, now=now)
    )
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="subscription_deleted",
        detail={"subscription_id": sub.id, "reason": reason, "voided_invoices": voided, "links_revoked": revoked},
        now=now,
    )
    return sub
