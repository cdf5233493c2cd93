"""Pausing a subscription: no service and no invoices for a while, then billing starts again.

Rules (issue 14):
- Only an active subscription that is not ending, has nothing open to pay and whose plan allows it
  (Plan.pause_max_days > 0) may pause. The pause starts at the current period end: the subscriber
  keeps the period they paid for. They choose the resume day, from the day after the period end up
  to pause_max_days after it; billing resumes at the period end's time of day on that day.
- pause() only schedules (pause_starts_at, resume_at). At the period end the billing run moves the
  subscription active -> paused and issues no invoice (run_due, before the renewals).
- On resume (the day reached, by the run; or early, by the subscriber) it moves paused -> active and
  the billing anchor moves to the resume instant: the new period starts at resume, anchored there
  (period 0 of the new anchor, so a monthly plan resumed on the 10th renews on every 10th after).
  That first period is invoiced and charged at once through renewal_terms / renewal_invoices, the
  run's one renewal path (a scheduled plan change, a discount or credit apply as on any renewal); a
  decline makes it past_due and dunning runs as usual.
- Undoing a pause that has not started yet just clears the fields (nothing was billed or stopped).
- Canceling a paused subscription ends it at once (subscriptions.cancel_subscription): nothing is paid
  for and nothing is owed. A scheduled pause yields to a cancellation at the period end. Should a paused
  one carry a period-end cancellation anyway, it ends on its resume day, without an invoice.
- Dunning skips paused subscriptions (dunning.record_payment_failure schedules no retry for them).

Every change locks its row (FOR UPDATE on PostgreSQL; SQLite serializes writers) and moves the status
with a conditional UPDATE on the status it came from, so a double click or two runners move it once.
"""

from __future__ import annotations

import dataclasses
import types
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.errors import BillingError, NotAllowed
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.charging import charge_claims, claim_invoices
from portal_app.billing.renewal_invoices import RenewalInvoice, issue_renewal_invoices
from portal_app.billing.renewal_terms import renewal_terms
from portal_app.billing.statuses import (
    Ending,
    InvoiceStatus,
    SubscriptionStatus,
    check_transition,
    end_subscriptions,
)
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.billing.webhooks_out.events import record_event, subscriptions_changed
from portal_app.db import is_postgres, new_session
from portal_app.models import Invoice, Merchant, Plan, Subscriber, Subscription

S, I = SubscriptionStatus, InvoiceStatus

BATCH_SIZE = 500


class PauseError(BillingError):
    code = "pause_error"


# --- predicates (pure) -----------------------------------------------------------------------


def pause_scheduled(sub: Subscription) -> bool:
    """A pause is chosen and has not begun yet (the status is still active); a cancellation at the
    period end wins over it (the run ends the subscription instead of pausing it)."""
    return sub.resume_at is not None and sub.status == S.ACTIVE and not sub.cancel_at_period_end


def is_paused(sub: Subscription) -> bool:
    return sub.status == S.PAUSED


def resume_window(sub: Subscription, plan: Plan) -> tuple[date, date] | None:
    """The first and last resume days a subscriber may choose now, or None if they cannot pause."""
    if (
        plan.pause_max_days <= 0
        or sub.status != S.ACTIVE
        or sub.deleted_at is not None
        or sub.cancel_at_period_end
        or sub.resume_at is not None
    ):
        return None
    end = sub.current_period_end
    return (end + timedelta(days=1)).date(), (end + timedelta(days=plan.pause_max_days)).date()


def resume_instant(sub: Subscription, resume_on: date) -> datetime:
    """Billing resumes at the period end's time of day on the chosen day (UTC)."""
    end = sub.current_period_end.astimezone(UTC)
    return datetime.combine(resume_on, time(end.hour, end.minute, end.second), tzinfo=UTC)


def next_billing_at(sub: Subscription) -> datetime | None:
    """While a pause is scheduled or running the next invoice comes on the resume day, not at the
    period end; None when no pause is involved (the caller's rule applies)."""
    if sub.resume_at is None or sub.status not in (S.ACTIVE, S.PAUSED) or sub.cancel_at_period_end:
        return None
    return sub.resume_at


