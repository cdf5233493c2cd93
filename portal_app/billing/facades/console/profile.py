"""Console subscriber profile: the read model, the timeline, the portal link (copy, regenerate,
invite), delete, payments to review (resolve), and invoice PDFs."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import db, i18n
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.audit import audit
from portal_app.billing.documents.archive import invoice_pdf_filename
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.facades.console.forms import (
    actor_for,
    parse_id,
)
from portal_app.billing.invoice_queries import ensure_invoice_pdf, get_invoice, list_invoices
from portal_app.billing.invoices import InvoiceError, invoice_total, is_downloadable
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.payments.cards import CardSummary, card_is_expired, default_payment_method
from portal_app.billing.payments.review_resolution import (
    RESOLVED_NOT_CHARGED,
    Resolution,
    ReviewItem,
    resolve_review,
    reviews_of,
)
from portal_app.billing.portal_links import (
    current_portal_token,
    is_subscriber_deleted,
)
from portal_app.billing.portal_links import (
    regenerate_portal_link as regenerate_link,
)
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.billing.subscribers import customer_since
from portal_app.billing.subscription_views import SubscriptionOverview, current_subscription, subscription_overview
from portal_app.billing.tenancy import get_scoped
from portal_app.models import (
    AuditEvent,
    EmailMessage,
    Invoice,
    Merchant,
    PaymentAttempt,
    Plan,
    PortalLink,
    Subscriber,
    utcnow,
)
from portal_app.routes import portal_url

I, A = InvoiceStatus, AttemptStatus


@dataclasses.dataclass(frozen=True)
class ConsoleInvoice:
    invoice_id: int
    number: str
    finalized_at: datetime | None
    total: Money
    status: str
    downloadable: bool


@dataclasses.dataclass(frozen=True)
class SubscriberProfile:
    subscriber_id: int
    name: str
    email: str
    language: str
    created_at: datetime
    subscription: SubscriptionOverview | None  # the live (newest not deleted) subscription
    deleted: bool  # every subscription was deleted: the portal is closed
    card: CardSummary | None
    card_expired: bool
    invoices: list[ConsoleInvoice]
    has_portal_link: bool  # the URL itself is fetched on demand (portal_link_url), never kept in Reflex state
    last_visit_at: datetime | None
    reviews: list[ReviewItem] = dataclasses.field(default_factory=list)  # payments a merchant must resolve
    customer_since: datetime | None = None  # subscribers.customer_since: first start or invoice, else created_at


def subscriber_profile(*, merchant_id: int, subscriber_id: Any, now: datetime | None = None) -> SubscriberProfile:
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        sub = current_subscription(session, merchant_id, subscriber_id)
        overview = subscription_overview(session, sub.id, merchant_id=merchant_id, now=now) if sub else None
        card_row = default_payment_method(session, merchant_id=merchant_id, subscriber_id=subscriber_id)
        deleted = is_subscriber_deleted(session, merchant_id, subscriber_id)
        token = None if deleted else current_portal_token(session, subscriber)
        last_visit = session.execute(
            sa.select(sa.func.max(PortalLink.last_used_at)).where(
                PortalLink.merchant_id == merchant_id, PortalLink.subscriber_id == subscriber_id
            )
        ).scalar()
        invoices = [
            ConsoleInvoice(
                inv.id,
                inv.number or "",
                inv.finalized_at,
                invoice_total(inv),
                inv.status,
                is_downloadable(inv.status),
            )
            for inv in list_invoices(session, merchant_id=merchant_id, subscriber_id=subscriber_id, limit=100)
        ]
        return SubscriberProfile(
            subscriber.id,
            subscriber.name,
            subscriber.email,
            subscriber.language,
            subscriber.created_at,
            overview,
            deleted,
            CardSummary.from_row(card_row) if card_row else None,
            card_is_expired(card_row, now) if card_row else False,
            invoices,
            token is not None,
            last_visit,
            reviews_of(session, merchant_id=merchant_id, subscriber_id=subscriber_id),
            customer_since(session, merchant_id=merchant_id, subscriber_id=subscriber_id),
        )


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    category: str  # email | visit | card | payment | subscription | link | other
    title: str
    detail: str


# Timeline category of each audit kind (its title comes from the i18n catalogue: i18n.audit_title).
_AUDIT_CATEGORIES = {
    "subscriber_registered": "subscription",
    "subscription_started": "subscription",
    "subscription_canceled": "subscription",
    "cancellation_undone": "subscription",
    "subscription_deleted": "subscription",
    "subscription_reactivated": "subscription",
    "subscription_activated": "subscription",
    "payment_method_updated": "card",
    "card_refused": "card",
    "portal_visit": "visit",
    "billing_details_updated": "other",
    "portal_link_regenerated": "link",
    "invitation_sent": "email",
    "email_resent": "email",
    "invoice_marked_paid": "payment",
    "invoice_voided": "payment",
    "invoice_uncollectible": "payment",
}


def _audit_detail(kind: str, detail: dict) -> str:
    if kind == "subscription_canceled":
        parts = ["immediately" if detail.get("immediate") else "at period end"]
        if detail.get("reason"):
            parts.append(f"reason: {detail['reason']}")
        return "; ".join(parts)
    if kind == "payment_method_updated":
        return f"{str(detail.get('brand', '')).title()} ending in {detail.get('last4', '')}, expires {detail.get('exp', '')}"
    if kind == "card_refused":
        if detail.get("outcome") == "requires_action":
            return "the bank asked for 3D Secure, which the console can't do"
        return i18n.decline_message(detail["decline_code"], "en") if detail.get("decline_code") else ""
    if kind == "subscription_started":
        return f"{detail.get('plan', '')} (first invoice {detail.get('invoice', '')})"
    if kind == "payment_review_resolved":
        words = {"paid": "marked paid", "retry": "not charged: charged again on the next run", "void": "invoice voided"}
        return f"invoice {detail.get('number', '')}: {words.get(detail.get('resolution'), '')} by {detail.get('actor', '')}"
    if kind == "subscription_deleted" and detail.get("voided_invoices"):
        return f"voided: {', '.join(str(n) for n in detail['voided_invoices'])}"
    return ""


def subscriber_timeline(*, merchant_id: int, subscriber_id: Any, limit: int = 200) -> list[TimelineEntry]:
    """What happened to the subscriber, newest first: audit events, emails and payment attempts."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    entries: list[TimelineEntry] = []
    with db.session_scope() as session:
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        for event in session.exec(
            select(AuditEvent)
            .where(AuditEvent.merchant_id == merchant_id, AuditEvent.subscriber_id == subscriber_id)
            .order_by(AuditEvent.created_at.desc())
            .limit(limit)
        ):
            fallback = next(
                (
                    c
                    for prefix, c in (("payment", "payment"), ("subscription", "subscription"), ("invoice", "payment"))
                    if event.kind.startswith(prefix)
                ),
                "other",
            )
            category = _AUDIT_CATEGORIES.get(event.kind, fallback)
            title = i18n.audit_title(event.kind, "en")
            try:
                detail = json.loads(event.detail or "{}")
            except ValueError:
                detail = {}
            entries.append(TimelineEntry(event.created_at, category, title, _audit_detail(event.kind, detail)))
        for message in session.exec(
            select(EmailMessage)
            .where(EmailMessage.merchant_id == merchant_id, EmailMessage.subscriber_id == subscriber_id)
            .order_by(EmailMessage.created_at.desc())
            .limit(limit)
        ):
            state = {"outbox": "not sent (no mail server)", "sent": "sent", "failed": "failed"}.get(
                message.status, message.status
            )
            entries.append(
                TimelineEntry(
                    message.created_at, "email", f"Email {state}: {message.subject}", f"to {message.to_address}"
                )
            )
        for attempt, number in session.execute(
            sa.select(PaymentAttempt, Invoice.number)
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
            .where(PaymentAttempt.merchant_id == merchant_id, Invoice.subscriber_id == subscriber_id)
            .order_by(PaymentAttempt.created_at.desc())
            .limit(limit)
        ):
            amount = Money(attempt.amount_minor, attempt.currency).format("en")
            kind = "Retry" if attempt.trigger == "retry" else "Charge"
            if attempt.status == A.SUCCEEDED:
                title, detail = f"{kind} of {amount} succeeded", ""
            elif attempt.status == A.REVIEW:
                title = f"{kind} of {amount} needs review"
                detail = (
                    "outcome unknown: check the payment processor"
                    + (f" ({attempt.gateway_ref})" if attempt.gateway_ref else "")
                    + ", then resolve it under Payments to review; it is not charged automatically"
                )
            elif attempt.status == A.FAILED and (attempt.failure_message or "").startswith(RESOLVED_NOT_CHARGED):
                title, detail = f"{kind} of {amount} was not charged", attempt.failure_message
            elif attempt.status == A.FAILED and not attempt.gateway:
                title = f"{kind} of {amount} not sent"
                detail = "nothing was sent to the payment processor: " + i18n.decline_message(
                    attempt.decline_code, "en"
                )
            elif attempt.status == A.FAILED:
                title = f"{kind} of {amount} failed"
                detail = i18n.decline_message(attempt.decline_code, "en") + (
                    " (hard decline: no retry)" if attempt.hard_decline else ""
                )
            else:
                title, detail = f"{kind} of {amount}: {attempt.status.replace('_', ' ')}", ""
            entries.append(
                TimelineEntry(
                    attempt.created_at,
                    "payment",
                    title,
                    f"invoice {number} · {attempt.trigger.replace('_', ' ')}" + (f" · {detail}" if detail else ""),
                )
            )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


