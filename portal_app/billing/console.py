"""The merchant console's facade: read models and actions as plain calls for the UI.

Every function takes the caller's merchant_id (from the console session, never from the client)
and scopes every query by it: another merchant's ids behave exactly like ids that do not exist
(NotFound). Arguments come from hostile browsers, so each one is type- and range-checked here and
a bad value raises ConsoleError with a message fit for the page; nothing is written before the
whole input is valid. Values come back typed (Money, datetime); the UI formats them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import plans as plan_service
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.accounts import AccountError, add_user, normalize_email
from portal_app.billing.audit import audit
from portal_app.billing.documents.archive import invoice_pdf_filename
from portal_app.billing.errors import BillingError, NotAllowed, NotFound
from portal_app.billing.gateways import get_gateway
from portal_app.billing.invoice_queries import ensure_invoice_pdf, get_invoice, list_invoices
from portal_app.billing.invoices import InvoiceError, invoice_total
from portal_app.billing.money import Money, validate_currency
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.payments.card_updates import CardUpdateOutcome, update_payment_method
from portal_app.billing.payments.cards import CardSummary, card_is_expired, default_payment_method
from portal_app.billing.payments.declines import decline_message
from portal_app.billing.portal_actions import card_input_from_form
from portal_app.billing.portal_links import current_portal_token, issue_portal_link, revoke_portal_links
from portal_app.billing.portal_view import current_subscription
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscription_views import SubscriptionOverview, subscription_overview
from portal_app.billing.subscriptions import subscribe
from portal_app.billing.tenancy import get_scoped
from portal_app.models import (
    AuditEvent,
    EmailMessage,
    Invoice,
    Merchant,
    MerchantUser,
    PaymentAttempt,
    Plan,
    PortalLink,
    Subscriber,
    Subscription,
    utcnow,
)
from portal_app.routes import portal_url
from portal_app.settings import parse_dunning_schedule

S, I, A = SubscriptionStatus, InvoiceStatus, AttemptStatus

PAGE_SIZE = 25
MAX_QUERY_LENGTH = 100
MAX_ID = 2**62
LANGUAGES = ("en", "es")
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)
# Subscriptions that bring in recurring revenue (a past_due one is still owed and retried).
MRR_STATUSES = (S.ACTIVE.value, S.PAST_DUE.value, S.TRIALING.value)
BACKDATE_LIMIT_DAYS = 31
MAX_LOGO_BYTES = 512 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}
CANCEL_REASON_LABELS = {
    "too_expensive": "Too expensive",
    "not_using": "Not using it",
    "missing_features": "Missing features",
    "switching": "Switching to another service",
    "other": "Other",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PREFIX_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,11}$")


class ConsoleError(BillingError):
    """Bad input from the console; `field` names the form field when there is one."""

    code = "invalid_input"


def actor_for(user_id: int) -> str:
    return f"user:{int(user_id)}"


# --- argument checks ---------------------------------------------------------------------------


def parse_id(value: Any, what: str = "record") -> int:
    """A positive database id from the client (int or digit string), or NotFound."""
    if isinstance(value, bool):
        raise NotFound(f"{what.capitalize()} not found")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if not isinstance(value, int) or not 0 < value < MAX_ID:
        raise NotFound(f"{what.capitalize()} not found")
    return value


def _text(form: dict, key: str, *, label: str, max_length: int, required: bool = True, field: str | None = None) -> str:
    value = form.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConsoleError(f"{label}: please enter text.", field=field or key)
    value = value.strip()
    if required and not value:
        raise ConsoleError(f"{label} is required.", field=field or key)
    if len(value) > max_length:
        raise ConsoleError(f"{label} must be at most {max_length} characters.", field=field or key)
    if _CONTROL.search(value):
        raise ConsoleError(f"{label} contains control characters.", field=field or key)
    return value


def _form(form: Any) -> dict:
    if not isinstance(form, dict):
        raise ConsoleError("Invalid form data.")
    return form


def _email(value: Any, field: str = "email") -> str:

    if not isinstance(value, str):
        raise ConsoleError("Enter a valid email address.", field=field)
    try:
        return normalize_email(value)
    except AccountError as err:
        raise ConsoleError(str(err), field=field) from None


def _checkbox(value: Any) -> bool:
    """HTML checkbox/switch values: "on"/"true"/True are checked; anything else is not."""
    return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1", "yes"))


def parse_price(text: Any, currency: str) -> int:
    """'29', '29.00', '1,299.5' -> minor units for the currency; ConsoleError otherwise."""
    if not isinstance(text, str) or len(text) > 20:
        raise ConsoleError("Enter the price as a number, e.g. 29.00.", field="price")
    cleaned = text.strip().replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise ConsoleError("Enter the price as a number, e.g. 29.00.", field="price") from None
    if not amount.is_finite() or amount <= 0:
        raise ConsoleError("The price must be greater than zero.", field="price")
    try:
        return Money.from_decimal(amount, currency).amount_minor
    except ValueError:
        raise ConsoleError(f"{currency} prices can't have that many decimals.", field="price") from None


# --- money helpers ------------------------------------------------------------------------------


_MONTHS_PER = {"day": Fraction(12, 365), "week": Fraction(12, 52), "month": Fraction(1), "year": Fraction(12)}


def monthly_amount_minor(amount_minor: int, interval: str, interval_count: int) -> int:
    """A plan's price normalized to one month (MRR contribution), rounded half up to the minor unit."""
    months = _MONTHS_PER.get(interval, Fraction(1)) * max(int(interval_count or 1), 1)
    value = Fraction(amount_minor) / months
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


