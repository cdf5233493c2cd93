"""The subscriber portal's facade: the page's read model and every action a subscriber can take,
as plain calls. Each takes the portal session's (merchant_id, subscriber_id), validates its input,
owns its transaction and picks the configured gateway: pages never open a session or touch a gateway.
Values stay typed (Money, datetime); the UI formats them. A database outage raises
outage.ServiceUnavailable (logged, no SQL) rather than a raw database error."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session

from portal_app import i18n
from portal_app.billing import notify, portal_grants, subscribers, subscriptions
from portal_app.billing.brand import DEFAULT_COLOR, effective_color
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.card_entry import card_reference
from portal_app.billing.facades.outage import ServiceUnavailable, calm_on_database_outage
from portal_app.billing.facades.portal_payments import PaymentProblem, payment_problem
from portal_app.billing.facades.portal_step_up import require as step_up_check
from portal_app.billing.gateways import get_gateway
from portal_app.billing.gateways.base import CardEntry, ChargeOutcome, PaymentGateway
from portal_app.billing.invoice_queries import invoice_years, list_invoices
from portal_app.billing.invoices import invoice_total, is_downloadable
from portal_app.billing.money import Money
from portal_app.billing.payments.attempts import ChargeInvoiceResult
from portal_app.billing.payments.card_updates import (
    CardUpdateOutcome,
    CardUpdateResult,
    confirm_payment_method_setup,
    update_payment_method,
)
from portal_app.billing.payments.cards import (
    CardSummary,
    card_is_expired,
    default_payment_method,
    ensure_gateway_customer,
)
from portal_app.billing.plans import CancellationPolicy
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.billing.stripe_events import EngineCallbacks
from portal_app.billing.subscription_views import SubscriptionOverview, current_subscription, subscription_overview
from portal_app.billing.tenancy import get_scoped
from portal_app.db import get_engine, new_session, session_scope
from portal_app.models import Invoice, Merchant, PaymentAttempt, PaymentMethod, Subscriber, utcnow

# The steps a portal grant may open (?flow=...): the card form, the cancel dialog, the invoice list.
PORTAL_FLOWS = portal_grants.FLOWS
DEFAULT_BRAND_COLOR = DEFAULT_COLOR  # the accent before a page knows its merchant
CANCEL_REASONS = ("too_expensive", "not_using", "missing_features", "switching", "other")
_PI_ID = re.compile(r"^pi_[A-Za-z0-9]{1,100}$")
A, I = AttemptStatus, InvoiceStatus


# --- read model ------------------------------------------------------------------------------


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
    brand_color: str  # "#RRGGBB", white text on it >= 4.5:1 (brand.effective_color)
    website_url: str  # "Return to <merchant>" when no portal grant set a return URL ("" = none)
    subscriber_name: str
    language: str
    billing_name: str
    billing_address: str
    tax_id: str
    subscription: SubscriptionOverview | None
    cancels_immediately: bool  # the plan ends a cancellation at once (else at the period end)
    cancel_not_allowed: bool  # the plan can't be canceled online and the subscription has not ended
    payment_problem: PaymentProblem | None  # past due / unpaid / incomplete with an amount open
    card: CardSummary | None
    card_expired: bool
    invoices: list[InvoiceRow]  # the downloadable ones (finalized, not void), newest first
    invoice_years: dict[int, int]  # {year: downloadable invoices}, newest first


def _who(merchant_id: int, subscriber_id: int, portal_session_id: int | None, engine: sa.Engine | None = None) -> dict:
    """The step-up check's arguments: on `engine` when the change runs on an explicit one (the check
    and the change then read the same database), else on session_scope()'s."""
    return {
        "merchant_id": merchant_id,
        "subscriber_id": subscriber_id,
        "portal_session_id": portal_session_id,
        "engine": engine,
    }


def test_mode() -> bool:
    """Whether the configured gateway moves no real money (the page shows a banner)."""
    return get_gateway().test_mode


