"""Status enums (Stripe's names), the only legal moves between them, which statuses renew, and what
entering an end status does to a subscription.

Nothing assigns a status field directly: call transition(obj, new_status), or end_subscription(s).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session

from portal_app.billing.webhooks_out.events import status_changed, subscriptions_changed
from portal_app.models import Invoice, Subscription


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    INCOMPLETE = "incomplete"
    # No service and no invoices until it resumes (billing/pauses.py); dunning skips it.
    PAUSED = "paused"


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


class AttemptStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REQUIRES_ACTION = "requires_action"
    UNKNOWN = "unknown"
    # The outcome can no longer be learned safely (the idempotency key expired, or the gateway reports a
    # charge that does not match the attempt): a merchant decides; its invoice is never charged again
    # automatically (payments/charging.py claims skip it).
    REVIEW = "review"
    REFUNDED = "refunded"  # the money moved but could not apply (payments/refunds.py), and went back


class RefundStatus(StrEnum):
    """A refund of (part of) a paid invoice's charge (payments/refunding.py)."""

    PENDING = "pending"  # written, the gateway not asked yet (or no answer recorded yet)
    SUCCEEDED = "succeeded"  # the money goes back; a credit note documents it
    FAILED = "failed"
    UNKNOWN = "unknown"  # asked, no answer: settled by replaying the same key, never by a new refund


S, I, A, R = SubscriptionStatus, InvoiceStatus, AttemptStatus, RefundStatus

# Statuses that renew: at the period end the billing run invoices the next period, and service goes on
# meanwhile (past_due too: dunning works on the open invoice). trialing too: its period ends at
# trial_end, where the run issues and charges the first invoice (billing/trials.py).
RENEWING_STATUSES = frozenset({S.ACTIVE, S.PAST_DUE, S.TRIALING})


def renews(status: str) -> bool:
    """Whether a subscription in this status is renewed by the billing run at its period end."""
    return status in RENEWING_STATUSES


ALLOWED_TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    SubscriptionStatus: {
        S.INCOMPLETE: frozenset({S.ACTIVE, S.TRIALING, S.CANCELED}),
        S.TRIALING: frozenset({S.ACTIVE, S.PAST_DUE, S.CANCELED}),
        S.ACTIVE: frozenset({S.PAST_DUE, S.CANCELED, S.PAUSED}),
        S.PAUSED: frozenset({S.ACTIVE, S.CANCELED}),
        # past_due -> active when a retry or a new card pays; -> unpaid/canceled after the last try
        S.PAST_DUE: frozenset({S.ACTIVE, S.UNPAID, S.CANCELED}),
        S.UNPAID: frozenset({S.ACTIVE, S.CANCELED}),
        S.CANCELED: frozenset(),
    },
    InvoiceStatus: {
        I.DRAFT: frozenset({I.OPEN, I.VOID}),
        I.OPEN: frozenset({I.PAID, I.VOID, I.UNCOLLECTIBLE}),
        # A late payment of an invoice written off still settles it.
        I.UNCOLLECTIBLE: frozenset({I.PAID, I.VOID}),
        I.PAID: frozenset(),
        I.VOID: frozenset(),
    },
    AttemptStatus: {
        A.PENDING: frozenset({A.SUCCEEDED, A.FAILED, A.REQUIRES_ACTION, A.UNKNOWN, A.REVIEW}),
        A.REQUIRES_ACTION: frozenset({A.SUCCEEDED, A.FAILED, A.UNKNOWN, A.REVIEW}),
        # An unknown outcome is settled by asking the gateway under the same key, never by charging
        # with a new one; past the key's lifetime it goes to review.
        A.UNKNOWN: frozenset({A.SUCCEEDED, A.FAILED, A.REVIEW}),
        # A review ends when a fact or a person says what happened, or when money that moved but cannot
        # pay its invoice went back (payments/refunds.py).
        A.REVIEW: frozenset({A.SUCCEEDED, A.FAILED, A.REFUNDED}),
        A.SUCCEEDED: frozenset(),
        # A late success (a 3DS challenge finished in a stale tab after it had failed): the money moved.
        A.FAILED: frozenset({A.SUCCEEDED, A.REVIEW}),
        A.REFUNDED: frozenset(),
    },
    RefundStatus: {
        R.PENDING: frozenset({R.SUCCEEDED, R.FAILED, R.UNKNOWN}),
        R.UNKNOWN: frozenset({R.SUCCEEDED, R.FAILED}),
        R.SUCCEEDED: frozenset(),
        R.FAILED: frozenset(),
    },
}


