"""Retention offers: before a subscriber's cancellation is confirmed, the plan's offer (a discount on
the next N invoices) is shown once; accepting it keeps the subscription and records the discount on
it (renewal_terms.py turns it into a "Discount" line on the next N renewal invoices), declining it
lets the cancellation go on.

Rules:
- a plan has an offer when retention_kind is "percent" (value 1-100) or "amount" (minor units of the
  plan's currency, > 0) and retention_cycles is 1-24;
- only an active (or trialing) subscription is offered one: a past-due one owes money first;
- a subscription sees the offer at most once: not after it answered one (accepted or declined), nor
  while a discount is still running; reopening the cancel flow before answering shows the same offer
  (one RetentionOffer row per cancel attempt, however many clicks);
- answering takes the subscription's row lock and a conditional UPDATE on the offer, so a double
  click or a replayed event answers once.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError, NotAllowed
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.renewal_terms import DISCOUNT_AMOUNT, DISCOUNT_KINDS, DISCOUNT_PERCENT, discount_off
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import can_self_cancel
from portal_app.billing.tenancy import get_scoped
from portal_app.billing.webhooks_out.events import record_event
from portal_app.models import Invoice, InvoiceLine, Merchant, Plan, RetentionOffer, Subscriber, Subscription

MAX_CYCLES = 24
NO_OFFER = ""


class RetentionError(BillingError):
    code = "retention_error"


@dataclasses.dataclass(frozen=True)
class OfferTerms:
    """What an offer takes off: kind ("percent" | "amount"), value, for how many invoices, and the
    plan's price before and after (the amount the next invoices will read)."""

    kind: str
    value: int
    cycles: int
    price: Money
    discounted: Money


def validate_offer(kind: object, value: object, cycles: object, currency: str) -> tuple[str, int, int]:
    """(kind, value, cycles) of a plan's offer as the console may set it; RetentionError otherwise.
    kind "" means no offer (value and cycles become 0)."""
    if kind in (NO_OFFER, None):
        return NO_OFFER, 0, 0
    if kind not in DISCOUNT_KINDS:
        raise RetentionError("Choose no offer, a percentage or an amount.", field="retention_kind")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RetentionError("Enter the offer's value.", field="retention_value")
    if kind == DISCOUNT_PERCENT and not 1 <= value <= 100:
        raise RetentionError("A percentage is between 1 and 100.", field="retention_value")
    if kind == DISCOUNT_AMOUNT and not 0 < value <= 100_000_000:
        raise RetentionError(f"Enter an amount in {currency} greater than zero.", field="retention_value")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or not 1 <= cycles <= MAX_CYCLES:
        raise RetentionError(f"The offer lasts 1 to {MAX_CYCLES} invoices.", field="retention_cycles")
    return kind, value, cycles


def plan_offer(plan: Plan) -> OfferTerms | None:
    """The plan's offer, or None when it has none (or a value the console would not accept)."""
    try:
        kind, value, cycles = validate_offer(
            plan.retention_kind, plan.retention_value, plan.retention_cycles, plan.currency
        )
    except RetentionError:
        return None
    if not kind:
        return None
    price = Money(plan.amount_minor, plan.currency)
    off = discount_off(kind, value, price)
    return OfferTerms(kind, value, cycles, price, Money(price.amount_minor - off.amount_minor, price.currency))


def _answered_before(session: Session, subscription_id: int) -> bool:
    return (
        session.execute(
            sa.select(RetentionOffer.id).where(
                RetentionOffer.subscription_id == subscription_id,
                sa.or_(RetentionOffer.accepted_at.is_not(None), RetentionOffer.declined_at.is_not(None)),
            )
        ).first()
        is not None
    )


def _open_offer(session: Session, subscription_id: int) -> RetentionOffer | None:
    """The offer shown on this cancel attempt and not answered yet."""
    return session.exec(
        select(RetentionOffer)
        .where(
            RetentionOffer.subscription_id == subscription_id,
            RetentionOffer.accepted_at.is_(None),
            RetentionOffer.declined_at.is_(None),
        )
        .order_by(RetentionOffer.id.desc())
    ).first()


def offer_for_cancel(
    session: Session, subscription_id: int, *, merchant_id: int, now: datetime
) -> tuple[RetentionOffer, OfferTerms] | None:
    """The offer to show before this cancellation is confirmed (recorded as shown, once per cancel
    attempt), or None: the plan has none, the subscription cannot be canceled online, a discount is
    running, or it answered an offer already."""
    sub = get_scoped(session, Subscription, subscription_id, merchant_id, for_update=True)
    plan = session.get(Plan, sub.plan_id)
    terms = plan_offer(plan)
    if terms is None or not can_self_cancel(sub, plan) or sub.discount_cycles_left > 0:
        return None
    if sub.status not in (SubscriptionStatus.ACTIVE, SubscriptionStatus.TRIALING):
        return None  # past due / unpaid / incomplete: the open balance comes first, not a discount
    if _answered_before(session, sub.id):
        return None
    offer = _open_offer(session, sub.id)
    if offer is not None and (offer.plan_id, offer.kind, offer.value, offer.cycles) == (
        plan.id,
        terms.kind,
        terms.value,
        terms.cycles,
    ):
        return offer, terms
    if offer is not None:  # the merchant changed the offer since: the stale one is declined unseen
        offer.declined_at = now
        session.add(offer)
    offer = RetentionOffer(
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        subscription_id=sub.id,
        plan_id=plan.id,
        kind=terms.kind,
        value=terms.value,
        cycles=terms.cycles,
        currency=plan.currency,
        shown_at=now,
    )
    session.add(offer)
    session.flush()
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor="subscriber",
        kind="retention_offer_shown",
        detail={"subscription_id": sub.id, "offer_id": offer.id, "kind": terms.kind, "value": terms.value},
        now=now,
    )
    return offer, terms