@calm_on_database_outage
def portal_summary(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> PortalSummary | None:
    """Everything the portal page shows, read in one transaction; None when the subscriber is gone."""
    with session_scope() as session:
        return _summary(session, merchant_id, subscriber_id, now or utcnow())


def _summary(session: Session, merchant_id: int, subscriber_id: int, now: datetime) -> PortalSummary | None:
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
        if inv.number and inv.finalized_at and is_downloadable(inv.status)
    ]
    return PortalSummary(
        merchant_name=merchant.name,
        merchant_slug=merchant.slug,
        support_email=merchant.support_email,
        logo_version=hashlib.sha256(merchant.logo_png).hexdigest()[:12] if merchant.logo_png else "",
        brand_color=effective_color(merchant.brand_color),
        website_url=merchant.website_url,
        subscriber_name=subscriber.name,
        language=subscriber.language,
        billing_name=subscriber.billing_name,
        billing_address=subscriber.billing_address,
        tax_id=subscriber.tax_id,
        subscription=overview,
        cancels_immediately=bool(overview) and overview.cancellation_policy == CancellationPolicy.IMMEDIATELY,
        cancel_not_allowed=bool(overview)
        and overview.cancellation_policy == CancellationPolicy.NOT_ALLOWED
        and not overview.is_ended,
        payment_problem=payment_problem(session, overview, merchant_id=merchant_id, subscriber_id=subscriber_id),
        card=CardSummary.from_row(card_row) if card_row else None,
        card_expired=card_is_expired(card_row, now) if card_row else False,
        invoices=invoices,
        invoice_years=invoice_years(session, merchant_id=merchant_id, subscriber_id=subscriber_id),
    )


# --- actions ---------------------------------------------------------------------------------


def charge_text(charge: ChargeInvoiceResult, lang: str) -> str:
    """What one charge try means for the customer, in their language (the domain hands over codes)."""
    return i18n.payment_message(
        charge.outcome.value,
        lang,
        decline_code=charge.decline_code,
        amount=i18n.fmt_money(charge.amount, lang),
        number=charge.invoice_number,
    )


def error_text(err: BillingError, lang: str) -> str:
    """A refusal's text for the customer in their language (i18n.refusal_text: never the engine's English)."""
    return (
        i18n.t(lang, "service_unavailable")
        if isinstance(err, ServiceUnavailable)
        else i18n.refusal_text(err.message, lang)
    )


def card_update_text(result: CardUpdateResult, lang: str) -> str:
    """What a card update means for the customer, in their language (the retried invoices aside)."""
    if result.outcome is CardUpdateOutcome.UPDATED:
        return i18n.t(lang, "card_saved")
    if result.outcome is CardUpdateOutcome.DECLINED:
        return i18n.decline_message(result.decline_code, lang)
    if result.outcome is CardUpdateOutcome.REQUIRES_ACTION:
        return i18n.decline_message("authentication_required", lang)
    return i18n.t(lang, "processor_unavailable")


@calm_on_database_outage
def save_card(
    *,
    merchant_id: int,
    subscriber_id: int,
    form: object,
    now: datetime | None = None,
    portal_session_id: int | None = None,
) -> CardUpdateResult:
    """Attach the new card (3DS when the bank asks) and retry every open invoice with it at once.
    `form` carries the card component's id only (see card_reference). Step-up protected."""
    engine = get_engine()
    step_up_check(**_who(merchant_id, subscriber_id, portal_session_id, engine), now=now)
    card_input = card_reference(form)
    return update_payment_method(
        engine,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        card_input=card_input,
        gateway=get_gateway(),
        now=now or utcnow(),
    )