# --- the subscriber's actions ----------------------------------------------------------------


def pause(
    session: Session, subscription: Subscription | int, *, merchant_id: int, resume_on: date, now: datetime, actor: str
) -> Subscription:
    """Schedule a pause from the current period end until `resume_on` (see the module's rules)."""
    if not isinstance(resume_on, date) or isinstance(resume_on, datetime):
        raise PauseError("Please choose a date.", field="resume_on")
    sub = get_scoped(session, Subscription, row_id(subscription), merchant_id, for_update=True)
    plan = session.get(Plan, sub.plan_id)
    if plan.pause_max_days <= 0:
        raise NotAllowed("This plan can't be paused.")
    window = resume_window(sub, plan)
    if window is None:
        raise NotAllowed("Only an active subscription that is not ending can be paused.")
    if now >= sub.current_period_end:
        raise NotAllowed("This period is being renewed; please try again in a few minutes.")
    if _has_open_invoice(session, sub.id):
        raise NotAllowed("Please pay the open invoice before pausing.")
    first, last = window
    if not first <= resume_on <= last:
        raise PauseError(
            f"Please choose a resume date between {first.isoformat()} and {last.isoformat()}.", field="resume_on"
        )
    previous = {"pause_starts_at": None, "resume_at": None}
    sub.pause_starts_at = sub.current_period_end
    sub.resume_at = resume_instant(sub, resume_on)
    session.add(sub)
    session.flush()
    _report_update(session, sub, previous, now=now)
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="pause_scheduled",
        detail={"subscription_id": sub.id, "pause_starts_at": sub.pause_starts_at, "resume_at": sub.resume_at},
        now=now,
    )
    _email(session, sub, plan, "subscription_paused", now=now)
    return sub


@dataclasses.dataclass(frozen=True)
class ResumeResult:
    subscription_id: int
    resumed: bool  # paused -> active now (False: a scheduled pause was undone, or nothing to do)
    invoice_id: int | None  # the first invoice after the pause, left to charge (None: none or paid)


def resume(
    session: Session, subscription: Subscription | int, *, merchant_id: int, now: datetime, actor: str
) -> ResumeResult:
    """Resume now: a running pause ends (new anchor at `now`, first invoice issued; the caller charges
    it after committing, see resume_and_charge); a scheduled one is undone. Repeating it does nothing."""
    sub = get_scoped(session, Subscription, row_id(subscription), merchant_id, for_update=True)
    if pause_scheduled(sub):
        previous = {"pause_starts_at": sub.pause_starts_at, "resume_at": sub.resume_at}
        sub.pause_starts_at = sub.resume_at = None
        session.add(sub)
        session.flush()
        _report_update(session, sub, previous, now=now)
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=sub.subscriber_id,
            actor=actor,
            kind="pause_canceled",
            detail={"subscription_id": sub.id},
            now=now,
        )
        return ResumeResult(sub.id, False, None)
    if not is_paused(sub) or sub.deleted_at is not None:
        return ResumeResult(sub.id, False, None)  # resumed already (a double click): nothing to do
    invoice_ids = _resume_locked(session, [sub.id], at={sub.id: now}, now=now, actor=actor)
    return ResumeResult(sub.id, True, invoice_ids[0] if invoice_ids else None)


def resume_and_charge(
    engine: sa.Engine, *, merchant_id: int, subscription_id: int, now: datetime, actor: str, gateway
) -> tuple[ResumeResult, ChargeInvoiceResult | None]:
    """resume() in its own transaction, then the first invoice's charge (claim, call, record)."""
    with new_session(engine) as session, session.begin():
        result = resume(session, subscription_id, merchant_id=merchant_id, now=now, actor=actor)
        claims = []
        if result.invoice_id is not None:
            claims, _ = claim_invoices(
                session,
                [result.invoice_id],
                merchant_id=merchant_id,
                trigger="renewal",
                gateway_name=gateway.name,
                now=now,
            )
    charges = charge_claims(engine, claims, gateway=gateway, now=now)
    return result, (charges[0] if charges else None)