def _money_by_currency(amounts: dict[str, int]) -> list[Money]:
    return [Money(amount, currency) for currency, amount in sorted(amounts.items(), key=lambda kv: -kv[1])]


# --- plans --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PlanRow:
    plan_id: int
    name: str
    price: Money
    interval: str
    interval_count: int
    cancellation_policy: str
    active: bool
    subscriber_count: int  # live (not deleted, not ended) subscriptions
    mrr: Money


def _plan_row(plan: Plan, counts: dict[int, int], paying: dict[int, int]) -> PlanRow:
    monthly = monthly_amount_minor(plan.amount_minor, plan.interval, plan.interval_count)
    return PlanRow(
        plan.id,
        plan.name,
        Money(plan.amount_minor, plan.currency),
        plan.interval,
        plan.interval_count,
        plan.cancellation_policy,
        plan.active,
        counts.get(plan.id, 0),
        Money(monthly * paying.get(plan.id, 0), plan.currency),
    )


def _plan_counts(session: Session, merchant_id: int, plan_ids: list[int] | None = None) -> tuple[dict, dict]:
    """{plan_id: live subscriptions}, {plan_id: revenue-bearing subscriptions} in one grouped query."""
    stmt = (
        sa.select(Subscription.plan_id, Subscription.status, sa.func.count())
        .where(
            Subscription.merchant_id == merchant_id,
            Subscription.deleted_at.is_(None),
            Subscription.status != S.CANCELED.value,
        )
        .group_by(Subscription.plan_id, Subscription.status)
    )
    if plan_ids is not None:
        stmt = stmt.where(Subscription.plan_id.in_(plan_ids))
    counts: dict[int, int] = {}
    paying: dict[int, int] = {}
    for plan_id, status, count in session.execute(stmt):
        counts[plan_id] = counts.get(plan_id, 0) + count
        if status in MRR_STATUSES:
            paying[plan_id] = paying.get(plan_id, 0) + count
    return counts, paying


def list_plans(*, merchant_id: int) -> list[PlanRow]:
    """Every plan of the merchant (archived ones too) with subscriber counts and MRR."""
    with db.session_scope() as session:
        plans = plan_service.list_plans(session, merchant_id=merchant_id, include_inactive=True)
        counts, paying = _plan_counts(session, merchant_id)
        return [_plan_row(plan, counts, paying) for plan in plans]


def get_plan(*, merchant_id: int, plan_id: Any) -> PlanRow:
    plan_id = parse_id(plan_id, "plan")
    with db.session_scope() as session:
        plan = get_scoped(session, Plan, plan_id, merchant_id)
        counts, paying = _plan_counts(session, merchant_id, [plan_id])
        return _plan_row(plan, counts, paying)


