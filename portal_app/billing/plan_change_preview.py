"""A plan change's preview: checks (what is refused) and what it would charge, credit and renew,
computed from the rows as they are (no writes). The rules are in plan_changes.py, which applies it."""

from __future__ import annotations

import dataclasses
import types
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.errors import NotAllowed
from portal_app.billing.money import Money
from portal_app.billing.periods import period_bounds
from portal_app.billing.plan_switches import DowngradeTiming, may_switch
from portal_app.billing.proration import costs_more_per_day, days_used, part, period_days, unused_credit
from portal_app.billing.renewal_terms import period_description, renewal_terms
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.models import Invoice, Merchant, Plan, Subscription

S, I = SubscriptionStatus, InvoiceStatus

NOW, PERIOD_END = "now", "period_end"

# Stored line texts (English, ISO dates like renewal_terms.period_description).
UNUSED_LINE = "Unused time on {plan}"
REMAINING_LINE = "Remaining time on {plan}"


class PlanChangeRefused(NotAllowed):
    """The change is not possible now; `code` says why (the portal words it)."""

    code = "plan_change_refused"


@dataclasses.dataclass(frozen=True)
class ProrationLine:
    description: str  # stored on the invoice (English, ISO dates)
    amount_minor: int  # negative for the old plan's unused time
    kind: str = ""  # unused | remaining | period (a new interval's full first period)
    plan_name: str = ""


@dataclasses.dataclass(frozen=True)
class PlanChangePreview:
    """What a change would do, computed from the rows as they are now."""

    subscription_id: int
    from_plan_id: int
    from_plan_name: str
    to_plan_id: int
    to_plan_name: str
    currency: str
    upgrade: bool  # the new plan costs more per day
    timing: str  # "now" | "period_end"
    effective_at: datetime
    lines: tuple[ProrationLine, ...]  # the prorated invoice's lines (none when scheduled)
    charge_minor: int  # the new plan's remaining time (or full new period)
    credit_minor: int  # the old plan's unused time
    period_start: datetime  # the period after the change (restarted for another interval)
    period_end: datetime
    next_renewal_at: datetime
    next_renewal_minor: int  # what that renewal bills (new plan, less discount and credit)

    @property
    def net_minor(self) -> int:
        return self.charge_minor - self.credit_minor

    def line_amount(self, line: ProrationLine) -> Money:
        return Money(line.amount_minor, self.currency)

    @property
    def amount_due_today(self) -> Money:
        """Charged today: the prorated invoice's total (zero when nothing is owed)."""
        return Money(max(self.net_minor, 0), self.currency)

    @property
    def credit_added(self) -> Money:
        """Added to the subscriber's credit (an immediate change that costs less than what is unused)."""
        return Money(max(-self.net_minor, 0), self.currency)

    @property
    def next_renewal_amount(self) -> Money:
        return Money(self.next_renewal_minor, self.currency)


# --- checks and the preview (no writes) -----------------------------------------------------------


def check_subscription_changeable(session: Session, sub: Subscription, now: datetime) -> None:
    """Refuse a subscription that may not change plans now, whatever the target."""
    if sub.deleted_at is not None or sub.status == S.CANCELED:
        raise PlanChangeRefused("This subscription has ended.", code="subscription_ended")
    if sub.cancel_at_period_end:
        raise PlanChangeRefused(
            "This subscription is set to end. Undo the cancellation to change plans.", code="subscription_ending"
        )
    if sub.status in (S.PAST_DUE, S.UNPAID):
        raise PlanChangeRefused("Please pay the open invoice before changing plans.", code="payment_due")
    if sub.status != S.ACTIVE:
        raise PlanChangeRefused("Plans can be changed while the subscription is active.", code="not_active")
    if now >= sub.current_period_end or now < sub.current_period_start:
        raise PlanChangeRefused("The renewal is being processed. Please try again shortly.", code="renewal_due")
    open_invoice = session.execute(
        sa.select(Invoice.id).where(Invoice.subscription_id == sub.id, Invoice.status == I.OPEN).limit(1)
    ).first()
    if open_invoice is not None:
        raise PlanChangeRefused("Please pay the open invoice before changing plans.", code="payment_due")


