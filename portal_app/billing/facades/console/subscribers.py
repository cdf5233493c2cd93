"""Console subscribers: keyset search over the merchant's subscribers (registering one: registration.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from portal_app import db
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.facades.console.forms import (
    PAGE_SIZE,
    ConsoleError,
    has_control_characters,
    parse_id,
)
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.billing.tenancy import get_scoped
from portal_app.models import (
    Plan,
    Subscriber,
    Subscription,
)

S = SubscriptionStatus

MAX_QUERY_LENGTH = 100
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)


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


def escape_like(text: str) -> str:
    """text for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves."""
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
    if has_control_characters(query):
        raise ConsoleError("Search for letters, digits and punctuation only.", field="query")
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
            pattern = f"%{escape_like(query.lower())}%"
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
