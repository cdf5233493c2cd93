"""The public shape of our objects: what the REST API (api/v1) returns and what outgoing webhook
events carry, one definition for both (as Stripe's events carry its API objects).

Amounts are integer minor units with an upper-case ISO 4217 currency; times are ISO 8601 UTC.
Ids are our integer row ids. A portal URL appears only where it was just created (POST /subscribers,
POST /subscribers/{id}/portal_link): it is a credential, never listed or sent in an event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, select

from portal_app import routes
from portal_app.models import (
    CreditNote,
    Invoice,
    InvoiceLine,
    Merchant,
    PaymentMethod,
    Plan,
    Subscriber,
    Subscription,
)


class ApiObject(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanObject(ApiObject):
    object: Literal["plan"] = "plan"
    id: int
    name: str
    amount: int  # minor units per interval
    currency: str
    interval: Literal["day", "week", "month", "year"]
    interval_count: int
    cancellation_policy: Literal["not_allowed", "at_period_end", "immediately"]
    active: bool
    signup_url: str
    created: datetime

    @classmethod
    def of(cls, plan: Plan, merchant_slug: str) -> PlanObject:
        return cls(
            id=plan.id,
            name=plan.name,
            amount=plan.amount_minor,
            currency=plan.currency,
            interval=plan.interval,
            interval_count=plan.interval_count,
            cancellation_policy=plan.cancellation_policy,
            active=plan.active,
            signup_url=routes.signup_url(merchant_slug, plan.id),
            created=plan.created_at,
        )


class SubscriberObject(ApiObject):
    object: Literal["subscriber"] = "subscriber"
    id: int
    name: str
    email: str
    language: str
    created: datetime
    portal_url: str | None = None  # only in the answer that created the link

    @classmethod
    def of(cls, subscriber: Subscriber, *, portal_url: str | None = None) -> SubscriberObject:
        return cls(
            id=subscriber.id,
            name=subscriber.name,
            email=subscriber.email,
            language=subscriber.language,
            created=subscriber.created_at,
            portal_url=portal_url,
        )


class SubscriptionObject(ApiObject):
    object: Literal["subscription"] = "subscription"
    id: int
    subscriber_id: int
    plan_id: int
    status: Literal["trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "paused"]
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    canceled_at: datetime | None
    ended_at: datetime | None
    trial_end: datetime | None  # the free period's end (the first charge); kept after the trial
    pause_starts_at: datetime | None  # a pause asked for: billing stops at this period end
    resume_at: datetime | None  # a scheduled or running pause: when billing resumes
    pending_plan_id: int | None  # a downgrade scheduled for the period end
    created: datetime

    @classmethod
    def of(cls, sub: Subscription) -> SubscriptionObject:
        return cls(
            id=sub.id,
            subscriber_id=sub.subscriber_id,
            plan_id=sub.plan_id,
            status=sub.status,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            canceled_at=sub.canceled_at,
            ended_at=sub.ended_at,
            trial_end=sub.trial_end,
            pause_starts_at=sub.pause_starts_at,
            resume_at=sub.resume_at,
            pending_plan_id=sub.pending_plan_id,
            created=sub.created_at,
        )


class InvoiceLineObject(ApiObject):
    description: str
    quantity: int
    unit_amount: int
    amount: int


class InvoiceObject(ApiObject):
    object: Literal["invoice"] = "invoice"
    id: int
    number: str | None
    status: Literal["draft", "open", "paid", "void", "uncollectible"]
    subscriber_id: int
    subscription_id: int | None
    currency: str
    subtotal: int
    tax: int
    total: int
    period_start: datetime | None
    period_end: datetime | None
    finalized_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    attempt_count: int
    pdf_url: str | None  # the API's PDF of a finalized invoice (same Bearer key)
    lines: list[InvoiceLineObject]
    created: datetime

    @classmethod
    def of(cls, invoice: Invoice, lines: list[InvoiceLine]) -> InvoiceObject:
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            subscriber_id=invoice.subscriber_id,
            subscription_id=invoice.subscription_id,
            currency=invoice.currency,
            subtotal=invoice.subtotal_minor,
            tax=invoice.tax_minor,
            total=invoice.total_minor,
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            finalized_at=invoice.finalized_at,
            due_at=invoice.due_at,
            paid_at=invoice.paid_at,
            attempt_count=invoice.attempt_count,
            pdf_url=routes.api_invoice_pdf_url(invoice.id) if invoice.finalized_at is not None else None,
            lines=[
                InvoiceLineObject(
                    description=line.description,
                    quantity=line.quantity,
                    unit_amount=line.unit_amount_minor,
                    amount=line.amount_minor,
                )
                for line in lines
            ],
            created=invoice.created_at,
        )


class PaymentMethodObject(ApiObject):
    object: Literal["payment_method"] = "payment_method"
    id: int
    subscriber_id: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    created: datetime

    @classmethod
    def of(cls, pm: PaymentMethod) -> PaymentMethodObject:
        return cls(
            id=pm.id,
            subscriber_id=pm.subscriber_id,
            brand=pm.brand,
            last4=pm.last4,
            exp_month=pm.exp_month,
            exp_year=pm.exp_year,
            created=pm.created_at,
        )


class CreditNoteObject(ApiObject):
    """A credit note: (part of) a paid invoice refunded; the invoice itself never changes."""

    object: Literal["credit_note"] = "credit_note"
    id: int
    number: str
    invoice_id: int
    subscriber_id: int
    currency: str
    subtotal: int
    tax: int
    total: int
    reason: str
    issued_at: datetime

    @classmethod
    def of(cls, note: CreditNote) -> CreditNoteObject:
        return cls(
            id=note.id,
            number=note.number,
            invoice_id=note.invoice_id,
            subscriber_id=note.subscriber_id,
            currency=note.currency,
            subtotal=note.subtotal_minor,
            tax=note.tax_minor,
            total=note.total_minor,
            reason=note.reason,
            issued_at=note.issued_at,
        )


class RefundObject(ApiObject):
    """A refund of (part of) a paid invoice. succeeded: its credit note is issued; unknown: the payment
    processor did not answer yet (settled by the next billing run, never refunded twice); failed: why."""

    object: Literal["refund"] = "refund"
    id: int
    invoice_id: int
    amount: int
    currency: str
    status: Literal["pending", "succeeded", "failed", "unknown"]
    reason: str
    failure_message: str | None
    credit_note: CreditNoteObject | None
    created: datetime


# --- loading helpers (callers scope the rows by merchant first) ------------------------------------


def plan_object(session: Session, plan: Plan) -> PlanObject:
    return PlanObject.of(plan, session.get(Merchant, plan.merchant_id).slug)


def invoice_objects(session: Session, invoices: list[Invoice]) -> list[InvoiceObject]:
    """Invoices with their lines, in one query for all the lines."""
    ids = [inv.id for inv in invoices]
    lines: dict[int, list[InvoiceLine]] = {i: [] for i in ids}
    if ids:
        for line in session.exec(
            select(InvoiceLine).where(InvoiceLine.invoice_id.in_(ids)).order_by(InvoiceLine.id)
        ).all():
            lines[line.invoice_id].append(line)
    return [InvoiceObject.of(inv, lines[inv.id]) for inv in invoices]


def invoice_object(session: Session, invoice: Invoice) -> InvoiceObject:
    return invoice_objects(session, [invoice])[0]


# --- integration objects: webhook endpoints, events, portal sessions --------------------------------

EventType = Literal[
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "subscription.paused",
    "subscription.resumed",
    "subscription.trial_will_end",
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "payment_method.updated",
    "portal_link.regenerated",
    "credit_note.issued",
]


class WebhookEndpointObject(ApiObject):
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    id: int
    url: str
    event_types: list[EventType]  # empty: every type
    enabled: bool
    disabled_reason: str | None
    created: datetime
    secret: str | None = None  # the signing secret (whsec_...), only in the answer that created it
    deleted: bool | None = None  # true in the answer to DELETE


class EventObject(ApiObject):
    """An event as webhooks deliver it: `id` is the deliveries' webhook-id, `data` their payload's."""

    object: Literal["event"] = "event"
    id: str
    type: EventType
    created: datetime
    data: dict


class PortalSessionObject(ApiObject):
    object: Literal["portal_session"] = "portal_session"
    id: int
    subscriber_id: int
    # Single-use and short-lived: redirect the customer's browser to it at once. Never stored, so an
    # idempotent replay answers null here: create a new session instead.
    url: str | None
    expires_at: datetime
    flow: Literal["payment_method_update", "subscription_cancel", "subscription_update", "invoices"] | None
    return_url: str | None