def plan_fields_from_form(form: Any) -> dict[str, Any]:
    """The plan form (strings from the browser) as typed plan fields, or ConsoleError naming the field."""
    form = _form(form)
    name = _text(form, "name", label="Plan name", max_length=120)
    currency_text = form.get("currency", "")
    try:
        currency = validate_currency(currency_text if isinstance(currency_text, str) else "")
    except ValueError:
        raise ConsoleError("Choose a known currency (ISO 4217 code such as USD or EUR).", field="currency") from None
    amount_minor = parse_price(form.get("price", ""), currency)
    interval = form.get("interval", "")
    if interval not in plan_service.MAX_INTERVAL_COUNT:
        raise ConsoleError("The billing interval must be day, week, month or year.", field="interval")
    count_text = form.get("interval_count", "1") or "1"
    if isinstance(count_text, int) and not isinstance(count_text, bool):
        count_text = str(count_text)
    if not isinstance(count_text, str) or not count_text.strip().isdigit() or len(count_text.strip()) > 4:
        raise ConsoleError("Bill every: enter a whole number.", field="interval_count")
    policy = form.get("cancellation_policy", "")
    if policy not in {p.value for p in plan_service.CancellationPolicy}:
        raise ConsoleError("Choose a cancellation policy.", field="cancellation_policy")
    fields = {
        "name": name,
        "amount_minor": amount_minor,
        "currency": currency,
        "interval": interval,
        "interval_count": int(count_text.strip()),
        "cancellation_policy": policy,
    }
    try:
        fields = plan_service.validate_plan_fields(**fields)
    except plan_service.PlanError as err:
        raise ConsoleError(err.message, field={"amount_minor": "price"}.get(err.field, err.field)) from None
    # An unchecked switch sends nothing: the form marks its presence with active_present.
    fields["active"] = (
        _checkbox(form.get("active", "")) if "active_present" in form else form.get("active", True) is not False
    )
    if "active_present" not in form and "active" in form:
        fields["active"] = _checkbox(form["active"])
    return fields


def save_plan(*, merchant_id: int, user_id: int, form: Any, plan_id: Any = None) -> int:
    """Create a plan (plan_id None) or change one of the merchant's plans; returns its id."""
    fields = plan_fields_from_form(form)
    with db.session_scope() as session:
        if plan_id is None:
            active = fields.pop("active")
            plan = plan_service.create_plan(session, merchant_id=merchant_id, actor=actor_for(user_id), **fields)
            if not active:
                plan_service.update_plan(
                    session, plan.id, merchant_id=merchant_id, actor=actor_for(user_id), active=False
                )
            return plan.id
        plan = plan_service.update_plan(
            session, parse_id(plan_id, "plan"), merchant_id=merchant_id, actor=actor_for(user_id), **fields
        )
        return plan.id


# --- subscriber search --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SubscriberRow:
    subscriber_id: int
    name: str
    email: str
    plan_name: str
    status: str  # of the live subscription shown ("" when none)
    next_renewal_at: datetime | None


