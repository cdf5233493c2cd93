"""Plan changes: preview (plan_change_preview.py) and apply an upgrade or a downgrade of a running
subscription, and undo a scheduled one.

Rules (money in integer minor units of the plans' one currency, prorated by billing/proration.py):
- Upgrade or downgrade is decided by the price per day (monthly <-> yearly compares fairly).
- An upgrade takes effect now. Same interval: the period stays; the invoice credits the old plan's
  unused days ("Unused time on X", negative) and charges the new plan's remaining days ("Remaining
  time on Y"). Another interval: the period restarts now (new anchor); the invoice credits the old
  plan's unused days and charges the new plan's full period.
- A positive total is finalized (gapless number, invoices.finalize_invoice) and, after the commit,
  charged at once through payments/charging.py (PaymentAttempt first, its id the idempotency key;
  trigger "renewal"). If that charge fails the plan STAYS changed and the invoice follows normal
  dunning (past_due, retries on the merchant's schedule, then its end state), as a renewal's does:
  service on the new plan has begun, and undoing it would need a second proration. A total of zero or
  less issues no invoice: what is owed back becomes Subscription.credit_minor, which the next
  renewals take off (renewal_terms.py). Credit the subscriber already had is left for the renewal.
- A downgrade follows Merchant.downgrade_timing: at the period end (pending_plan_id; the renewal bills
  the new plan and moves the anchor if the interval differs; undo possible until then) or immediately
  (as an upgrade is applied, but the unused difference is credit: never a refund).
- Refused (PlanChangeRefused with a code): a target the merchant does not offer from this plan
  (PlanSwitch), another currency, a subscription that is not active (canceled, ending, past due,
  unpaid, incomplete, paused, trialing), one with an open invoice, or whose renewal is due.
- The subscription row is locked (SELECT ... FOR UPDATE; SQLite serializes writers), and the checks
  run on the locked row: a double submit finds the first change made and is refused ("same_plan" or
  "already_scheduled"), so it gives one change, one invoice, one charge.
Each change writes a PlanChange row, an audit event, the "plan_changed" email and a
`subscription.updated` event whose previous_attributes carry the previous plan id.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.audit import audit
from portal_app.billing.errors import NotAllowed
from portal_app.billing.invoices import add_invoice_line, finalize_invoice
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.objects import SubscriptionObject
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.plan_change_preview import (
    PERIOD_END,
    PlanChangePreview,
    PlanChangeRefused,
    check_changeable,
    compute_preview,
    preview_change,
)
from portal_app.billing.statuses import InvoiceStatus
from portal_app.billing.tenancy import get_scoped, row_id
from portal_app.billing.webhooks_out.events import record_event
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, Plan, PlanChange, Subscriber, Subscription

__all__ = [
    "PlanChangePreview",
    "PlanChangeRefused",
    "PlanChangeResult",
    "cancel_scheduled_change",
    "change_plan",
    "change_plan_and_charge",
    "mark_scheduled_changes_applied",
    "preview_change",
]

APPLIED, SCHEDULED, CANCELED = "applied", "scheduled", "canceled"


@dataclasses.dataclass(frozen=True)
class PlanChangeResult:
    preview: PlanChangePreview
    plan_change_id: int
    invoice_id: int | None  # the prorated invoice to charge after the commit (None: nothing owed today)
    invoice_number: str = ""


@dataclasses.dataclass(frozen=True)
class PlanChangeOutcome:
    """A change applied and committed, and the charge of its invoice (None when nothing was owed)."""

    result: PlanChangeResult
    charge: ChargeInvoiceResult | None


def change_plan(
    session: Session, sub: Subscription | int, target_plan: Plan | int, now: datetime, actor: str, *, merchant_id: int
) -> PlanChangeResult:
    """Apply the change in the caller's transaction (see the module rules). The prorated invoice, if
    any, is finalized here and charged by the caller after committing (change_plan_and_charge)."""
    sub = get_scoped(session, Subscription, row_id(sub), merchant_id, for_update=True)
    target = get_scoped(session, Plan, row_id(target_plan), merchant_id)
    plan = check_changeable(session, sub, target, now)
    merchant = session.get(Merchant, merchant_id)
    preview = compute_preview(sub, plan, target, downgrade_timing=merchant.downgrade_timing, now=now)
    _cancel_scheduled_rows(session, sub.id)
    if preview.timing == PERIOD_END:
        previous = {"pending_plan_id": sub.pending_plan_id}
        sub.pending_plan_id = target.id
        invoice = None
    else:
        previous = {"plan_id": plan.id}
        if (sub.current_period_start, sub.current_period_end) != (preview.period_start, preview.period_end):
            previous |= {
                "current_period_start": sub.current_period_start,
                "current_period_end": sub.current_period_end,
            }
            sub.anchor_at, sub.period_index = preview.period_start, 0
            sub.current_period_start, sub.current_period_end = preview.period_start, preview.period_end
        sub.plan_id, sub.pending_plan_id = target.id, None
        sub.credit_minor += preview.credit_added.amount_minor
        invoice = _prorated_invoice(session, sub, preview, now=now) if preview.net_minor > 0 else None
    session.add(sub)
    session.flush()
    change = PlanChange(
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        subscription_id=sub.id,
        from_plan_id=plan.id,
        to_plan_id=target.id,
        timing=preview.timing,
        status=SCHEDULED if preview.timing == PERIOD_END else APPLIED,
        charge_minor=preview.charge_minor,
        credit_minor=preview.credit_minor,
        currency=preview.currency,
        invoice_id=invoice.id if invoice else None,
        actor=actor,
        created_at=now,
        effective_at=preview.effective_at,
    )
    session.add(change)
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
        kind="plan_change_scheduled" if preview.timing == PERIOD_END else "plan_changed",
        detail={
            "subscription_id": sub.id,
            "plan_change_id": change.id,
            "from_plan_id": plan.id,
            "to_plan_id": target.id,
            "timing": preview.timing,
            "charge_minor": preview.charge_minor,
            "credit_minor": preview.credit_minor,
            "invoice": invoice.number if invoice else None,
            "effective_at": preview.effective_at,
        },
        now=now,
    )
    _email(session, merchant, sub, preview, invoice, now=now)
    return PlanChangeResult(preview, change.id, invoice.id if invoice else None, invoice.number if invoice else "")


def _prorated_invoice(session: Session, sub: Subscription, preview: PlanChangePreview, *, now: datetime) -> Invoice:
    """The finalized invoice of an immediate change: its two proration lines, numbered now."""
    invoice = Invoice(
        merchant_id=sub.merchant_id,
        subscriber_id=sub.subscriber_id,
        subscription_id=sub.id,
        status=InvoiceStatus.DRAFT,
        currency=preview.currency,
        period_start=now,
        period_end=preview.period_end,
        created_at=now,
    )
    session.add(invoice)
    session.flush()
    for line in preview.lines:
        add_invoice_line(
            session,
            invoice.id,
            merchant_id=sub.merchant_id,
            description=line.description,
            unit_amount_minor=line.amount_minor,
        )
    return finalize_invoice(session, invoice.id, merchant_id=sub.merchant_id, now=now)


def _email(
    session: Session,
    merchant: Merchant,
    sub: Subscription,
    preview: PlanChangePreview,
    invoice: Invoice | None,
    *,
    now: datetime,
) -> None:
    context = {
        "plan_name": preview.to_plan_name,
        "previous_plan": preview.from_plan_name,
        "effective": preview.effective_at,
        "scheduled": preview.timing == PERIOD_END,
        "next_renewal": preview.next_renewal_at,
        "next_amount": preview.next_renewal_amount,
    }
    if invoice is not None:
        context["amount_due"] = Money(invoice.total_minor, invoice.currency)
        context["invoice_number"] = invoice.number
    if preview.credit_added.amount_minor:
        context["credit"] = preview.credit_added
    send_subscriber_email(
        session,
        merchant=merchant,
        subscriber=session.get(Subscriber, sub.subscriber_id),
        kind="plan_changed",
        context=context,
        now=now,
    )


def _cancel_scheduled_rows(session: Session, subscription_id: int) -> int:
    table = PlanChange.__table__
    return session.execute(
        sa.update(table)
        .where(table.c.subscription_id == subscription_id, table.c.status == SCHEDULED)
        .values(status=CANCELED)
    ).rowcount


def cancel_scheduled_change(
    session: Session, sub: Subscription | int, *, merchant_id: int, actor: str, now: datetime
) -> Subscription:
    """Undo a downgrade scheduled for the period end (possible until the renewal applies it)."""
    sub = get_scoped(session, Subscription, row_id(sub), merchant_id, for_update=True)
    if sub.pending_plan_id is None:
        raise NotAllowed("There is no scheduled plan change to undo.", code="nothing_scheduled")
    pending, sub.pending_plan_id = sub.pending_plan_id, None
    _cancel_scheduled_rows(session, sub.id)
    session.add(sub)
    session.flush()
    record_event(
        session,
        merchant_id=merchant_id,
        type="subscription.updated",
        obj=SubscriptionObject.of(sub),
        previous_attributes={"pending_plan_id": pending},
        now=now,
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=sub.subscriber_id,
        actor=actor,
        kind="plan_change_undone",
        detail={"subscription_id": sub.id, "to_plan_id": pending},
        now=now,
    )
    return sub


def mark_scheduled_changes_applied(session: Session, subscription_ids: list[int], *, now: datetime) -> None:
    """A billing run renewed these subscriptions onto their scheduled plans: the changes are applied."""
    if not subscription_ids:
        return
    table = PlanChange.__table__
    for start in range(0, len(subscription_ids), 1000):
        session.execute(
            sa.update(table)
            .where(table.c.subscription_id.in_(subscription_ids[start : start + 1000]), table.c.status == SCHEDULED)
            .values(status=APPLIED)
        )


def change_plan_and_charge(
    engine: sa.Engine, *, merchant_id: int, subscription_id: int, plan_id: int, actor: str, gateway, now: datetime
) -> PlanChangeOutcome:
    """Apply the change and commit; then charge its prorated invoice, if any, with the default card.

    The gateway call runs outside the transaction (like every charge): a decline leaves the plan
    changed and the invoice open for dunning."""
    with new_session(engine) as session, session.begin():
        result = change_plan(session, subscription_id, plan_id, now, actor, merchant_id=merchant_id)
    if result.invoice_id is None:
        return PlanChangeOutcome(result, None)
    charge = charge_invoice(
        engine, result.invoice_id, merchant_id=merchant_id, trigger="renewal", gateway=gateway, now=now
    )
    return PlanChangeOutcome(result, charge)
