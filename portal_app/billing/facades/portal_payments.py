"""The portal's payment problem and "Pay now": what is owed and why the last charge failed, and
charging one open invoice with the card on file while the subscriber waits (the same charge path as
the retry after a card update, with the `manual` trigger so dunning's schedule is left alone)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from portal_app import db
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.billing.gateways import get_gateway
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscription_views import SubscriptionOverview
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Invoice, PaymentAttempt, Subscriber, utcnow
from portal_app.ratelimit import RateLimiter

A, I, S = AttemptStatus, InvoiceStatus, SubscriptionStatus
# Statuses whose open balance the portal asks the subscriber to fix first.
FIX_STATUSES = frozenset({S.PAST_DUE, S.UNPAID, S.INCOMPLETE})
_MAX_INVOICE_ID = 2**63 - 1
# Charges a subscriber starts by hand, per subscriber: enough to retry after calling the bank, never
# the storm of attempts on one declined card that card networks penalize (and card testers want).
pay_now_limiter = RateLimiter("pay-now", limit=5, window_seconds=3600)
TOO_MANY_ATTEMPTS = "Too many payment attempts. Please wait an hour, or use another card."


@dataclasses.dataclass(frozen=True)
class PaymentProblem:
    """A subscription waiting for money: its status, the amount open and the last decline's code."""

    status: str  # past_due | unpaid | incomplete
    amount_due: Money
    decline_code: str  # of the latest failed attempt on an open invoice ("" = none recorded)


def payment_problem(
    session: Session, overview: SubscriptionOverview | None, *, merchant_id: int, subscriber_id: int
) -> PaymentProblem | None:
    """The problem the portal leads with, or None when nothing is owed."""
    if overview is None or overview.status not in FIX_STATUSES or not overview.amount_due:
        return None
    code = session.execute(
        sa.select(PaymentAttempt.decline_code)
        .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
        .where(
            Invoice.merchant_id == merchant_id,
            Invoice.subscriber_id == subscriber_id,
            Invoice.status == I.OPEN,
            PaymentAttempt.status.in_((A.FAILED, A.REQUIRES_ACTION)),
        )
        .order_by(PaymentAttempt.id.desc())
        .limit(1)
    ).scalar()
    return PaymentProblem(overview.status, overview.amount_due, code or "")


def _invoice_id(value: object) -> int:
    """The invoice id a browser sent: a positive int (or its decimal text), else NotFound."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= _MAX_INVOICE_ID:
        raise NotFound("No such invoice.")
    return value


@calm_on_database_outage
def pay_invoice(
    *, merchant_id: int, subscriber_id: int, invoice_id: object, now: datetime | None = None
) -> ChargeInvoiceResult:
    """Charge one of the subscriber's own open invoices with the card on file, now. Another
    subscriber's invoice (or another merchant's) reads as NotFound; a paid one as ALREADY_PAID."""
    invoice_id = _invoice_id(invoice_id)
    engine = db.get_engine()
    with db.new_session(engine) as session:
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        invoice = session.get(Invoice, invoice_id)
        if invoice is None or invoice.merchant_id != merchant_id or invoice.subscriber_id != subscriber_id:
            raise NotFound("No such invoice.")
    if not pay_now_limiter.hit(f"{merchant_id}:{subscriber_id}"):
        raise BillingError(TOO_MANY_ATTEMPTS, code="rate_limited")
    return charge_invoice(
        engine, invoice_id, merchant_id=merchant_id, trigger="manual", gateway=get_gateway(), now=now or utcnow()
    )
