"""All database tables (plain SQLModel).

Rules: every row belongs to a merchant; money is integer minor units + ISO 4217 currency;
timestamps are timezone-aware UTC; no column can hold a card number or CVV; statuses change
only through billing.statuses.transition().
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Optional

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator):
    """Stores UTC, always returns aware datetimes (SQLite keeps no offset of its own)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def ts(*, nullable: bool = False, index: bool = False, default: bool = False):
    """A timezone-aware UTC timestamp column."""
    kwargs = {"default_factory": utcnow} if default else {"default": None}
    return Field(sa_type=UTCDateTime(), nullable=nullable, index=index, **kwargs)


class Merchant(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    slug: str = Field(max_length=60, unique=True, index=True)
    invoice_prefix: str = Field(max_length=12)
    support_email: str = Field(default="", max_length=254)
    logo_png: Optional[bytes] = Field(default=None, sa_type=sa.LargeBinary)
    logo_content_type: str = Field(default="", max_length=40)
    default_language: str = Field(default="en", max_length=5)
    dunning_schedule_days: str = Field(default="1,3,5,7", max_length=60)
    # Subscription state after the last failed retry: "unpaid" or "canceled".
    dunning_end_state: str = Field(default="unpaid", max_length=12)
    # The seller as invoices name it (legal name defaults to `name`), and the portal's branding.
    legal_name: str = Field(default="", max_length=120)
    address: str = Field(default="", max_length=500)
    tax_id: str = Field(default="", max_length=40)
    website_url: str = Field(default="", max_length=300)  # "Return to <merchant>" (https only)
    brand_color: str = Field(default="", max_length=7)  # "#RRGGBB", checked for contrast; "" = house default
    # Subscriptions that change (issue 14): days before a trial's first charge that the reminder email
    # goes out (0 = none); when a downgrade takes effect ("period_end" | "immediately"); whether the
    # portal asks for an emailed six-digit code before changing the card, the plan or cancelling.
    trial_reminder_days: int = Field(default=3)
    downgrade_timing: str = Field(default="period_end", max_length=12)
    step_up_required: bool = Field(default=False)
    created_at: datetime = ts(default=True)


class MerchantUser(SQLModel, table=True):
    __tablename__ = "merchant_user"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(default="", max_length=120)
    password_hash: str = Field(max_length=255)
    created_at: datetime = ts(default=True)


class ConsoleSession(SQLModel, table=True):
    """Server-side merchant session: only a hash of the session secret is stored."""

    __tablename__ = "console_session"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    user_id: int = Field(foreign_key="merchant_user.id", index=True)
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts(default=True)
    last_seen_at: datetime = ts(default=True)
    revoked_at: Optional[datetime] = ts(nullable=True)


class Plan(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    name: str = Field(max_length=120)
    amount_minor: int
    currency: str = Field(max_length=3)
    interval: str = Field(max_length=8)  # day | week | month | year
    interval_count: int = Field(default=1)
    # not_allowed | at_period_end | immediately
    cancellation_policy: str = Field(default="at_period_end", max_length=16)
    active: bool = Field(default=True)
    trial_days: int = Field(default=0)  # a new subscription's free days before its first charge
    pause_max_days: int = Field(default=0)  # the longest pause a subscriber may choose (0 = no pausing)
    # The retention offer shown before a cancellation is confirmed: "" (none) | "percent" | "amount";
    # value is a percentage (1-100) or minor units of the plan's currency; for this many invoices.
    retention_kind: str = Field(default="", max_length=8)
    retention_value: int = Field(default=0)
    retention_cycles: int = Field(default=0)
    created_at: datetime = ts(default=True)


class Subscriber(SQLModel, table=True):
    """A merchant's customer. Billing details are copied onto each invoice at finalization."""

    # Console search: one merchant's subscribers in name order, keyset-paginated on (name, id); email
    # rides along so a "name or email contains" search scans only this index, never the table.
    # search_text (billing/search_text.fold of name and email, kept by a mapper event) rides along too,
    # so an accent- and case-insensitive search ("nunez" finds "Ñúñez") is the same index scan.
    __table_args__ = (
        sa.Index("ix_subscriber_merchant_name", "merchant_id", "name", "id", "email"),
        sa.Index("ix_subscriber_merchant_search", "merchant_id", "name", "id", "search_text"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    name: str = Field(max_length=120, index=True)
    email: str = Field(max_length=254, index=True)
    language: str = Field(default="en", max_length=5)
    billing_name: str = Field(default="", max_length=120)
    billing_address: str = Field(default="", max_length=500)
    tax_id: str = Field(default="", max_length=40)
    gateway_customer_id: str = Field(default="", max_length=64)
    search_text: str = Field(default="", max_length=400)
    created_at: datetime = ts(default=True)


class Subscription(SQLModel, table=True):
    __table_args__ = (
        sa.Index("ix_subscription_due", "status", "current_period_end"),
        # Console search: "has a live subscription on this plan / in this status" per subscriber.
        sa.Index("ix_subscription_subscriber_plan_status", "subscriber_id", "plan_id", "status"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    status: str = Field(max_length=16, index=True)
    # The billing anchor: periods are computed from it (Jan 31 -> Feb 28/29 -> Mar 31).
    anchor_at: datetime = ts()
    # Number of whole periods since the anchor that the current period starts at.
    period_index: int = Field(default=0)
    current_period_start: datetime = ts()
    current_period_end: datetime = ts()
    cancel_at_period_end: bool = Field(default=False)
    cancellation_reason: str = Field(default="", max_length=500)
    canceled_at: Optional[datetime] = ts(nullable=True)
    ended_at: Optional[datetime] = ts(nullable=True)
    deleted_at: Optional[datetime] = ts(nullable=True)
    # Trials: when the free period ends (the first charge); None = never had one.
    trial_end: Optional[datetime] = ts(nullable=True)
    # Pause: when the pause begins (scheduled or begun) and when billing resumes; None = not paused.
    pause_starts_at: Optional[datetime] = ts(nullable=True)
    resume_at: Optional[datetime] = ts(nullable=True)
    # A plan change scheduled for the period end (a downgrade): the plan the next renewal bills.
    pending_plan_id: Optional[int] = Field(default=None, foreign_key="plan.id")
    # Money owed to the subscriber (an immediate downgrade's unused time), taken off the next invoices.
    credit_minor: int = Field(default=0)
    # An accepted retention offer: "" | "percent" | "amount", its value, and how many invoices it still takes off.
    discount_kind: str = Field(default="", max_length=8)
    discount_value: int = Field(default=0)
    discount_cycles_left: int = Field(default=0)
    created_at: datetime = ts(default=True)


class PaymentMethod(SQLModel, table=True):
    """A saved card: brand, last 4 digits, expiry and the gateway's reference. Never the number."""

    __tablename__ = "payment_method"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    gateway: str = Field(max_length=16)
    gateway_ref: str = Field(max_length=64)
    brand: str = Field(max_length=20)
    last4: str = Field(max_length=4)
    exp_month: int
    exp_year: int
    is_default: bool = Field(default=True)
    created_at: datetime = ts(default=True)
    detached_at: Optional[datetime] = ts(nullable=True)


class InvoiceCounter(SQLModel, table=True):
    """Last invoice number used per merchant and year; incremented under a row lock."""

    __tablename__ = "invoice_counter"
    merchant_id: int = Field(foreign_key="merchant.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_value: int = Field(default=0)


class Invoice(SQLModel, table=True):
    __table_args__ = (
        sa.UniqueConstraint("merchant_id", "number", name="uq_invoice_merchant_number"),
        sa.Index("ix_invoice_retry", "status", "next_retry_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    subscription_id: Optional[int] = Field(default=None, foreign_key="subscription.id", index=True)
    number: Optional[str] = Field(default=None, max_length=40)  # assigned at finalization
    status: str = Field(max_length=16, index=True)
    currency: str = Field(max_length=3)
    subtotal_minor: int = Field(default=0)
    tax_minor: int = Field(default=0)
    total_minor: int = Field(default=0)
    tax_rate_bp: int = Field(default=0)  # basis points: 2100 = 21 %
    period_start: Optional[datetime] = ts(nullable=True)
    period_end: Optional[datetime] = ts(nullable=True)
    # Snapshot taken at finalization so later edits never change an issued invoice.
    language: str = Field(default="en", max_length=5)
    merchant_name: str = Field(default="", max_length=120)
    billing_name: str = Field(default="", max_length=120)
    billing_email: str = Field(default="", max_length=254)
    billing_address: str = Field(default="", max_length=500)
    tax_id: str = Field(default="", max_length=40)
    seller_legal_name: str = Field(default="", max_length=120)
    seller_address: str = Field(default="", max_length=500)
    seller_tax_id: str = Field(default="", max_length=40)
    seller_email: str = Field(default="", max_length=254)
    created_at: datetime = ts(default=True)
    finalized_at: Optional[datetime] = ts(nullable=True, index=True)
    due_at: Optional[datetime] = ts(nullable=True)
    paid_at: Optional[datetime] = ts(nullable=True)
    voided_at: Optional[datetime] = ts(nullable=True)
    # Dunning: failed attempts so far and when the next automatic retry is due.
    attempt_count: int = Field(default=0)
    next_retry_at: Optional[datetime] = ts(nullable=True)
    # Claim for charging: the attempt currently in flight (set by a conditional UPDATE).
    charging_attempt_id: Optional[int] = Field(default=None)
    pdf_bytes: Optional[bytes] = Field(default=None, sa_type=sa.LargeBinary)


class InvoiceLine(SQLModel, table=True):
    __tablename__ = "invoice_line"
    id: Optional[int] = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    description: str = Field(max_length=300)
    quantity: int = Field(default=1)
    unit_amount_minor: int
    amount_minor: int
    currency: str = Field(max_length=3)


class PaymentAttempt(SQLModel, table=True):
    """One charge try. Written before the gateway call; its id is the idempotency key."""

    __tablename__ = "payment_attempt"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    payment_method_id: Optional[int] = Field(default=None, foreign_key="payment_method.id")
    amount_minor: int
    currency: str = Field(max_length=3)
    status: str = Field(max_length=16, index=True)
    trigger: str = Field(default="renewal", max_length=16)  # renewal | retry | card_update | manual
    gateway: str = Field(default="", max_length=16)  # "" = never sent: nothing to charge (no card on file)
    gateway_ref: str = Field(default="", max_length=64)
    decline_code: str = Field(default="", max_length=40)
    failure_message: str = Field(default="", max_length=300)
    hard_decline: bool = Field(default=False)
    # Random part of the idempotency key (payments.attempts.idempotency_key): attempt ids repeat after a
    # database restore, keys must not. "" on attempts written before it existed (their old key is derived).
    key_nonce: str = Field(default="", max_length=20)
    # The gateway customer the charge was sent for: a replay repeats the request exactly, and what the
    # gateway reports is matched against it.
    customer_ref: str = Field(default="", max_length=64)
    created_at: datetime = ts(default=True)
    settled_at: Optional[datetime] = ts(nullable=True)


class PortalLink(SQLModel, table=True):
    """A subscriber's portal link. The token is never stored: it is HMAC(SECRET_KEY, nonce),
    so the console can show it again, and token_hash (SHA-256 of the token) finds the row."""

    __tablename__ = "portal_link"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    nonce: str = Field(max_length=64)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts(default=True)
    revoked_at: Optional[datetime] = ts(nullable=True)
    last_used_at: Optional[datetime] = ts(nullable=True)


class EmailMessage(SQLModel, table=True):
    """Every email we send; the outbox when no SMTP server is configured."""

    __tablename__ = "email_message"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: Optional[int] = Field(default=None, foreign_key="subscriber.id", index=True)
    kind: str = Field(max_length=32)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_text: str = Field(sa_type=sa.Text)
    body_html: str = Field(default="", sa_type=sa.Text)
    # outbox | queued | sending | sent | failed: moved only by billing.emails.status.move()
    status: str = Field(default="outbox", max_length=12)
    error: str = Field(default="", max_length=500)  # the last delivery error, fit for the merchant
    created_at: datetime = ts(default=True)
    sent_at: Optional[datetime] = ts(nullable=True)
    # Notices the billing engine sends on its own carry a natural key (emails/notice_keys.py): the
    # unique index makes each one happen once even when two runners race. NULL for other emails.
    notice_key: Optional[str] = Field(default=None, max_length=120, unique=True, index=True)
    # Delivery (billing/emails/delivery.py): SMTP attempts so far (each claim counts one), when a queued
    # row may be tried (null: now) and since when a "sending" row is held by a worker.
    attempts: int = Field(default=0)
    next_attempt_at: Optional[datetime] = ts(nullable=True)
    claimed_at: Optional[datetime] = ts(nullable=True)

    __table_args__ = (sa.Index("ix_email_message_status_next_attempt_at", "status", "next_attempt_at"),)


class AuditEvent(SQLModel, table=True):
    """Timeline of what happened to a subscriber: who (actor), what (kind), details (JSON text)."""

    __tablename__ = "audit_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: Optional[int] = Field(default=None, foreign_key="subscriber.id", index=True)
    actor: str = Field(max_length=60)  # system | subscriber | user:<id>
    kind: str = Field(max_length=40)
    detail: str = Field(default="{}", sa_type=sa.Text)
    created_at: datetime = ts(default=True, index=True)


class WebhookEvent(SQLModel, table=True):
    """Gateway webhook events already processed (deduplicated by event id)."""

    __tablename__ = "webhook_event"
    id: str = Field(primary_key=True, max_length=255)
    type: str = Field(max_length=80)
    received_at: datetime = ts(default=True)


class PortalSession(SQLModel, table=True):
    """A subscriber's browser session, opened by exchanging a portal link.

    The browser holds the secret in an HttpOnly cookie; we store only its SHA-256. The session
    dies with its link (regenerate, delete) and after an idle or absolute timeout.
    """

    __tablename__ = "portal_session"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    link_id: int = Field(foreign_key="portal_link.id", index=True)
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = ts(default=True)
    last_seen_at: datetime = ts(default=True)
    revoked_at: Optional[datetime] = ts(nullable=True)
    # A session opened by a portal grant: where "Return to <merchant>" leads ("" = no such link).
    # Not secret: the merchant's own page, checked when the grant was made (billing/portal_grants.py).
    return_url: str = Field(default="", max_length=2000)
    # Step-up verification (billing/step_up.py): changes need an emailed code until this instant passes.
    step_up_until: Optional[datetime] = ts(nullable=True)


# --- Integration: API keys ------------------------------------------------------------------------


class ApiKey(SQLModel, table=True):
    """A merchant's REST API key. Only the SHA-256 of the secret is stored (the secret has 256 random
    bits, so a plain hash is enough); `prefix` is the first characters, shown to tell keys apart."""

    __tablename__ = "api_key"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    name: str = Field(default="", max_length=80)
    prefix: str = Field(max_length=16)
    secret_hash: str = Field(max_length=64, unique=True, index=True)
    created_by: str = Field(default="", max_length=60)  # user:<id> | cli
    created_at: datetime = ts(default=True)
    last_used_at: Optional[datetime] = ts(nullable=True)
    revoked_at: Optional[datetime] = ts(nullable=True)


# --- Integration: portal grants -------------------------------------------------------------------


class PortalGrant(SQLModel, table=True):
    """A short-lived, single-use way into one subscriber's portal (POST /portal_sessions, the signup
    page's landing). Only the SHA-256 of its 256-bit token is stored; redeeming it (once, before
    `expires_at`) opens a portal session on the subscriber's current lasting link, never revoking it."""

    __tablename__ = "portal_grant"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    flow: str = Field(default="", max_length=40)  # "" | payment_method_update | subscription_cancel | invoices
    return_url: str = Field(default="", max_length=2000)
    created_by: str = Field(default="", max_length=60)  # api_key:<id> | signup | user:<id>
    created_at: datetime = ts(default=True)
    expires_at: datetime = ts()
    redeemed_at: Optional[datetime] = ts(nullable=True)


# --- Integration: outgoing webhooks ---------------------------------------------------------------


class WebhookEndpoint(SQLModel, table=True):
    """Where a merchant wants its events POSTed (Standard Webhooks). The signing secret is stored as
    is (`whsec_` + base64): we need it to sign; it is the receiver's key to check us, not a credential
    to our system. Deleting keeps the row (its delivery log) with deleted_at set."""

    __tablename__ = "webhook_endpoint"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    url: str = Field(max_length=2048)
    event_types: str = Field(default="", max_length=1000)  # comma-separated; empty = every type
    secret: str = Field(max_length=100)
    enabled: bool = Field(default=True)
    disabled_at: Optional[datetime] = ts(nullable=True)
    disabled_reason: str = Field(default="", max_length=300)
    created_by: str = Field(default="", max_length=60)
    created_at: datetime = ts(default=True)
    deleted_at: Optional[datetime] = ts(nullable=True)


class OutgoingEvent(SQLModel, table=True):
    """One event of a merchant (webhook payload and GET /events), written in the transaction of the
    change it reports. `public_id` (evt_...) is the webhook-id every delivery attempt carries."""

    __tablename__ = "outgoing_event"
    id: Optional[int] = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=40, unique=True, index=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    type: str = Field(max_length=40)
    payload: str = Field(sa_type=sa.Text)  # the JSON body sent, exactly
    created_at: datetime = ts(default=True)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint: pending | sending | delivered | failed (billing/webhooks_out/delivery.py)."""

    __tablename__ = "webhook_delivery"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    event_id: int = Field(foreign_key="outgoing_event.id", index=True)
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id", index=True)
    status: str = Field(default="pending", max_length=12)
    attempts: int = Field(default=0)
    next_attempt_at: Optional[datetime] = ts(nullable=True)
    claimed_at: Optional[datetime] = ts(nullable=True)
    last_status_code: Optional[int] = Field(default=None)
    last_latency_ms: Optional[int] = Field(default=None)
    last_error: str = Field(default="", max_length=300)
    created_at: datetime = ts(default=True)
    delivered_at: Optional[datetime] = ts(nullable=True)

    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery_event_endpoint"),
        sa.Index("ix_webhook_delivery_status_next_attempt_at", "status", "next_attempt_at"),
    )


class WebhookAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery, for the console's delivery log."""

    __tablename__ = "webhook_attempt"
    id: Optional[int] = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    attempt: int
    status_code: Optional[int] = Field(default=None)
    latency_ms: int = Field(default=0)
    error: str = Field(default="", max_length=300)
    created_at: datetime = ts(default=True)


# --- Part R: the REST API's idempotency keys (api/v1, billing/api_idempotency.py) ------------------


class ApiIdempotencyKey(SQLModel, table=True):
    """One POST of the REST API under an `Idempotency-Key` (per merchant, kept 24 h): the request's
    hash and, once it finished, the response to replay. A portal URL in a response is a credential:
    it is never stored; `portal_subscriber_id` says whose current URL to re-derive on replay."""

    __tablename__ = "api_idempotency_key"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "key", name="uq_api_idempotency_key_merchant_key"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    key: str = Field(max_length=255)
    request_hash: str = Field(max_length=64)
    response_status: Optional[int] = Field(default=None)  # None while the first request runs
    response_body: Optional[str] = Field(default=None, sa_type=sa.Text)
    portal_subscriber_id: Optional[int] = Field(default=None)
    created_at: datetime = ts(default=True, index=True)


# --- Subscriptions that change (issue 14) ----------------------------------------------------------


class PlanSwitch(SQLModel, table=True):
    """A plan a subscriber of `plan_id` may switch to from the portal (same merchant, same currency)."""

    __tablename__ = "plan_switch"
    __table_args__ = (sa.UniqueConstraint("plan_id", "target_plan_id", name="uq_plan_switch_plan_target"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    plan_id: int = Field(foreign_key="plan.id", index=True)
    target_plan_id: int = Field(foreign_key="plan.id")
    created_at: datetime = ts(default=True)


class PlanChange(SQLModel, table=True):
    """One plan change: applied now (an upgrade, with its prorated invoice) or scheduled for the period
    end (a downgrade); what it charged and credited, in minor units of the plans' currency."""

    __tablename__ = "plan_change"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    from_plan_id: int = Field(foreign_key="plan.id")
    to_plan_id: int = Field(foreign_key="plan.id")
    timing: str = Field(max_length=12)  # now | period_end
    status: str = Field(max_length=12)  # applied | scheduled | canceled
    charge_minor: int = Field(default=0)  # the new plan's remaining days, charged today
    credit_minor: int = Field(default=0)  # the old plan's unused days, credited
    currency: str = Field(max_length=3)
    invoice_id: Optional[int] = Field(default=None, foreign_key="invoice.id")
    actor: str = Field(default="", max_length=60)
    created_at: datetime = ts(default=True)
    effective_at: datetime = ts()


class RetentionOffer(SQLModel, table=True):
    """A retention offer shown to a subscriber on the way to cancelling, and what they answered."""

    __tablename__ = "retention_offer"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    subscription_id: int = Field(foreign_key="subscription.id", index=True)
    plan_id: int = Field(foreign_key="plan.id")
    kind: str = Field(max_length=8)  # percent | amount
    value: int
    cycles: int
    currency: str = Field(max_length=3)
    shown_at: datetime = ts(default=True, index=True)
    accepted_at: Optional[datetime] = ts(nullable=True)
    declined_at: Optional[datetime] = ts(nullable=True)


class StepUpCode(SQLModel, table=True):
    """A six-digit code emailed to confirm a change from a portal session: only its HMAC is stored."""

    __tablename__ = "step_up_code"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    portal_session_id: int = Field(foreign_key="portal_session.id", index=True)
    code_hash: str = Field(max_length=64)
    attempts: int = Field(default=0)
    created_at: datetime = ts(default=True)
    expires_at: datetime = ts()
    verified_at: Optional[datetime] = ts(nullable=True)


class Refund(SQLModel, table=True):
    """One refund of (part of) a paid invoice's charge. Written before the gateway call: its id and
    nonce make the idempotency key, as a PaymentAttempt's do. pending | succeeded | failed | unknown."""

    __tablename__ = "refund"
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    payment_attempt_id: int = Field(foreign_key="payment_attempt.id", index=True)
    amount_minor: int
    currency: str = Field(max_length=3)
    reason: str = Field(default="", max_length=500)
    status: str = Field(max_length=12, index=True)
    gateway: str = Field(default="", max_length=16)
    gateway_ref: str = Field(default="", max_length=64)
    key_nonce: str = Field(max_length=20)
    failure_message: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=60)
    created_at: datetime = ts(default=True)
    settled_at: Optional[datetime] = ts(nullable=True)


class CreditNoteCounter(SQLModel, table=True):
    """Last credit note number used per merchant and year (a series of its own, gapless)."""

    __tablename__ = "credit_note_counter"
    merchant_id: int = Field(foreign_key="merchant.id", primary_key=True)
    year: int = Field(primary_key=True)
    last_value: int = Field(default=0)


class CreditNote(SQLModel, table=True):
    """A credit note against a finalized invoice (the invoice itself never changes): numbered when the
    refund it documents succeeds; amounts split into subtotal and tax as the invoice's were."""

    __tablename__ = "credit_note"
    __table_args__ = (sa.UniqueConstraint("merchant_id", "number", name="uq_credit_note_merchant_number"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    subscriber_id: int = Field(foreign_key="subscriber.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    refund_id: Optional[int] = Field(default=None, foreign_key="refund.id", index=True)
    number: str = Field(max_length=40)
    currency: str = Field(max_length=3)
    subtotal_minor: int
    tax_minor: int = Field(default=0)
    total_minor: int
    reason: str = Field(default="", max_length=500)
    issued_at: datetime = ts(default=True, index=True)
    pdf_bytes: Optional[bytes] = Field(default=None, sa_type=sa.LargeBinary)


# --- the subscriber's search text, kept on every write (billing/search_text.py) -------------------

from portal_app.billing.search_text import subscriber_search_text  # noqa: E402  (pure, imports nothing)


@sa.event.listens_for(Subscriber, "before_insert")
@sa.event.listens_for(Subscriber, "before_update")
def _keep_search_text(_mapper, _connection, subscriber: Subscriber) -> None:
    subscriber.search_text = subscriber_search_text(subscriber.name, subscriber.email)
