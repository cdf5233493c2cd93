"""Read model for the subscriber portal: everything the page shows, in one call, scoped to one
merchant's subscriber. Values stay typed (Money, datetime); the UI formats them."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime

from sqlmodel import Session, select

from portal_app.billing.invoice_queries import invoice_years, list_invoices
from portal_app.billing.invoices import invoice_total
from portal_app.billing.money import Money
from portal_app.billing.payments.cards import CardSummary, card_is_expired, default_payment_method
from portal_app.billing.subscription_views import SubscriptionOverview, subscription_overview
from portal_app.models import Merchant, Subscriber, Subscription


@dataclasses.dataclass(frozen=True)
class InvoiceRow:
    invoice_id: int
    number: str
    finalized_at: datetime
    total: Money
    status: str


@dataclasses.dataclass(frozen=True)
class PortalSummary:
    merchant_name: str
    merchant_slug: str
    support_email: str
    logo_version: str  # changes when the logo changes ("" = no logo)
    subscriber_name: str
    language: str
    billing_name: str
    billing_address: str
    tax_id: str
    subscription: SubscriptionOverview | None
    card: CardSummary | None
    card_expired: bool
    invoices: list[InvoiceRow]
    invoice_years: dict[int, int]  # {year: downloadable invoices}, newest first


def current_subscription(session: Session, merchant_id: int, subscriber_id: int) -> Subscription | None:
    """The subscriber's live subscription: the newest one not deleted."""
    return session.exec(
        select(Subscription)
        .where(
            Subscription.merchant_id == merchant_id,
            Subscription.subscriber_id == subscriber_id,
            Subscription.deleted_at.is_(None),
        )
        .order_by(Subscription.id.desc())
    ).first()


def portal_summary(session: Session, *, merchant_id: int, subscriber_id: int, now: datetime) -> PortalSummary | None:
    subscriber = session.get(Subscriber, subscriber_id)
    merchant = session.get(Merchant, merchant_id)
    if subscriber is None or merchant is None or subscriber.merchant_id != merchant_id:
        return None
    subscription = current_subscription(session, merchant_id, subscriber_id)
    overview = (
        subscription_overview(session, subscription.id, merchant_id=merchant_id, now=now) if subscription else None
    )
    card_row = default_payment_method(session, merchant_id=merchant_id, subscriber_id=subscriber_id)
    invoices = [
        InvoiceRow(inv.id, inv.number or "", inv.finalized_at, invoice_total(inv), inv.status)
        for inv in list_invoices(session, merchant_id=merchant_id, subscriber_id=subscriber_id, limit=200)
        if inv.number and inv.finalized_at
    ]
    return PortalSummary(
        merchant_name=merchant.name,
        merchant_slug=merchant.slug,
        support_email=merchant.support_email,
        logo_version=hashlib.sha256(merchant.logo_png).hexdigest()[:12] if merchant.logo_png else "",
        subscriber_name=subscriber.name,
        language=subscriber.language,
        billing_name=subscriber.billing_name,
        billing_address=subscriber.billing_address,
        tax_id=subscriber.tax_id,
        subscription=overview,
        card=CardSummary.from_row(card_row) if card_row else None,
        card_expired=card_is_expired(card_row, now) if card_row else False,
        invoices=invoices,
        invoice_years=invoice_years(session, merchant_id=merchant_id, subscriber_id=subscriber_id),
    )