# --- link, invitation, delete ---------------------------------------------------------------------


def _live_subscriber(session: Session, merchant_id: int, subscriber_id: int) -> Subscriber:
    subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
    if is_subscriber_deleted(session, merchant_id, subscriber_id):
        raise NotAllowed("This subscriber's subscription was deleted: their portal is closed.")
    return subscriber


def portal_link_url(*, merchant_id: int, subscriber_id: Any) -> str:
    """The subscriber's live portal URL, for the console's show and copy (an HTTP route of ours, at the
    moment the merchant asks: the URL opens the portal, so it never sits in Reflex state)."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        token = current_portal_token(session, subscriber)
        if token is None:
            raise NotFound("There is no live portal link.")
        return portal_url(token)


def regenerate_portal_link(
    *, merchant_id: int, user_id: int, subscriber_id: Any, email: bool = False, now: datetime | None = None
) -> str:
    """Revoke the subscriber's link (and the browser sessions opened with it) and issue a new one;
    returns the new portal URL. With `email`, the subscriber gets the new link in the same transaction
    by the portal-link email (the invitation, through notify), on the timeline as an invitation sent."""
    if not isinstance(email, bool):
        raise NotAllowed("Choose whether to email the new link.")
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        url = portal_url(regenerate_link(session, subscriber, actor=actor_for(user_id), now=now))
        if email:
            _email_link(session, merchant_id, user_id, subscriber, now, url)
        return url


def _email_link(session: Session, merchant_id: int, user_id: int, subscriber: Subscriber, now: datetime, url: str):
    merchant = session.get(Merchant, merchant_id)
    sub = current_subscription(session, merchant_id, subscriber.id)
    plan = session.get(Plan, sub.plan_id) if sub else None
    context = {"plan_name": plan.name} if plan else {}
    if url:
        context["portal_url"] = url
    send_subscriber_email(
        session, merchant=merchant, subscriber=subscriber, kind="invitation", now=now, context=context
    )
    audit(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber.id,
        actor=actor_for(user_id),
        kind="invitation_sent",
        detail={},
        now=now,
    )


def send_invitation(*, merchant_id: int, user_id: int, subscriber_id: Any, now: datetime | None = None) -> str:
    """Email the subscriber their current portal link again; returns the address it went to."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        _email_link(session, merchant_id, user_id, subscriber, now, "")
        return subscriber.email