def check_changeable(session: Session, sub: Subscription, target: Plan, now: datetime) -> Plan:
    """Refuse what the rules forbid (see plan_changes.py); returns the current plan."""
    # The change already made comes first: a double submit is told so, whatever the first one left
    # behind (its invoice may still be being charged).
    plan = session.get(Plan, sub.plan_id)
    if target.id == plan.id:
        raise PlanChangeRefused("You are already on this plan.", code="same_plan")
    if sub.pending_plan_id == target.id:
        raise PlanChangeRefused("This change is already scheduled.", code="already_scheduled")
    check_subscription_changeable(session, sub, now)
    if target.currency != plan.currency:
        raise PlanChangeRefused("This plan is billed in another currency.", code="currency_mismatch")
    if not target.active or not may_switch(session, plan, target):
        raise PlanChangeRefused("This plan is not available to switch to.", code="not_offered")
    return plan


def _renewal_total(sub: Subscription, plans: dict[int, Plan], **columns) -> int:
    """What the next renewal would bill if the subscription's columns were `columns` (renewal_terms)."""
    values = {
        name: getattr(sub, name)
        for name in (
            "plan_id",
            "pending_plan_id",
            "anchor_at",
            "period_index",
            "current_period_end",
            "credit_minor",
            "discount_kind",
            "discount_value",
            "discount_cycles_left",
        )
    }
    return renewal_terms(types.SimpleNamespace(**(values | columns)), plans).total_minor


def compute_preview(
    sub: Subscription, plan: Plan, target: Plan, *, downgrade_timing: str, now: datetime
) -> PlanChangePreview:
    """The change of `sub` from `plan` to `target` at `now` (pure: the checks ran already)."""
    start, end = sub.current_period_start, sub.current_period_end
    same_interval = (plan.interval, plan.interval_count) == (target.interval, target.interval_count)
    new_start, new_end = (
        (start, end) if same_interval else period_bounds(now, target.interval, target.interval_count, 0)
    )
    upgrade = not costs_more_per_day(
        target.amount_minor, period_days(new_start, new_end), plan.amount_minor, period_days(start, end)
    )  # equal price per day counts as an upgrade: applied now, nothing much to prorate
    plans = {plan.id: plan, target.id: target}
    common = dict(
        subscription_id=sub.id,
        from_plan_id=plan.id,
        from_plan_name=plan.name,
        to_plan_id=target.id,
        to_plan_name=target.name,
        currency=plan.currency,
        upgrade=upgrade,
    )
    if not upgrade and downgrade_timing != DowngradeTiming.IMMEDIATELY:
        total = _renewal_total(sub, plans, pending_plan_id=target.id)
        renewal_start, renewal_end = (
            period_bounds(end, target.interval, target.interval_count, 0)
            if not same_interval
            else period_bounds(sub.anchor_at, plan.interval, plan.interval_count, sub.period_index + 1)
        )
        return PlanChangePreview(
            **common,
            timing=PERIOD_END,
            effective_at=end,
            lines=(),
            charge_minor=0,
            credit_minor=0,
            period_start=renewal_start,
            period_end=renewal_end,
            next_renewal_at=end,
            next_renewal_minor=total,
        )
    credit = unused_credit(plan.amount_minor, start, end, now)
    unused = ProrationLine(
        period_description(UNUSED_LINE.format(plan=plan.name), now, end), -credit, "unused", plan.name
    )
    if same_interval:
        days = period_days(start, end)
        charge = part(target.amount_minor, days, days_used(start, end, now), days)
        line = ProrationLine(
            period_description(REMAINING_LINE.format(plan=target.name), now, end), charge, "remaining", target.name
        )
        columns = {"plan_id": target.id, "pending_plan_id": None}
    else:
        charge = target.amount_minor
        line = ProrationLine(period_description(target.name, new_start, new_end), charge, "period", target.name)
        columns = {
            "plan_id": target.id,
            "pending_plan_id": None,
            "anchor_at": new_start,
            "period_index": 0,
            "current_period_end": new_end,
        }
    net = charge - credit
    total = _renewal_total(sub, plans, **columns, credit_minor=sub.credit_minor + max(-net, 0))
    return PlanChangePreview(
        **common,
        timing=NOW,
        effective_at=now,
        lines=(unused, line),
        charge_minor=charge,
        credit_minor=credit,
        period_start=new_start,
        period_end=new_end,
        next_renewal_at=new_end,
        next_renewal_minor=total,
    )


def preview_change(
    session: Session, sub: Subscription | int, target_plan: Plan | int, now: datetime, *, merchant_id: int
) -> PlanChangePreview:
    """What changing `sub` to `target_plan` now would do (PlanChangeRefused when not possible)."""
    sub = get_scoped(session, Subscription, row_id(sub), merchant_id)
    target = get_scoped(session, Plan, row_id(target_plan), merchant_id)
    plan = check_changeable(session, sub, target, now)
    merchant = session.get(Merchant, merchant_id)
    return compute_preview(sub, plan, target, downgrade_timing=merchant.downgrade_timing, now=now)