def _answer(session: Session, offer: RetentionOffer, column: str, now: datetime) -> bool:
    """Mark the offer answered unless it already is (True when this call answered it)."""
    result = session.execute(
        sa.update(RetentionOffer)
        .where(
            RetentionOffer.id == offer.id,
            RetentionOffer.accepted_at.is_(None),
            RetentionOffer.declined_at.is_(None),
        )
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    session.refresh(offer)
    return result.rowcount == 1


def accept_offer(
    session: Session, subscription_id: int, *, merchant_id: int, actor: str, now: datetime
) -> RetentionOffer:
    """Take the offer shown on this cancel attempt: the discount goes on the subscription for its
    next `cycles` renewal invoices and the subscription is NOT canceled. Idempotent: accepting again
    returns the accepted offer."""
    sub = get_scoped(session, Subscription, subscription_id, merchant_id, for_update=True)
    offer = _open_offer(session, sub.id)
    if offer is None:
        accepted = session.exec(
            select(RetentionOffer).where(
                RetentionOffer.subscription_id == sub.id, RetentionOffer.accepted_at.is_not(None)
            )
        ).first()
        if accepted is not None:
            return accepted  # a double click: already taken
        raise NotAllowed("This offer is no longer available.")
    plan = session.get(Plan, sub.plan_id)
    if not can_self_cancel(sub, plan) or sub.discount_cycles_left > 0:
        raise NotAllowed("This offer is no longer available.")
    if not _answer(session, offer, "accepted_at", now):
        return offer
    previous = {
        "discount_kind": sub.discount_kind,
        "discount_value": sub.discount_value,
        "discount_cycles_left": sub.discount_cycles_left,
    }
    sub.discount_kind, sub.discount_value, sub.discount_cycles_left = offer.kind, offer.value, offer.cycles
    session.add(sub)
    session.flush()
    record_event(
        session,
        merchant_id=merchant_id,
        type="subscription.updated",
        obj=SubscriptionObject.of(sub),
        previous_attributes=previous,
        now=now,
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="retention_offer_accepted",
        detail={
            "subscription_id": sub.id,
            "offer_id": offer.id,
            "kind": offer.kind,
            "value": offer.value,
            "cycles": offer.cycles,
        },
        now=now,
    )
    send_subscriber_email(
        session,
        merchant=session.get(Merchant, merchant_id),
        subscriber=session.get(Subscriber, sub.subscriber_id),
        kind="retention_offer_accepted",
        now=now,
        context={
            "plan_name": plan.name,
            "percent": offer.value if offer.kind == DISCOUNT_PERCENT else "",
            "amount_off": Money(offer.value, offer.currency) if offer.kind == DISCOUNT_AMOUNT else "",
            "cycles": offer.cycles,
        },
    )
    return offer


def decline_offer(session: Session, subscription_id: int, *, merchant_id: int, actor: str, now: datetime) -> bool:
    """No thanks: the offer is declined (the cancellation goes on). True if there was one to decline."""
    sub = get_scoped(session, Subscription, subscription_id, merchant_id, for_update=True)
    offer = _open_offer(session, sub.id)
    if offer is None or not _answer(session, offer, "declined_at", now):
        return False
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="retention_offer_declined",
        detail={"subscription_id": sub.id, "offer_id": offer.id},
        now=now,
    )
    return True


@dataclasses.dataclass(frozen=True)
class RetentionStats:
    shown: int
    accepted: int
    revenue_kept: list[Money]  # per currency, largest first


def retention_stats(session: Session, *, merchant_id: int) -> RetentionStats:
    """The merchant's offers: how many were shown (one per cancel attempt), accepted, and the revenue
    they kept: the totals of the PAID invoices that carry a discount line ("Discount ...") of the
    subscriptions that accepted an offer, finalized after the acceptance, summed per currency. That
    is money subscribers who were about to leave actually paid at the discounted price (what a
    discounted invoice did not collect, and anything still open, is not counted)."""
    shown, accepted = session.execute(
        sa.select(sa.func.count(), sa.func.count(RetentionOffer.accepted_at)).where(
            RetentionOffer.merchant_id == merchant_id
        )
    ).one()
    has_discount = (
        sa.exists()
        .where(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.description.like("Discount%"))
        .correlate(Invoice)
    )
    kept = session.execute(
        sa.select(Invoice.currency, sa.func.sum(Invoice.total_minor))
        .join(RetentionOffer, RetentionOffer.subscription_id == Invoice.subscription_id)
        .where(
            RetentionOffer.merchant_id == merchant_id,
            Invoice.merchant_id == merchant_id,
            RetentionOffer.accepted_at.is_not(None),
            Invoice.status == InvoiceStatus.PAID,
            Invoice.finalized_at >= RetentionOffer.accepted_at,
            has_discount,
        )
        .group_by(Invoice.currency)
    ).all()
    revenue = sorted((Money(int(total or 0), currency) for currency, total in kept), key=lambda m: -m.amount_minor)
    return RetentionStats(int(shown), int(accepted), revenue)