@dataclasses.dataclass(frozen=True)
class SubscriberPage:
    rows: list[SubscriberRow]
    has_next: bool
    next_cursor: tuple[str, int] | None  # pass as `after` for the next page


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_subscribers(
    *,
    merchant_id: int,
    plan_id: Any = None,
    query: Any = "",
    status: Any = "",
    after: Any = None,
    page_size: int = PAGE_SIZE,
) -> SubscriberPage:
    """One page of the merchant's subscribers, by name then id, optionally on one plan, with a status,
    and whose name or email contains `query` (case-insensitive).

    Keyset pagination on (name, id) over the (merchant_id, name, id) index: every page costs the same,
    the 4,000th as the first. Plan and status filters are EXISTS probes on the subscription's
    subscriber_id index.
    """
    if query is None:
        query = ""
    if not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH:
        raise ConsoleError(f"Search for at most {MAX_QUERY_LENGTH} characters.", field="query")
    query = query.strip()
    if status not in ("", None, *STATUS_FILTERS):
        raise ConsoleError("Unknown status filter.", field="status")
    if plan_id is not None:
        plan_id = parse_id(plan_id, "plan")
    cursor = None
    if after is not None:
        if (
            not isinstance(after, (list, tuple))
            or len(after) != 2
            or not isinstance(after[0], str)
            or len(after[0]) > 120
        ):
            raise ConsoleError("Invalid page.")
        cursor = (after[0], parse_id(after[1]))
    page_size = max(1, min(int(page_size), 100))

    with db.session_scope() as session:
        if plan_id is not None:
            get_scoped(session, Plan, plan_id, merchant_id)
        stmt = select(Subscriber.id, Subscriber.name, Subscriber.email).where(Subscriber.merchant_id == merchant_id)
        if plan_id is not None or status:
            # Correlated on the subscriber (already scoped to the merchant above): probing by
            # subscriber_id first keeps this an index lookup of one or two rows per subscriber.
            probe = sa.select(Subscription.id).where(
                Subscription.subscriber_id == Subscriber.id,
                Subscription.deleted_at.is_(None),
            )
            if plan_id is not None:
                probe = probe.where(Subscription.plan_id == plan_id)
            if status:
                probe = probe.where(Subscription.status == status)
            stmt = stmt.where(probe.exists())
        if query:
            pattern = f"%{_escape_like(query.lower())}%"
            stmt = stmt.where(
                sa.or_(
                    sa.func.lower(Subscriber.name).like(pattern, escape="\\"),
                    Subscriber.email.like(pattern, escape="\\"),
                )
            )
        if cursor is not None:
            stmt = stmt.where(
                sa.tuple_(Subscriber.name, Subscriber.id) > sa.tuple_(sa.literal(cursor[0]), sa.literal(cursor[1]))
            )
        stmt = stmt.order_by(Subscriber.name, Subscriber.id).limit(page_size + 1)
        found = session.exec(stmt).all()
        has_next = len(found) > page_size
        found = found[:page_size]
        ids = [row[0] for row in found]
        subs: dict[int, tuple[Subscription, str]] = {}
        if ids:
            sub_stmt = (
                select(Subscription, Plan.name)
                .join(Plan, Plan.id == Subscription.plan_id)
                # "+ 0" keeps the tenancy check but stops SQLite from walking the merchant_id
                # index (every subscription of the merchant) instead of the 25 subscriber_ids.
                .where(
                    Subscription.merchant_id + 0 == merchant_id,
                    Subscription.subscriber_id.in_(ids),
                    Subscription.deleted_at.is_(None),
                )
                .order_by(Subscription.id)
            )
            for sub, plan_name in session.exec(sub_stmt):
                # On a plan's page show that plan's subscription (filtered here, not in SQL, so the
                # lookup stays on the subscriber_id index); elsewhere the newest live one.
                if plan_id is None or sub.plan_id == plan_id:
                    subs[sub.subscriber_id] = (sub, plan_name)
        rows = []
        for sid, name, email in found:
            sub, plan_name = subs.get(sid, (None, ""))
            rows.append(
                SubscriberRow(
                    sid,
                    name,
                    email,
                    plan_name,
                    sub.status if sub else "",
                    subscription_service.next_renewal_at(sub) if sub else None,
                )
            )
        next_cursor = (found[-1][1], found[-1][0]) if has_next and found else None
        return SubscriberPage(rows, has_next, next_cursor)


# --- register a subscriber ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RegisterResult:
    subscriber_id: int
    subscription_id: int
    active: bool
    invitation_sent: bool
    message: str


def _start_at(value: Any, now: datetime) -> datetime:
    """'' or today -> now; an earlier date (up to a month back) -> that day's midnight UTC."""
    if value in (None, ""):
        return now
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        raise ConsoleError("Enter the start date as YYYY-MM-DD.", field="start_date")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ConsoleError("Enter a real start date.", field="start_date") from None
    today = now.astimezone(UTC).date()
    if day > today:
        raise ConsoleError("The start date can't be in the future.", field="start_date")
    if day < today - timedelta(days=BACKDATE_LIMIT_DAYS):
        raise ConsoleError(f"The start date can be at most {BACKDATE_LIMIT_DAYS} days ago.", field="start_date")
    return now if day == today else datetime.combine(day, time(0, 0), tzinfo=UTC)