class InvalidTransition(ValueError):
    def __init__(self, kind: str, current: str, new: str):
        super().__init__(f"{kind}: {current} -> {new} is not allowed")
        self.kind, self.current, self.new = kind, current, new


def can_transition(enum: type[StrEnum], current: str, new: str) -> bool:
    return enum(new) in ALLOWED_TRANSITIONS[enum][enum(current)]


def check_transition(enum: type[StrEnum], current: str, new: str) -> None:
    if not can_transition(enum, current, new):
        raise InvalidTransition(enum.__name__, current, new)


_ENUM_BY_TABLE = {
    "subscription": SubscriptionStatus,
    "invoice": InvoiceStatus,
    "payment_attempt": AttemptStatus,
    "refund": RefundStatus,
}


def transition(obj, new_status: StrEnum | str) -> None:
    """Set obj.status to new_status if the table allows it; raise InvalidTransition otherwise.

    The move is reported in the same transaction (webhooks_out/events.py): a subscription's
    subscription.updated (+ .canceled), an invoice's finalized/paid, a failed attempt's
    invoice.payment_failed. So callers finish the row's other columns before calling this."""
    enum = _ENUM_BY_TABLE[obj.__tablename__]
    check_transition(enum, obj.status, new_status)
    previous = obj.status
    obj.status = enum(new_status).value
    status_changed(obj, previous)


def is_ended(sub: Subscription) -> bool:
    """Canceled or deleted: no service, no renewal, no more dunning."""
    return sub.status == S.CANCELED or sub.deleted_at is not None


# --- ending: the one definition of what entering an end status does --------------------------


@dataclasses.dataclass(frozen=True)
class Ending:
    """One subscription to end: its id, the status it is in now, when it ends, and whether that is the
    period-end cancellation it was scheduled for (the flag then stays, as Stripe's does)."""

    subscription_id: int
    status: str
    ended_at: datetime
    at_period_end: bool = False


def end_subscription(
    session: Session, sub: Subscription, *, status: SubscriptionStatus = S.CANCELED, now: datetime, reason: str = ""
) -> None:
    """End one subscription at `now` (see end_subscriptions); `sub` is flushed first and reloaded after."""
    session.flush()
    end_subscriptions(session, [Ending(sub.id, sub.status, now)], status=status, reason=reason)
    session.refresh(sub)


def end_subscriptions(
    session: Session, endings: Sequence[Ending], *, status: SubscriptionStatus = S.CANCELED, reason: str = ""
) -> None:
    """Move subscriptions into an end status, with what that status entails.

    canceled: ended at each ending's instant, canceled then unless it was before, nothing scheduled any
      more, `reason` kept unless one was given before, and no more retries: the open invoices stay
      payable in the portal but are not charged again.
    unpaid: the status alone; its open invoices stay open, and paying them restores the subscription.
    Audit rows and emails belong to the cause (cancel, delete, the run, dunning), written there.
    """
    if not endings:
        return
    status = SubscriptionStatus(status)
    for current in {ending.status for ending in endings}:
        check_transition(SubscriptionStatus, current, status)
    table = Subscription.__table__
    values: dict[str, object] = {"status": status.value}
    if status == S.CANCELED:
        ended_at = sa.bindparam("b_end", type_=table.c.ended_at.type)
        values |= {
            "ended_at": ended_at,
            "canceled_at": sa.func.coalesce(table.c.canceled_at, ended_at),
            "cancel_at_period_end": sa.bindparam("b_at_period_end"),
        }
        if reason:
            values["cancellation_reason"] = sa.case(
                (table.c.cancellation_reason == "", reason), else_=table.c.cancellation_reason
            )
    ended = session.execute(
        sa.update(table)
        .where(table.c.id == sa.bindparam("b_id"), table.c.status == sa.bindparam("b_status"))
        .values(values),
        [
            {"b_id": e.subscription_id, "b_status": e.status, "b_end": e.ended_at, "b_at_period_end": e.at_period_end}
            for e in endings
        ],
    ).rowcount
    if ended != len(endings):
        raise RuntimeError(f"ended {ended} of {len(endings)} locked subscriptions")
    # subscription.updated (+ .canceled) for each, in bulk, in this transaction.
    subscriptions_changed(session, {e.subscription_id: {"status": e.status} for e in endings})
    if status == S.CANCELED:
        invoice = Invoice.__table__
        session.execute(
            sa.update(invoice)
            .where(
                invoice.c.subscription_id.in_([e.subscription_id for e in endings]),
                invoice.c.status == I.OPEN.value,
            )
            .values(next_retry_at=None)
        )