# --- the billing run -------------------------------------------------------------------------


def run_due(engine: sa.Engine, *, gateway, now: datetime, batch_size: int = BATCH_SIZE) -> list[ChargeInvoiceResult]:
    """The run's pause phase: pauses whose period ended begin; pauses whose resume instant came end
    (their first invoices issued and charged). Returns the charges, for the run's summary."""
    _begin_due(engine, now=now, batch_size=batch_size)
    results: list[ChargeInvoiceResult] = []
    after_id = 0
    while True:
        with new_session(engine) as session, session.begin():
            rows = _lock(
                session,
                (Subscription.status == S.PAUSED, Subscription.resume_at <= now),
                after_id=after_id,
                limit=batch_size,
            )
            if not rows:
                break
            after_id = rows[-1].id
            ending = [row for row in rows if row.cancel_at_period_end]
            if ending:
                end_subscriptions(
                    session, [Ending(row.id, row.status, row.resume_at, at_period_end=True) for row in ending]
                )
                for sub in session.exec(select(Subscription).where(Subscription.id.in_([r.id for r in ending]))):
                    audit(
                        session,
                        merchant_id=sub.merchant_id,
                        subscriber_id=sub.subscriber_id,
                        actor="system",
                        kind="subscription_ended",
                        detail={"subscription_id": sub.id, "ended_at": sub.ended_at},
                        now=now,
                    )
            resuming = [row for row in rows if not row.cancel_at_period_end]
            invoice_ids = _resume_locked(
                session,
                [row.id for row in resuming],
                at={row.id: row.resume_at for row in resuming},
                now=now,
                actor="system",
            )
            claims, _ = claim_invoices(
                session, invoice_ids, merchant_id=None, trigger="renewal", gateway_name=gateway.name, now=now
            )
        results += charge_claims(engine, claims, gateway=gateway, now=now)
    return results


def _begin_due(engine: sa.Engine, *, now: datetime, batch_size: int) -> None:
    """active -> paused for scheduled pauses whose period has ended; no invoice is issued."""
    due = (
        Subscription.status == S.ACTIVE,
        Subscription.pause_starts_at.is_not(None),
        Subscription.pause_starts_at <= now,
        Subscription.current_period_end <= now,
        Subscription.cancel_at_period_end.is_(False),
    )
    check_transition(SubscriptionStatus, S.ACTIVE, S.PAUSED)
    after_id = 0
    while True:
        with new_session(engine) as session, session.begin():
            rows = _lock(session, due, after_id=after_id, limit=batch_size)
            if not rows:
                return
            after_id = rows[-1].id
            table = Subscription.__table__
            moved = list(
                session.execute(
                    sa.update(table)
                    .where(table.c.id.in_([row.id for row in rows]), table.c.status == S.ACTIVE.value)
                    .values(status=S.PAUSED.value)
                    .returning(table.c.id)
                ).scalars()
            )
            subscriptions_changed(session, {sid: {"status": S.ACTIVE.value} for sid in moved}, now=now)
            for sub in session.exec(select(Subscription).where(Subscription.id.in_(moved))):
                record_event(
                    session,
                    merchant_id=sub.merchant_id,
                    type="subscription.paused",
                    obj=SubscriptionObject.of(sub),
                    now=now,
                )
                audit(
                    session,
                    merchant_id=sub.merchant_id,
                    subscriber_id=sub.subscriber_id,
                    actor="system",
                    kind="subscription_paused",
                    detail={"subscription_id": sub.id, "resume_at": sub.resume_at},
                    now=now,
                )


def _lock(session: Session, where, *, after_id: int, limit: int) -> list:
    stmt = (
        sa.select(Subscription.id, Subscription.status, Subscription.resume_at, Subscription.cancel_at_period_end)
        .where(*where, Subscription.deleted_at.is_(None), Subscription.id > after_id)
        .order_by(Subscription.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).all())


