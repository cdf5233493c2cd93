"""Console dashboard: MRR per currency, status counts, recovered revenue, cancellation reasons and
the MRR history."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import select

from portal_app import db
from portal_app.billing.facades.console.plans import money_by_currency, monthly_amount_minor
from portal_app.billing.money import Money
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus, renews
from portal_app.models import (
    Invoice,
    PaymentAttempt,
    Plan,
    Subscription,
    utcnow,
)

S, I, A = SubscriptionStatus, InvoiceStatus, AttemptStatus

CANCEL_REASON_LABELS = {
    "too_expensive": "Too expensive",
    "not_using": "Not using it",
    "missing_features": "Missing features",
    "switching": "Switching to another service",
    "other": "Other",
}


@dataclasses.dataclass(frozen=True)
class MrrPoint:
    month: str  # "2026-03"
    amount: Money


@dataclasses.dataclass(frozen=True)
class DashboardMetrics:
    mrr: list[Money]  # one per currency, largest first ([] when none)
    active: int
    past_due: int
    canceled: int
    recovered_count: int  # invoices paid this month after at least one failed attempt
    recovered: list[Money]
    needs_review: int  # open invoices whose charge only the merchant can settle (never charged automatically)
    cancellation_reasons: list[tuple[str, int]]  # (label, count), most frequent first
    mrr_history: list[MrrPoint]  # last 12 month ends, in the main currency
    deleted: int = 0  # subscriptions the merchant deleted: their own figure, never a cancellation


def _month_starts(now: datetime, months: int) -> list[datetime]:
    first = datetime(now.year, now.month, 1, tzinfo=UTC)
    out = []
    year, month = first.year, first.month
    for _ in range(months):
        out.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(out))


def _next_month(moment: datetime) -> datetime:
    return (
        moment.replace(year=moment.year + 1, month=1) if moment.month == 12 else moment.replace(month=moment.month + 1)
    )


def reason_label(reason: str) -> str:
    code = (reason or "").split(":", 1)[0].strip()
    if code in CANCEL_REASON_LABELS:
        return CANCEL_REASON_LABELS[code]
    return "Other (written reason)" if reason else "No reason given"


def dashboard_metrics(*, merchant_id: int, now: datetime | None = None, months: int = 12) -> DashboardMetrics:
    now = now or utcnow()
    with db.session_scope() as session:
        plans = {p.id: p for p in session.exec(select(Plan).where(Plan.merchant_id == merchant_id))}
        live = Subscription.deleted_at.is_(None)
        by_status: dict[str, int] = {}
        mrr: dict[str, int] = {}
        for plan_id, status, count in session.execute(
            sa.select(Subscription.plan_id, Subscription.status, sa.func.count())
            .where(Subscription.merchant_id == merchant_id, live)
            .group_by(Subscription.plan_id, Subscription.status)
        ):
            by_status[status] = by_status.get(status, 0) + count
            plan = plans.get(plan_id)
            if plan is not None and renews(status):
                mrr[plan.currency] = mrr.get(plan.currency, 0) + count * monthly_amount_minor(
                    plan.amount_minor, plan.interval, plan.interval_count
                )
        month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
        failed_before = (
            sa.select(PaymentAttempt.id)
            .where(PaymentAttempt.invoice_id == Invoice.id, PaymentAttempt.status == A.FAILED.value)
            .exists()
        )
        recovered: dict[str, int] = {}
        recovered_count = 0
        for currency, total, count in session.execute(
            sa.select(Invoice.currency, sa.func.sum(Invoice.total_minor), sa.func.count())
            .where(
                Invoice.merchant_id == merchant_id,
                Invoice.status == I.PAID.value,
                Invoice.paid_at >= month_start,
                failed_before,
            )
            .group_by(Invoice.currency)
        ):
            recovered[currency] = int(total or 0)
            recovered_count += count
        needs_review = session.execute(
            sa.select(sa.func.count(sa.distinct(PaymentAttempt.invoice_id)))
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
            .where(
                PaymentAttempt.merchant_id == merchant_id,
                PaymentAttempt.status == A.REVIEW.value,
                Invoice.status == I.OPEN.value,
            )
        ).scalar_one()
        # A deletion ends its subscription too (canceled_at = deleted_at), but nobody canceled it: it
        # is counted apart. A cancellation made before a later deletion stays a cancellation.
        reasons: dict[str, int] = {}
        for (reason,) in session.execute(
            sa.select(Subscription.cancellation_reason).where(
                Subscription.merchant_id == merchant_id,
                Subscription.canceled_at.is_not(None),
                sa.or_(Subscription.deleted_at.is_(None), Subscription.canceled_at < Subscription.deleted_at),
            )
        ):
            label = reason_label(reason)
            reasons[label] = reasons.get(label, 0) + 1
        deleted = session.execute(
            sa.select(sa.func.count())
            .select_from(Subscription)
            .where(Subscription.merchant_id == merchant_id, Subscription.deleted_at.is_not(None))
        ).scalar_one()
        main_currency = max(mrr, key=mrr.get) if mrr else (next(iter(plans.values())).currency if plans else "USD")
        history = []
        for start in _month_starts(now, months):
            at = min(_next_month(start), now)
            amount = 0
            for plan_id, count in session.execute(
                sa.select(Subscription.plan_id, sa.func.count())
                .where(
                    Subscription.merchant_id == merchant_id,
                    Subscription.created_at <= at,
                    sa.or_(Subscription.ended_at.is_(None), Subscription.ended_at > at),
                    sa.or_(Subscription.deleted_at.is_(None), Subscription.deleted_at > at),
                    Subscription.status != S.INCOMPLETE.value,
                )
                .group_by(Subscription.plan_id)
            ):
                plan = plans.get(plan_id)
                if plan is not None and plan.currency == main_currency:
                    amount += count * monthly_amount_minor(plan.amount_minor, plan.interval, plan.interval_count)
            history.append(MrrPoint(start.strftime("%Y-%m"), Money(amount, main_currency)))
        return DashboardMetrics(
            mrr=money_by_currency(mrr),
            active=by_status.get(S.ACTIVE.value, 0) + by_status.get(S.TRIALING.value, 0),
            past_due=by_status.get(S.PAST_DUE.value, 0) + by_status.get(S.UNPAID.value, 0),
            canceled=by_status.get(S.CANCELED.value, 0),
            recovered_count=recovered_count,
            recovered=money_by_currency(recovered),
            needs_review=needs_review,
            cancellation_reasons=sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
            mrr_history=history,
            deleted=deleted,
        )
