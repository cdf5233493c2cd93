"""Portal: change plan. The plans the subscriber may switch to, the preview of one (charged today or
credit, next renewal), the change itself (its prorated invoice charged at once), a scheduled
downgrade and its undo. Every call is scoped to the portal session's one subscriber."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from portal_app.billing import plan_changes
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.billing.facades.portal_step_up import require as step_up_check
from portal_app.billing.gateways import get_gateway
from portal_app.billing.money import Money
from portal_app.billing.plan_change_preview import (
    PlanChangePreview,
    PlanChangeRefused,
    check_subscription_changeable,
)
from portal_app.billing.plan_switches import switch_targets
from portal_app.billing.subscription_views import current_subscription
from portal_app.billing.tenancy import get_scoped
from portal_app.db import get_engine, session_scope
from portal_app.models import Plan, utcnow

MAX_PLAN_ID = 2**62


@dataclasses.dataclass(frozen=True)
class PlanOption:
    plan_id: int
    name: str
    price: Money
    interval: str
    interval_count: int


@dataclasses.dataclass(frozen=True)
class PlanChangeOptions:
    """What the portal's "Change plan" section shows."""

    current_plan: str
    options: tuple[PlanOption, ...]  # empty when the merchant offers none
    refusal: str  # "" when a change is possible now, else the refusal code (payment_due, ...)
    pending_plan: str  # a downgrade scheduled for the period end ("" = none)
    pending_at: datetime | None


def _plan_id(value: object) -> int:
    """The plan id from the browser: a positive int (or its digits), else NotFound."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_PLAN_ID:
        raise NotFound("Plan not found")
    return value


@calm_on_database_outage
def plan_change_options(
    *, merchant_id: int, subscriber_id: int, now: datetime | None = None
) -> PlanChangeOptions | None:
    """None when the subscriber has no live subscription or the merchant offers no switch."""
    now = now or utcnow()
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            return None
        plan = get_scoped(session, Plan, sub.plan_id, merchant_id)
        targets = switch_targets(session, plan)
        pending = session.get(Plan, sub.pending_plan_id) if sub.pending_plan_id else None
        if not targets and pending is None:
            return None
        refusal = ""
        if targets:
            try:
                check_subscription_changeable(session, sub, now)
            except PlanChangeRefused as err:
                refusal = err.code
        return PlanChangeOptions(
            current_plan=plan.name,
            options=tuple(
                PlanOption(p.id, p.name, Money(p.amount_minor, p.currency), p.interval, p.interval_count)
                for p in targets
                if p.id != sub.pending_plan_id
            ),
            refusal=refusal,
            pending_plan=pending.name if pending else "",
            pending_at=sub.current_period_end if pending else None,
        )


@calm_on_database_outage
def preview(*, merchant_id: int, subscriber_id: int, plan_id: object, now: datetime | None = None) -> PlanChangePreview:
    target = _plan_id(plan_id)
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        return plan_changes.preview_change(session, sub.id, target, now or utcnow(), merchant_id=merchant_id)


@calm_on_database_outage
def confirm(
    *,
    merchant_id: int,
    subscriber_id: int,
    plan_id: object,
    portal_session_id: int | None = None,
    now: datetime | None = None,
) -> plan_changes.PlanChangeOutcome:
    """Change the plan now (or schedule the downgrade) and charge what is owed today (after the
    emailed code when the merchant asks for one: StepUpRequired)."""
    target = _plan_id(plan_id)
    engine = get_engine()
    step_up_check(
        merchant_id=merchant_id, subscriber_id=subscriber_id, portal_session_id=portal_session_id, engine=engine
    )
    with session_scope(engine) as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        sub_id = sub.id
    return plan_changes.change_plan_and_charge(
        engine,
        merchant_id=merchant_id,
        subscription_id=sub_id,
        plan_id=target,
        actor="subscriber",
        gateway=get_gateway(),
        now=now or utcnow(),
    )


@calm_on_database_outage
def undo(
    *, merchant_id: int, subscriber_id: int, portal_session_id: int | None = None, now: datetime | None = None
) -> None:
    """Take back a scheduled downgrade (a change too: the emailed code first when the merchant asks)."""
    step_up_check(merchant_id=merchant_id, subscriber_id=subscriber_id, portal_session_id=portal_session_id)
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        plan_changes.cancel_scheduled_change(
            session, sub.id, merchant_id=merchant_id, actor="subscriber", now=now or utcnow()
        )


def refusal_code(err: BillingError) -> str:
    """The plan change refusal's code for the page's words ("" for other failures)."""
    return err.code if isinstance(err, PlanChangeRefused) or err.code == "nothing_scheduled" else ""