def register_subscriber(
    *, merchant_id: int, user_id: int, plan_id: Any, form: Any, gateway=None, now: datetime | None = None
) -> RegisterResult:
    """Create a subscriber, save their card through the gateway, start the subscription on the plan
    and charge its first invoice; then email the portal link unless the form says not to.

    Everything is validated before anything is written; a card the gateway refuses leaves nothing
    behind (the subscriber row is removed again)."""

    form = _form(form)
    now = now or utcnow()
    plan_id = parse_id(plan_id, "plan")
    name = _text(form, "name", label="Name", max_length=120)
    email = _email(form.get("email", ""))
    language = form.get("language", "") or ""
    start_at = _start_at(form.get("start_date", ""), now)
    card_input = card_input_from_form(form)
    send_invitation = _checkbox(form.get("send_invitation", ""))
    actor = actor_for(user_id)
    gateway = gateway or get_gateway()

    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        language = language or merchant.default_language or "en"
        if language not in LANGUAGES:
            raise ConsoleError("Choose English or Spanish.", field="language")
        plan = get_scoped(session, Plan, plan_id, merchant_id)
        if not plan.active:
            raise ConsoleError("This plan is archived: activate it before registering subscribers.")
        duplicate = session.exec(
            select(Subscription.id)
            .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
            .where(
                Subscriber.merchant_id == merchant_id,
                Subscriber.email == email,
                Subscription.plan_id == plan_id,
                Subscription.deleted_at.is_(None),
                Subscription.status != S.CANCELED.value,
            )
        ).first()
        if duplicate is not None:
            raise ConsoleError("This email already has a live subscription on this plan.", field="email")
        subscriber = Subscriber(merchant_id=merchant_id, name=name, email=email, language=language, created_at=now)
        session.add(subscriber)
        session.flush()
        subscriber_id = subscriber.id

    card = update_payment_method(
        db.get_engine(),
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        card_input=card_input,
        gateway=gateway,
        now=now,
        actor=actor,
    )
    if card.outcome is not CardUpdateOutcome.UPDATED:
        with db.session_scope() as session:
            session.execute(sa.delete(AuditEvent.__table__).where(AuditEvent.subscriber_id == subscriber_id))
            session.execute(
                sa.delete(Subscriber.__table__).where(
                    Subscriber.id == subscriber_id, Subscriber.merchant_id == merchant_id
                )
            )
        if card.outcome is CardUpdateOutcome.REQUIRES_ACTION:
            raise ConsoleError(
                "This card needs the cardholder to approve it with their bank (3D Secure), "
                "which can't be done from the console. Use another card.",
                field="number",
            )
        raise ConsoleError(card.message, field="number")

    with db.session_scope() as session:
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            actor=actor,
            kind="subscriber_registered",
            detail={"plan_id": plan_id, "send_invitation": send_invitation},
            now=now,
        )
    result = subscribe(
        db.get_engine(),
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        plan_id=plan_id,
        start_at=start_at,
        gateway=gateway,
        now=now,
        actor=actor,
    )
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, subscriber_id)
        merchant = session.get(Merchant, merchant_id)
        token = issue_portal_link(session, subscriber, now=now)
        if send_invitation:
            send_subscriber_email(
                session,
                merchant=merchant,
                subscriber=subscriber,
                kind="invitation",
                now=now,
                context={"plan_name": plan.name, "portal_url": portal_url(token)},
            )
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=subscriber_id,
                actor=actor,
                kind="invitation_sent",
                detail={},
                now=now,
            )
    if result.active:
        message = f"{name} is subscribed to {plan.name}; the first payment succeeded."
    else:
        message = (
            f"{name} is registered, but the first payment failed: {result.charge.message} "
            "They can fix their card in the portal."
        )
    return RegisterResult(subscriber_id, result.subscription_id, result.active, send_invitation, message)


# --- subscriber profile ---------------------------------------------------------------------------


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
    portal_url: str  # "" when there is no live link
    last_visit_at: datetime | None


def _has_deleted_only(session: Session, merchant_id: int, subscriber_id: int) -> bool:
    rows = (
        session.execute(
            sa.select(Subscription.deleted_at).where(
                Subscription.merchant_id == merchant_id, Subscription.subscriber_id == subscriber_id
            )
        )
        .scalars()
        .all()
    )
    return bool(rows) and all(value is not None for value in rows)


def subscriber_profile(*, merchant_id: int, subscriber_id: Any, now: datetime | None = None) -> SubscriberProfile:
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = get_scoped(session, Subscriber, subscriber_id, merchant_id)
        sub = current_subscription(session, merchant_id, subscriber_id)
        overview = subscription_overview(session, sub.id, merchant_id=merchant_id, now=now) if sub else None
        card_row = default_payment_method(session, merchant_id=merchant_id, subscriber_id=subscriber_id)
        deleted = _has_deleted_only(session, merchant_id, subscriber_id)
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
                inv.status != I.VOID and inv.finalized_at is not None,
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
            portal_url(token) if token else "",
            last_visit,
        )