def delete_subscription(*, merchant_id: int, user_id: int, subscriber_id: Any, now: datetime | None = None) -> None:
    """Delete the subscriber's live subscription: it ends now, unpaid invoices are voided and the
    portal link stops working."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription to delete.")
        subscription_service.delete_subscription(
            session, sub.id, merchant_id=merchant_id, actor=actor_for(user_id), now=now, reason="deleted in the console"
        )


def resolve_payment_review(
    *, merchant_id: int, user_id: int, attempt_id: Any, resolution: Any, now: datetime | None = None
) -> str:
    """Resolve one of the merchant's payments in review ("paid", "retry" or "void"); returns the
    invoice number. Another merchant's attempt is not found; one already resolved is refused, unchanged."""
    attempt_id = parse_id(attempt_id, "payment")
    if not isinstance(resolution, str) or resolution not in {r.value for r in Resolution}:
        raise NotAllowed("Choose how to resolve this payment.")
    now = now or utcnow()
    with db.session_scope() as session:
        attempt = resolve_review(
            session, attempt_id, Resolution(resolution), merchant_id=merchant_id, actor=actor_for(user_id), now=now
        )
        invoice = get_scoped(session, Invoice, attempt.invoice_id, merchant_id)
        return invoice.number or ""


def invoice_pdf(*, merchant_id: int, invoice_id: Any) -> tuple[str, bytes]:
    """(filename, PDF bytes) of one of the merchant's finalized invoices."""
    invoice_id = parse_id(invoice_id, "invoice")
    with db.session_scope() as session:
        invoice = get_invoice(session, invoice_id, merchant_id=merchant_id)
        if not is_downloadable(invoice.status):
            raise NotFound("Invoice not found")
        try:
            data = ensure_invoice_pdf(session, invoice.id, merchant_id=merchant_id)
        except InvoiceError:
            raise NotFound("Invoice not found") from None
        return invoice_pdf_filename(invoice), data