def _resume_locked(
    session: Session, ids: list[int], *, at: dict[int, datetime], now: datetime, actor: str
) -> list[int]:
    """paused -> active for the locked subscriptions `ids`, each anchored at its resume instant, with
    its first invoice issued; returns the ids of the invoices left to charge."""
    if not ids:
        return []
    check_transition(SubscriptionStatus, S.PAUSED, S.ACTIVE)
    subs = list(session.exec(select(Subscription).where(Subscription.id.in_(ids)).order_by(Subscription.id)))
    plan_ids = {s.plan_id for s in subs} | {s.pending_plan_id for s in subs if s.pending_plan_id is not None}
    plans = {p.id: p for p in session.exec(select(Plan).where(Plan.id.in_(plan_ids)))}
    table = Subscription.__table__
    items, moved = [], []
    for sub in subs:
        start = at[sub.id]
        # The period before the new anchor ends at the resume instant: renewal_terms then bills
        # period 0 of the new anchor, [resume, resume + interval), on the usual renewal terms.
        view = types.SimpleNamespace(
            **{c: getattr(sub, c) for c in _TERM_COLUMNS}, anchor_at=start, period_index=-1, current_period_end=start
        )
        term = renewal_terms(view, plans)
        values = {
            "status": S.ACTIVE.value,
            "anchor_at": start,
            "current_period_start": term.period_start,
            "current_period_end": term.period_end,
            "pause_starts_at": None,
            "resume_at": None,
            **term.updates,
        }
        done = session.execute(
            sa.update(table).where(table.c.id == sub.id, table.c.status == S.PAUSED.value).values(**values)
        ).rowcount
        if not done:
            continue  # another worker resumed it meanwhile
        moved.append(sub.id)
        items.append(
            RenewalInvoice(
                subscription_id=sub.id,
                subscriber=session.get(Subscriber, sub.subscriber_id),
                merchant=session.get(Merchant, sub.merchant_id),
                plan=plans[term.plan_id],
                period_start=term.period_start,
                period_end=term.period_end,
                lines=term.lines,
            )
        )
    for sid in moved:
        session.expire(session.get(Subscription, sid))
    subscriptions_changed(session, {sid: {"status": S.PAUSED.value} for sid in moved}, now=now)
    invoice_ids = issue_renewal_invoices(session, items, now=now)
    for sub in (session.get(Subscription, sid) for sid in moved):
        record_event(
            session, merchant_id=sub.merchant_id, type="subscription.resumed", obj=SubscriptionObject.of(sub), now=now
        )
        audit(
            session,
            merchant_id=sub.merchant_id,
            subscriber_id=sub.subscriber_id,
            actor=actor,
            kind="subscription_resumed",
            detail={"subscription_id": sub.id, "anchor_at": sub.anchor_at, "early": actor != "system"},
            now=now,
        )
        _email(session, sub, session.get(Plan, sub.plan_id), "subscription_resumed", now=now)
    return invoice_ids


_TERM_COLUMNS = (
    "plan_id",
    "pending_plan_id",
    "credit_minor",
    "discount_kind",
    "discount_value",
    "discount_cycles_left",
)


def _has_open_invoice(session: Session, subscription_id: int) -> bool:
    return (
        session.execute(
            sa.select(Invoice.id).where(Invoice.subscription_id == subscription_id, Invoice.status == I.OPEN).limit(1)
        ).first()
        is not None
    )


def _report_update(session: Session, sub: Subscription, previous: dict, *, now: datetime) -> None:
    record_event(
        session,
        merchant_id=sub.merchant_id,
        type="subscription.updated",
        obj=SubscriptionObject.of(sub),
        previous_attributes=previous,
        now=now,
    )


def _email(session: Session, sub: Subscription, plan: Plan, kind: str, *, now: datetime) -> None:
    context = {"plan_name": plan.name, "amount": Money(plan.amount_minor, plan.currency)}
    if kind == "subscription_paused":
        context |= {"pause_starts": sub.pause_starts_at, "resume_at": sub.resume_at}
    else:
        context |= {"next_renewal": sub.current_period_end}
    send_subscriber_email(
        session,
        merchant=session.get(Merchant, sub.merchant_id),
        subscriber=session.get(Subscriber, sub.subscriber_id),
        kind=kind,
        context=context,
        now=now,
    )