@dataclasses.dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    category: str  # email | visit | card | payment | subscription | link | other
    title: str
    detail: str


_AUDIT_TITLES = {
    "subscriber_registered": ("subscription", "Registered in the console"),
    "subscription_started": ("subscription", "Subscription started"),
    "subscription_canceled": ("subscription", "Subscription canceled"),
    "cancellation_undone": ("subscription", "Cancellation undone"),
    "subscription_deleted": ("subscription", "Subscription deleted"),
    "subscription_reactivated": ("subscription", "Subscription active again"),
    "payment_method_updated": ("card", "Card changed"),
    "portal_visit": ("visit", "Opened the portal"),
    "billing_details_updated": ("other", "Billing details updated"),
    "portal_link_regenerated": ("link", "Portal link regenerated (old link revoked)"),
    "invitation_sent": ("email", "Invitation sent from the console"),
    "invoice_marked_paid": ("payment", "Invoice marked paid"),
    "invoice_voided": ("payment", "Invoice voided"),
    "invoice_uncollectible": ("payment", "Invoice marked uncollectible"),
}


def _audit_detail(kind: str, detail: dict) -> str:
    if kind == "subscription_canceled":
        parts = ["immediately" if detail.get("immediate") else "at period end"]
        if detail.get("reason"):
            parts.append(f"reason: {detail['reason']}")
        return "; ".join(parts)
    if kind == "payment_method_updated":
        return f"{str(detail.get('brand', '')).title()} ending in {detail.get('last4', '')}, expires {detail.get('exp', '')}"
    if kind == "subscription_started":
        return f"{detail.get('plan', '')} (first invoice {detail.get('invoice', '')})"
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
            category, title = _AUDIT_TITLES.get(event.kind, (fallback, event.kind.replace("_", " ").capitalize()))
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
            state = {"outbox": "in the outbox", "sent": "sent", "failed": "failed"}.get(message.status, message.status)
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
            elif attempt.status == A.FAILED:
                title = f"{kind} of {amount} failed"
                detail = decline_message(attempt.decline_code) + (
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
    if _has_deleted_only(session, merchant_id, subscriber_id):
        raise NotAllowed("This subscriber's subscription was deleted: their portal is closed.")
    return subscriber


def regenerate_portal_link(*, merchant_id: int, user_id: int, subscriber_id: Any, now: datetime | None = None) -> str:
    """Revoke the subscriber's link (and the browser sessions opened with it) and issue a new one;
    returns the new portal URL."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        token = issue_portal_link(session, subscriber, now=now)
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            actor=actor_for(user_id),
            kind="portal_link_regenerated",
            detail={},
            now=now,
        )
        return portal_url(token)


def send_invitation(*, merchant_id: int, user_id: int, subscriber_id: Any, now: datetime | None = None) -> str:
    """Email the subscriber their current portal link again; returns the address it went to."""
    subscriber_id = parse_id(subscriber_id, "subscriber")
    now = now or utcnow()
    with db.session_scope() as session:
        subscriber = _live_subscriber(session, merchant_id, subscriber_id)
        merchant = session.get(Merchant, merchant_id)
        sub = current_subscription(session, merchant_id, subscriber_id)
        plan = session.get(Plan, sub.plan_id) if sub else None
        context = {"plan_name": plan.name} if plan else {}
        send_subscriber_email(
            session, merchant=merchant, subscriber=subscriber, kind="invitation", now=now, context=context
        )
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            actor=actor_for(user_id),
            kind="invitation_sent",
            detail={},
            now=now,
        )
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
        # No live subscription left: the link must die even if an older one lingers.
        if current_subscription(session, merchant_id, subscriber_id) is None:
            revoke_portal_links(session, merchant_id=merchant_id, subscriber_id=subscriber_id, now=now)


def invoice_pdf(*, merchant_id: int, invoice_id: Any) -> tuple[str, bytes]:
    """(filename, PDF bytes) of one of the merchant's finalized invoices."""
    invoice_id = parse_id(invoice_id, "invoice")
    with db.session_scope() as session:
        invoice = get_invoice(session, invoice_id, merchant_id=merchant_id)
        if invoice.finalized_at is None or invoice.status == I.VOID:
            raise NotFound("Invoice not found")
        try:
            data = ensure_invoice_pdf(session, invoice.id, merchant_id=merchant_id)
        except InvoiceError:
            raise NotFound("Invoice not found") from None
        return invoice_pdf_filename(invoice), data


# --- dashboard ----------------------------------------------------------------------------------


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
    cancellation_reasons: list[tuple[str, int]]  # (label, count), most frequent first
    mrr_history: list[MrrPoint]  # last 12 month ends, in the main currency


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
            if plan is not None and status in MRR_STATUSES:
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
        reasons: dict[str, int] = {}
        for (reason,) in session.execute(
            sa.select(Subscription.cancellation_reason).where(
                Subscription.merchant_id == merchant_id, Subscription.canceled_at.is_not(None)
            )
        ):
            label = reason_label(reason)
            reasons[label] = reasons.get(label, 0) + 1
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
            mrr=_money_by_currency(mrr),
            active=by_status.get(S.ACTIVE.value, 0) + by_status.get(S.TRIALING.value, 0),
            past_due=by_status.get(S.PAST_DUE.value, 0) + by_status.get(S.UNPAID.value, 0),
            canceled=by_status.get(S.CANCELED.value, 0),
            recovered_count=recovered_count,
            recovered=_money_by_currency(recovered),
            cancellation_reasons=sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
            mrr_history=history,
        )


