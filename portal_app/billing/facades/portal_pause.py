"""The portal's pause and trial calls: what the subscriber's page shows about a pause or a trial, and
the pause / resume actions. Each takes the portal session's (merchant_id, subscriber_id), validates
its input, owns its transaction and picks the configured gateway. Values stay typed; the UI words them."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from sqlmodel import select

from portal_app import db
from portal_app.billing import pauses, trials
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.billing.gateways import get_gateway
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.subscription_views import current_subscription
from portal_app.models import Plan, utcnow

MAX_DATE_TEXT = 10  # YYYY-MM-DD


@dataclasses.dataclass(frozen=True)
class LifecycleView:
    """The pause and trial facts of the subscriber's live subscription."""

    can_pause: bool
    pause_from: datetime | None  # can_pause: the pause would start at this period end
    first_resume_day: date | None  # the date picker's range (can_pause)
    last_resume_day: date | None
    pauses_at: datetime | None  # a scheduled pause: when it starts
    resume_at: datetime | None  # a scheduled or running pause: when billing resumes
    paused: bool
    trial_end: datetime | None  # trialing: when the free period ends and the first charge comes
    first_charge: Money | None  # trialing: what that charge will be


EMPTY = LifecycleView(False, None, None, None, None, None, False, None, None)


@calm_on_database_outage
def lifecycle_view(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> LifecycleView:
    with db.session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            return EMPTY
        plan = session.get(Plan, sub.plan_id)
        window = pauses.resume_window(sub, plan)
        if window is not None and (now or utcnow()) >= sub.current_period_end:
            window = None  # being renewed right now
        trial_end = first_charge = None
        if trials.is_trialing(sub) and not sub.cancel_at_period_end:
            plan_ids = {sub.plan_id} | ({sub.pending_plan_id} if sub.pending_plan_id else set())
            plans = {p.id: p for p in session.exec(select(Plan).where(Plan.id.in_(plan_ids)))}
            trial_end, first_charge = sub.trial_end, trials.first_charge(sub, plans)
        return LifecycleView(
            can_pause=window is not None,
            pause_from=sub.current_period_end if window else None,
            first_resume_day=window[0] if window else None,
            last_resume_day=window[1] if window else None,
            pauses_at=sub.pause_starts_at if pauses.pause_scheduled(sub) else None,
            resume_at=sub.resume_at if (pauses.pause_scheduled(sub) or pauses.is_paused(sub)) else None,
            paused=pauses.is_paused(sub),
            trial_end=trial_end,
            first_charge=first_charge,
        )


def parse_day(value: object) -> date:
    """A date picker's value (YYYY-MM-DD), refused with a named failure otherwise."""
    if not isinstance(value, str) or len(value) != MAX_DATE_TEXT:
        raise BillingError("Please choose a date.", field="resume_on")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BillingError("Please choose a date.", field="resume_on") from None


@calm_on_database_outage
def pause(*, merchant_id: int, subscriber_id: int, resume_on: object, now: datetime | None = None) -> datetime:
    """Schedule a pause of the live subscription until `resume_on`; returns when it starts."""
    day = parse_day(resume_on)
    with db.session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        paused = pauses.pause(
            session, sub.id, merchant_id=merchant_id, resume_on=day, now=now or utcnow(), actor="subscriber"
        )
        return paused.pause_starts_at


@dataclasses.dataclass(frozen=True)
class ResumeOutcome:
    resumed: bool  # a running pause ended (False: a scheduled one was undone, or nothing to do)
    charge: ChargeInvoiceResult | None  # the first invoice's charge after a running pause


@calm_on_database_outage
def resume(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> ResumeOutcome:
    """Resume now (a running pause: the first invoice is charged at once) or undo a scheduled pause."""
    with db.session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        subscription_id = sub.id
    result, charge = pauses.resume_and_charge(
        db.get_engine(),
        merchant_id=merchant_id,
        subscription_id=subscription_id,
        now=now or utcnow(),
        actor="subscriber",
        gateway=get_gateway(),
    )
    return ResumeOutcome(result.resumed, charge)
