"""Console subscribers: keyset search over the merchant's subscribers, and registering one to a plan."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from portal_app import db
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.audit import audit
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.console.forms import (
    LANGUAGES,
    PAGE_SIZE,
    ConsoleError,
    actor_for,
    checkbox,
    email_field,
    form_dict,
    parse_id,
    text_field,
)
from portal_app.billing.facades.portal import card_input_from_form
from portal_app.billing.gateways import get_gateway
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.payments import (
    CardUpdateOutcome,
    update_payment_method,
)
from portal_app.billing.portal_links import issue_portal_link
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.billing.subscriptions import subscribe
from portal_app.billing.tenancy import get_scoped
from portal_app.models import (
    AuditEvent,
    Merchant,
    Plan,
    Subscriber,
    Subscription,
    utcnow,
)
from portal_app.routes import portal_url

S = SubscriptionStatus

MAX_QUERY_LENGTH = 100
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)
BACKDATE_LIMIT_DAYS = 31


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

    form = form_dict(form)
    now = now or utcnow()
    plan_id = parse_id(plan_id, "plan")
    name = text_field(form, "name", label="Name", max_length=120)
    email = email_field(form.get("email", ""))
    language = form.get("language", "") or ""
    start_at = _start_at(form.get("start_date", ""), now)
    card_input = card_input_from_form(form)
    send_invitation = checkbox(form.get("send_invitation", ""))
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