@calm_on_database_outage
def confirm_card(
    *,
    merchant_id: int,
    subscriber_id: int,
    setup_ref: str,
    approved: bool,
    now: datetime | None = None,
    portal_session_id: int | None = None,
) -> CardUpdateResult:
    """Finish the bank's challenge for a card setup this session started (setup_ref kept server-side)."""
    engine = get_engine()
    step_up_check(**_who(merchant_id, subscriber_id, portal_session_id, engine), now=now)
    return confirm_payment_method_setup(
        engine,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        setup_ref=setup_ref,
        approved=bool(approved),
        gateway=get_gateway(),
        now=now or utcnow(),
    )


@calm_on_database_outage
def cancel(
    *,
    merchant_id: int,
    subscriber_id: int,
    reason_code: object,
    reason_text: object,
    now: datetime | None = None,
    portal_session_id: int | None = None,
) -> subscriptions.CancelResult:
    """Cancel the live subscription as its plan allows, with an optional reason. Step-up protected."""
    step_up_check(**_who(merchant_id, subscriber_id, portal_session_id), now=now)
    if reason_code not in ("", None, *CANCEL_REASONS):
        raise BillingError("Please choose one of the listed reasons.", field="reason")
    if not isinstance(reason_text, (str, type(None))):
        raise BillingError("Invalid reason.", field="reason")
    reason = ": ".join(part for part in (reason_code or "", (reason_text or "").strip()) if part)
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription to cancel.")
        return subscriptions.cancel_subscription(
            session, sub.id, merchant_id=merchant_id, actor="subscriber", reason=reason, now=now or utcnow()
        )


@calm_on_database_outage
def undo_cancel(*, merchant_id: int, subscriber_id: int, now: datetime | None = None) -> None:
    with session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        if sub is None:
            raise NotFound("There is no subscription.")
        subscriptions.undo_cancellation(
            session, sub.id, merchant_id=merchant_id, actor="subscriber", now=now or utcnow()
        )


@calm_on_database_outage
def save_billing_details(*, merchant_id: int, subscriber_id: int, form: dict) -> None:
    if not isinstance(form, dict):
        raise BillingError("Invalid billing details.")
    with session_scope() as session:
        subscribers.update_billing_details(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            billing_name=form.get("billing_name", ""),
            billing_address=form.get("billing_address", ""),
            tax_id=form.get("tax_id", ""),
            actor="subscriber",
        )


@calm_on_database_outage
def change_language(*, merchant_id: int, subscriber_id: int, language: object) -> None:
    with session_scope() as session:
        subscribers.set_language(session, merchant_id=merchant_id, subscriber_id=subscriber_id, language=language)


@calm_on_database_outage
def request_new_link(*, email: str) -> None:
    """Email each subscriber with this address their current portal link (the invalid-link page's
    form answers the same whether or not anything was sent)."""
    with session_scope() as session:
        notify.send_new_link(session, email=email)


# --- Stripe card entry (Elements in the browser; the server only ever sees pm_/seti_/pi_ ids) ---------


def stripe_mode() -> bool:
    """Cards are entered in Stripe Elements (else in our own form)."""
    return get_gateway().card_entry is CardEntry.STRIPE_ELEMENTS


def _elements_gateway() -> PaymentGateway:
    """The gateway, when its card entry runs in Stripe Elements; NotFound otherwise."""
    gateway = get_gateway()
    if gateway.card_entry is not CardEntry.STRIPE_ELEMENTS:
        raise NotFound("Stripe is not the configured gateway.")
    return gateway


def publishable_key() -> str:
    """The browser's Stripe key (designed to be public); never the secret key."""
    return _elements_gateway().publishable_key


@calm_on_database_outage
def start_card_setup(*, merchant_id: int, subscriber_id: int, portal_session_id: int | None = None) -> str:
    """A SetupIntent for this subscriber's Stripe customer (created on first use): its client secret,
    for Stripe Elements. The card is saved when the browser reports the confirmed seti_ id."""
    gateway = _elements_gateway()
    engine = get_engine()
    step_up_check(**_who(merchant_id, subscriber_id, portal_session_id, engine))
    with new_session(engine) as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        session.expunge(subscriber)
    customer_ref = ensure_gateway_customer(engine, subscriber, gateway)
    _setup_id, client_secret = gateway.create_setup_intent(customer_ref=customer_ref)
    return client_secret