# --- settings, branding, team ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MerchantSettings:
    name: str
    slug: str
    invoice_prefix: str
    support_email: str
    default_language: str
    dunning_schedule_days: str
    dunning_end_state: str
    has_logo: bool
    logo_version: str


def merchant_settings(*, merchant_id: int) -> MerchantSettings:
    import hashlib

    with db.session_scope() as session:
        m = session.get(Merchant, merchant_id)
        if m is None:
            raise NotFound("Merchant not found")
        return MerchantSettings(
            m.name,
            m.slug,
            m.invoice_prefix,
            m.support_email,
            m.default_language,
            m.dunning_schedule_days,
            m.dunning_end_state,
            bool(m.logo_png),
            hashlib.sha256(m.logo_png).hexdigest()[:12] if m.logo_png else "",
        )


MAX_DUNNING_DAY = 60
MAX_DUNNING_STEPS = 10


def save_merchant_settings(*, merchant_id: int, user_id: int, form: Any) -> None:
    """Company name, invoice prefix, support email, default language, dunning schedule and end state."""
    form = _form(form)
    name = _text(form, "name", label="Company name", max_length=120)
    prefix = _text(form, "invoice_prefix", label="Invoice prefix", max_length=12).upper()
    if not _PREFIX_RE.fullmatch(prefix):
        raise ConsoleError("Invoice prefix: letters, digits and dashes only (up to 12).", field="invoice_prefix")
    support = form.get("support_email", "")
    support = _email(support, "support_email") if isinstance(support, str) and support.strip() else ""
    language = form.get("default_language", "")
    if language not in LANGUAGES:
        raise ConsoleError("Choose English or Spanish.", field="default_language")
    schedule_text = _text(form, "dunning_schedule_days", label="Retry schedule", max_length=60)
    try:
        days = parse_dunning_schedule(schedule_text)
    except ValueError:
        raise ConsoleError(
            "Retry schedule: increasing whole days after the failure, e.g. 1, 3, 5, 7.", field="dunning_schedule_days"
        ) from None
    if len(days) > MAX_DUNNING_STEPS or days[-1] > MAX_DUNNING_DAY:
        raise ConsoleError(
            f"Retry schedule: at most {MAX_DUNNING_STEPS} retries within {MAX_DUNNING_DAY} days.",
            field="dunning_schedule_days",
        )
    end_state = form.get("dunning_end_state", "")
    if end_state not in (S.UNPAID.value, S.CANCELED.value):
        raise ConsoleError(
            "After the last retry the subscription becomes unpaid or canceled.", field="dunning_end_state"
        )
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        values = {
            "name": name,
            "invoice_prefix": prefix,
            "support_email": support,
            "default_language": language,
            "dunning_schedule_days": ",".join(str(d) for d in days),
            "dunning_end_state": end_state,
        }
        changed = {k: v for k, v in values.items() if getattr(merchant, k) != v}
        for key, value in changed.items():
            setattr(merchant, key, value)
        session.add(merchant)
        if changed:
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=None,
                actor=actor_for(user_id),
                kind="settings_updated",
                detail=changed,
            )


