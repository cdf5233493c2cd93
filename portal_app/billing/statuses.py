"""Status enums (Stripe's names) and the only legal moves between them.

Nothing assigns a status field directly: call transition(obj, new_status).
"""

from __future__ import annotations

from enum import StrEnum


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    CANCELED = "canceled"
    UNPAID = "unpaid"
    INCOMPLETE = "incomplete"


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


S, I, A = SubscriptionStatus, InvoiceStatus, AttemptStatus

# Statuses that renew: at the period end the billing run invoices the next period, and service goes on
# meanwhile (past_due too: dunning works on the open invoice). trialing is not one of them: nothing
# enters trialing today (a subscription starts incomplete and turns active when its first invoice is
# paid) and the billing run never renewed it; trials, when they come, are added here and only here.
RENEWING_STATUSES = frozenset({S.ACTIVE, S.PAST_DUE})


def renews(status: str) -> bool:
    """Whether a subscription in this status is renewed by the billing run at its period end."""
    return status in RENEWING_STATUSES


ALLOWED_TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    SubscriptionStatus: {
        S.INCOMPLETE: frozenset({S.ACTIVE, S.TRIALING, S.CANCELED}),
        S.TRIALING: frozenset({S.ACTIVE, S.PAST_DUE, S.CANCELED}),
        S.ACTIVE: frozenset({S.PAST_DUE, S.CANCELED}),
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
        A.PENDING: frozenset({A.SUCCEEDED, A.FAILED, A.REQUIRES_ACTION, A.UNKNOWN}),
        A.REQUIRES_ACTION: frozenset({A.SUCCEEDED, A.FAILED, A.UNKNOWN}),
        # An unknown outcome is settled by looking the charge up, never by charging again.
        A.UNKNOWN: frozenset({A.SUCCEEDED, A.FAILED}),
        A.SUCCEEDED: frozenset(),
        A.FAILED: frozenset(),
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
}


def transition(obj, new_status: StrEnum | str) -> None:
    """Set obj.status to new_status if the table allows it; raise InvalidTransition otherwise."""
    enum = _ENUM_BY_TABLE[obj.__tablename__]
    check_transition(enum, obj.status, new_status)
    obj.status = enum(new_status).value