@dataclasses.dataclass(frozen=True)
class PaymentToAuthenticate:
    """An open invoice whose last off-session charge asked for 3DS: what Stripe.js needs to ask the bank."""

    invoice_number: str
    amount: Money
    client_secret: str
    payment_method_ref: str


@calm_on_database_outage
def payment_to_authenticate(*, merchant_id: int, subscriber_id: int) -> PaymentToAuthenticate | None:
    """The subscriber's oldest open invoice waiting for 3DS on its latest attempt, or None."""
    gateway = get_gateway()
    if gateway.card_entry is not CardEntry.STRIPE_ELEMENTS:
        return None
    later = aliased(PaymentAttempt)
    with new_session(get_engine()) as session:
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        row = session.execute(
            sa.select(
                Invoice.number,
                Invoice.total_minor,
                Invoice.currency,
                PaymentAttempt.gateway_ref,
                PaymentMethod.gateway_ref,
            )
            .join(PaymentAttempt, PaymentAttempt.invoice_id == Invoice.id)
            .outerjoin(PaymentMethod, PaymentMethod.id == PaymentAttempt.payment_method_id)
            .where(
                Invoice.merchant_id == merchant_id,
                Invoice.subscriber_id == subscriber_id,
                Invoice.status == I.OPEN,
                Invoice.charging_attempt_id.is_(None),
                PaymentAttempt.status == A.REQUIRES_ACTION,
                # only when it is the invoice's latest attempt (a later retry supersedes it)
                ~sa.exists().where(later.invoice_id == Invoice.id, later.id > PaymentAttempt.id),
            )
            .order_by(Invoice.finalized_at, Invoice.id)
            .limit(1)
        ).first()
    if row is None or not _PI_ID.fullmatch(row[3] or ""):
        return None
    number, total, currency, pi_id, pm_ref = row
    return PaymentToAuthenticate(
        number or "", Money(total, currency), gateway.payment_client_secret(pi_id), pm_ref or ""
    )


@calm_on_database_outage
def finish_payment_authentication(*, merchant_id: int, subscriber_id: int, payment_intent_id: str) -> bool:
    """The browser says the customer authenticated: ask Stripe (never trust the browser), then settle
    like the webhook would. True when the invoice's payment succeeded. Scoped: the intent must be one
    of this subscriber's attempts."""
    gateway = get_gateway()
    if gateway.card_entry is not CardEntry.STRIPE_ELEMENTS or not _PI_ID.fullmatch(payment_intent_id or ""):
        raise NotFound("No payment is waiting for confirmation.")
    engine = get_engine()
    with new_session(engine) as session:
        get_scoped(session, Subscriber, subscriber_id, merchant_id)
        owned = session.execute(
            sa.select(PaymentAttempt.id)
            .join(Invoice, Invoice.id == PaymentAttempt.invoice_id)
            .where(
                PaymentAttempt.merchant_id == merchant_id,
                Invoice.subscriber_id == subscriber_id,
                PaymentAttempt.gateway_ref == payment_intent_id,
            )
        ).first()
    if owned is None:
        raise NotFound("No payment is waiting for confirmation.")
    key, result = gateway.charge_status(payment_intent_id)
    callbacks = EngineCallbacks(engine, gateway=gateway)
    if result.outcome is ChargeOutcome.SUCCEEDED:
        callbacks.payment_succeeded(idempotency_key=key, gateway_ref=payment_intent_id, result=result)
        return True
    if result.outcome is ChargeOutcome.DECLINED:
        callbacks.payment_failed(idempotency_key=key, result=result)
    return False