def logo_content_type(data: bytes) -> str | None:
    """'image/png' or 'image/jpeg' by magic bytes (never by the file name or the browser's word)."""
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


def save_logo(*, merchant_id: int, user_id: int, data: Any) -> None:
    """Store a PNG or JPEG logo (checked by magic bytes and decoded once, at most MAX_LOGO_BYTES)."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise ConsoleError("Choose a PNG or JPEG file.", field="logo")
    if len(data) > MAX_LOGO_BYTES:
        raise ConsoleError(f"The logo must be at most {MAX_LOGO_BYTES // 1024} KB.", field="logo")
    content_type = logo_content_type(bytes(data))
    if content_type is None:
        raise ConsoleError("The logo must be a PNG or JPEG image.", field="logo")
    try:
        import io

        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise ValueError(image.format)
            if image.width > 4000 or image.height > 4000:
                raise ConsoleError("The logo must be at most 4000 × 4000 pixels.", field="logo")
            image.verify()
    except ConsoleError:
        raise
    except Exception:  # noqa: BLE001 - any decoding failure means "not an image we can use"
        raise ConsoleError("This file is not a readable PNG or JPEG image.", field="logo") from None
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        merchant.logo_png = bytes(data)
        merchant.logo_content_type = content_type
        session.add(merchant)
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor_for(user_id),
            kind="logo_updated",
            detail={"bytes": len(data), "type": content_type},
        )


def remove_logo(*, merchant_id: int, user_id: int) -> None:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        merchant.logo_png = None
        merchant.logo_content_type = ""
        session.add(merchant)
        audit(session, merchant_id=merchant_id, subscriber_id=None, actor=actor_for(user_id), kind="logo_removed")


@dataclasses.dataclass(frozen=True)
class TeamMember:
    user_id: int
    email: str
    name: str
    created_at: datetime


def list_team(*, merchant_id: int) -> list[TeamMember]:
    with db.session_scope() as session:
        return [
            TeamMember(u.id, u.email, u.name, u.created_at)
            for u in session.exec(
                select(MerchantUser).where(MerchantUser.merchant_id == merchant_id).order_by(MerchantUser.id)
            )
        ]


def add_team_member(*, merchant_id: int, user_id: int, form: Any) -> str:
    """Another console user for this merchant (email + password); returns the email."""

    form = _form(form)
    name = _text(form, "name", label="Name", max_length=120, required=False)
    email = form.get("email", "")
    password = form.get("password", "")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ConsoleError("Enter an email and a password.")
    if len(password) > 256:
        raise ConsoleError("Use a password of 12 to 256 characters.", field="password")
    try:
        with db.session_scope() as session:
            user = add_user(session, merchant_id=merchant_id, email=email[:300], password=password, name=name)
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=None,
                actor=actor_for(user_id),
                kind="user_added",
                detail={"user_id": user.id, "email": user.email},
            )
            return user.email
    except AccountError as err:
        raise ConsoleError(str(err)) from None


# --- outbox -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class OutboxMessage:
    message_id: int
    created_at: datetime
    to_address: str
    subject: str
    kind: str
    status: str
    body_text: str
    subscriber_id: int | None


def list_outbox(*, merchant_id: int, page: Any = 1, page_size: int = PAGE_SIZE) -> tuple[list[OutboxMessage], bool]:
    """The merchant's emails, newest first (the outbox when no SMTP server is configured)."""
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= 100_000:
        raise ConsoleError("Invalid page.")
    with db.session_scope() as session:
        rows = session.exec(
            select(EmailMessage)
            .where(EmailMessage.merchant_id == merchant_id)
            .order_by(EmailMessage.id.desc())
            .offset((page - 1) * page_size)
            .limit(page_size + 1)
        ).all()
        messages = [
            OutboxMessage(m.id, m.created_at, m.to_address, m.subject, m.kind, m.status, m.body_text, m.subscriber_id)
            for m in rows[:page_size]
        ]
        return messages, len(rows) > page_size
