"""The billing run: settle unknown payments, renew due subscriptions, retry failed invoices, warn
about expiring cards. `python -m portal_app.billing run` and the in-app ticker call run_billing, each
holding the cluster-wide runner lock (cluster_lock.py) so that one runner works at a time.

Safe to repeat and to run twice at once: renewals pick subscriptions whose period has ended and
advance them in the same transaction that issues the invoice (a second run with the same `now`
finds nothing due; a concurrent one skips the locked rows), and every charge goes through the
claim protocol in payments.py. Work is done in batches of a few statements each, so 100k due
subscriptions cost a few hundred transactions, not a few hundred thousand.

A run can be asked to stop (`should_stop`, checked between batches and between phases): it finishes
the batch in hand (claimed, charged, recorded) and returns with `stopped` set; the next run does the rest.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit_rows
from portal_app.billing.card_expiry import send_card_expiring_emails
from portal_app.billing.emails.outbox import deliver_queued_emails
from portal_app.billing.gateways.base import PaymentGateway
from portal_app.billing.pauses import run_due as run_due_pauses
from portal_app.billing.payments.attempts import ChargeInvoiceResult, PaymentOutcome
from portal_app.billing.payments.charging import charge_claims, charge_invoices, claim_invoices
from portal_app.billing.payments.declines import NO_PAYMENT_METHOD
from portal_app.billing.payments.refunding import settle_unknown_refunds
from portal_app.billing.payments.refunds import refund_held_charges
from portal_app.billing.payments.settlement import settle_unknown_attempts
from portal_app.billing.plan_changes import mark_scheduled_changes_applied
from portal_app.billing.renewal_invoices import RenewalInvoice, issue_renewal_invoices
from portal_app.billing.renewal_terms import renewal_terms
from portal_app.billing.statuses import RENEWING_STATUSES, Ending, InvoiceStatus, SubscriptionStatus, end_subscriptions
from portal_app.billing.trials import send_trial_reminders
from portal_app.billing.webhooks_out.delivery import deliver_webhooks
from portal_app.db import is_postgres, new_session
from portal_app.models import (
    AuditEvent,
    Invoice,
    Merchant,
    Plan,
    Subscriber,
    Subscription,
)

S, I = SubscriptionStatus, InvoiceStatus

BATCH_SIZE = 1000

Progress = Callable[[str, int, int], None]  # (phase, done, total)
ShouldStop = Callable[[], bool]  # e.g. threading.Event().is_set: asked between batches


def _never() -> bool:
    return False


@dataclasses.dataclass
class RunSummary:
    now: datetime
    settled: int = 0
    renewed: int = 0
    ended: int = 0
    invoices_created: int = 0
    retries: int = 0
    charges_attempted: int = 0
    charges_succeeded: int = 0
    charges_declined: int = 0
    charges_requires_action: int = 0
    charges_unknown: int = 0
    charges_not_sent: int = 0  # nothing to charge (no card on file): our failure, no gateway call
    charges_in_review: int = 0  # outcomes only a merchant can settle (payments/review.py)
    card_expiring_emails: int = 0
    emails_sent: int = 0
    webhooks_delivered: int = 0
    elapsed_seconds: float = 0.0
    stopped: bool = False  # asked to stop: the batches left are the next run's

    def count(self, results: list[ChargeInvoiceResult]) -> None:
        for result in results:
            if result.outcome is PaymentOutcome.IN_REVIEW:
                self.charges_in_review += 1
                continue
            if result.attempt_id is None:
                continue  # not ours to charge (paid meanwhile, or another worker has it)
            if result.decline_code == NO_PAYMENT_METHOD:
                self.charges_not_sent += 1
                continue
            self.charges_attempted += 1
            if result.outcome is PaymentOutcome.SUCCEEDED:
                self.charges_succeeded += 1
            elif result.outcome is PaymentOutcome.REQUIRES_ACTION:
                self.charges_requires_action += 1
            elif result.outcome is PaymentOutcome.UNKNOWN:
                self.charges_unknown += 1
            else:
                self.charges_declined += 1

    def as_text(self) -> str:
        return (
            f"renewed {self.renewed}, ended {self.ended}, invoices {self.invoices_created}, "
            f"retries {self.retries}, charges {self.charges_attempted} "
            f"(succeeded {self.charges_succeeded}, declined {self.charges_declined}, "
            f"3DS {self.charges_requires_action}, unknown {self.charges_unknown}), "
            f"not sent (no card) {self.charges_not_sent}, in review {self.charges_in_review}, "
            f"settled {self.settled}, card-expiry emails {self.card_expiring_emails}, "
            f"emails sent {self.emails_sent}, webhooks delivered {self.webhooks_delivered} "
            f"in {self.elapsed_seconds:.2f}s" + ("; stopped early, the next run does the rest" if self.stopped else "")
        )


def run_billing(
    engine: sa.Engine,
    *,
    now: datetime,
    gateway: PaymentGateway,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    should_stop: ShouldStop | None = None,
) -> RunSummary:
    """One billing run at `now`; returns what it did. Repeating it with the same `now` does nothing new.

    `should_stop` is asked before each phase and each batch; once it answers True the run returns
    (summary.stopped) without starting anything new. Nothing is left half-done: a batch's claims are
    charged and recorded before the question is asked again."""
    started = time.perf_counter()
    summary = RunSummary(now=now)
    stop = should_stop or _never
    phases = (
        lambda: _settle(engine, summary, gateway=gateway),
        # Held before a crash kept them from their refund.
        lambda: refund_held_charges(engine, gateway=gateway, now=now),
        lambda: summary.count(run_due_pauses(engine, gateway=gateway, now=now)),  # begin and end pauses
        lambda: settle_unknown_refunds(engine, gateway=gateway, now=now),  # refunds that got no answer
        lambda: _renew_due(engine, summary, gateway=gateway, progress=progress, batch_size=batch_size, stop=stop),
        lambda: _retry_due(engine, summary, gateway=gateway, progress=progress, batch_size=batch_size, stop=stop),
        lambda: setattr(summary, "card_expiring_emails", send_card_expiring_emails(engine, now=now)),
        lambda: send_trial_reminders(engine, now=now),
        # Receipts and notices were queued inside the run's transactions; SMTP happens after them.
        lambda: setattr(summary, "emails_sent", deliver_queued_emails(engine, limit=100_000)),
        # The run's events (invoices finalized and paid, subscriptions ended) go out after its commits.
        lambda: setattr(summary, "webhooks_delivered", deliver_webhooks(engine).delivered),
    )
    for phase in phases:
        if stop():
            summary.stopped = True
            break
        phase()
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def _settle(engine: sa.Engine, summary: RunSummary, *, gateway: PaymentGateway) -> None:
    settled = settle_unknown_attempts(engine, gateway=gateway, now=summary.now)
    summary.settled = settled.succeeded + settled.failed
    summary.charges_in_review += settled.review


# --- renewals --------------------------------------------------------------------------------


def _due_filter(now: datetime):
    return (
        Subscription.status.in_(sorted(RENEWING_STATUSES)),
        Subscription.deleted_at.is_(None),
        Subscription.current_period_end <= now,
    )


def count_due_renewals(engine: sa.Engine, *, now: datetime) -> int:
    with new_session(engine) as session:
        return session.execute(
            sa.select(sa.func.count()).select_from(Subscription).where(*_due_filter(now))
        ).scalar_one()


def _renew_due(
    engine: sa.Engine,
    summary: RunSummary,
    *,
    gateway: PaymentGateway,
    progress: Progress | None,
    batch_size: int,
    stop: ShouldStop,
) -> None:
    total = count_due_renewals(engine, now=summary.now) if progress else 0
    plans: dict[int, Plan] = {}
    merchants: dict[int, Merchant] = {}
    after_id, done = 0, 0
    while True:
        if stop():  # between batches: the last one is claimed, charged and recorded
            summary.stopped = True
            break
        with new_session(engine) as session, session.begin():
            due = _lock_due(session, now=summary.now, after_id=after_id, limit=batch_size)
            if not due:
                break
            after_id = due[-1].id
            _load_missing(session, Plan, plans, {row.plan_id for row in due} | _pending_plans(due))
            _load_missing(session, Merchant, merchants, {row.merchant_id for row in due})
            ending = [row for row in due if row.cancel_at_period_end]
            renewing = [row for row in due if not row.cancel_at_period_end]
            _end_at_period_end(session, ending, now=summary.now)
            invoice_ids = _advance_and_invoice(session, renewing, plans, merchants, now=summary.now)
            claims, _ = claim_invoices(
                session, invoice_ids, merchant_id=None, trigger="renewal", gateway_name=gateway.name, now=summary.now
            )
        # Committed: the periods, invoices and claims exist together. Now the gateway, then outcomes.
        summary.ended += len(ending)
        summary.renewed += len(renewing)
        summary.invoices_created += len(invoice_ids)
        summary.count(charge_claims(engine, claims, gateway=gateway, now=summary.now))
        done += len(due)
        if progress:
            progress("renewals", done, max(total, done))


def _load_missing(session: Session, model, cache: dict, ids: set[int]) -> None:
    missing = ids - cache.keys()
    if missing:
        for row in session.exec(select(model).where(model.id.in_(missing))):
            session.expunge(row)
            cache[row.id] = row


def _pending_plans(rows: list) -> set[int]:
    return {row.pending_plan_id for row in rows if row.pending_plan_id is not None}


def _lock_due(session: Session, *, now: datetime, after_id: int, limit: int) -> list:
    """The next batch of due subscriptions by id, locked (PostgreSQL skips rows another run holds)."""
    stmt = (
        sa.select(
            Subscription.id,
            Subscription.merchant_id,
            Subscription.subscriber_id,
            Subscription.plan_id,
            Subscription.status,
            Subscription.anchor_at,
            Subscription.period_index,
            Subscription.current_period_end,
            Subscription.cancel_at_period_end,
            Subscription.pending_plan_id,
            Subscription.credit_minor,
            Subscription.discount_kind,
            Subscription.discount_value,
            Subscription.discount_cycles_left,
        )
        .where(*_due_filter(now), Subscription.id > after_id)
        .order_by(Subscription.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return list(session.execute(stmt).all())


def _end_at_period_end(session: Session, rows: list, *, now: datetime) -> None:
    """Cancellations scheduled for the period end take effect: canceled, ended at the period end."""
    if not rows:
        return
    end_subscriptions(session, [Ending(row.id, row.status, row.current_period_end, at_period_end=True) for row in rows])
    session.execute(
        sa.insert(AuditEvent.__table__),
        audit_rows(
            [
                {
                    "merchant_id": row.merchant_id,
                    "subscriber_id": row.subscriber_id,
                    "actor": "system",
                    "kind": "subscription_ended",
                    "detail": {"subscription_id": row.id, "ended_at": row.current_period_end},
                    "created_at": now,
                }
                for row in rows
            ]
        ),
    )


def _advance_and_invoice(
    session: Session, rows: list, plans: dict[int, Plan], merchants: dict[int, Merchant], *, now: datetime
) -> list[int]:
    """Move each subscription to its next period (computed from the anchor) and invoice that period,
    on the terms renewal_terms gives (a scheduled plan change, a discount, credit)."""
    if not rows:
        return []
    table = Subscription.__table__
    moved = (
        "plan_id",
        "pending_plan_id",
        "anchor_at",
        "credit_minor",
        "discount_kind",
        "discount_value",
        "discount_cycles_left",
    )
    updates, terms = [], []
    for row in rows:
        term = renewal_terms(row, plans)
        updates.append(
            {
                "b_id": row.id,
                "b_old": row.period_index,
                "b_index": term.updates["period_index"],
                "b_start": term.period_start,
                "b_end": term.period_end,
                **{f"b_{column}": term.updates.get(column, getattr(row, column)) for column in moved},
            }
        )
        terms.append(term)
    # The WHERE on the old index makes the advance happen once even if two runs raced past the lock.
    advanced = session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.period_index == sa.bindparam("b_old"))
        .values(
            period_index=sa.bindparam("b_index"),
            current_period_start=sa.bindparam("b_start"),
            current_period_end=sa.bindparam("b_end"),
            **{column: sa.bindparam(f"b_{column}") for column in moved},
        ),
        updates,
    ).rowcount
    if advanced != len(rows):
        raise RuntimeError(f"advanced {advanced} of {len(rows)} locked subscriptions")
    mark_scheduled_changes_applied(session, [row.id for row in rows if row.pending_plan_id is not None], now=now)
    sub_cols = (
        Subscriber.id,
        Subscriber.name,
        Subscriber.email,
        Subscriber.language,
        Subscriber.billing_name,
        Subscriber.billing_address,
        Subscriber.tax_id,
    )
    subscribers = {
        row.id: row
        for row in session.execute(sa.select(*sub_cols).where(Subscriber.id.in_({r.subscriber_id for r in rows})))
    }
    items = [
        RenewalInvoice(
            subscription_id=row.id,
            subscriber=subscribers[row.subscriber_id],
            merchant=merchants[row.merchant_id],
            plan=plans[term.plan_id],
            period_start=term.period_start,
            period_end=term.period_end,
            lines=term.lines,
        )
        for row, term in zip(rows, terms)
    ]
    return issue_renewal_invoices(session, items, now=now)


# --- retries ---------------------------------------------------------------------------------


def _retry_due(
    engine: sa.Engine,
    summary: RunSummary,
    *,
    gateway: PaymentGateway,
    progress: Progress | None,
    batch_size: int,
    stop: ShouldStop,
) -> None:
    """Charge open invoices whose dunning retry is due (nobody else charging them)."""
    due = (
        Invoice.status == I.OPEN,
        Invoice.next_retry_at.is_not(None),
        Invoice.next_retry_at <= summary.now,
        Invoice.charging_attempt_id.is_(None),
    )
    with new_session(engine) as session:
        total = (
            session.execute(sa.select(sa.func.count()).select_from(Invoice).where(*due)).scalar_one() if progress else 0
        )
    after_id, done = 0, 0
    while True:
        if stop():  # between batches: the last one is claimed, charged and recorded
            summary.stopped = True
            break
        with new_session(engine) as session:
            ids = list(
                session.execute(
                    sa.select(Invoice.id).where(*due, Invoice.id > after_id).order_by(Invoice.id).limit(batch_size)
                ).scalars()
            )
        if not ids:
            break
        after_id = ids[-1]
        results = charge_invoices(engine, ids, merchant_id=None, trigger="retry", gateway=gateway, now=summary.now)
        summary.retries += sum(1 for r in results if r.attempt_id is not None)
        summary.count(results)
        done += len(ids)
        if progress:
            progress("retries", done, max(total, done))
