"""The merchant's subscribers as the console lists them: the filtered query (name or email text,
plan, subscription status) ordered by (name, id) for keyset pages, and the subscription each row shows.

One builder for the console's pages (facades/console/subscribers.py) and the CSV export (exports.py),
so a download has exactly the rows the screen had.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.search_index import text_matches
from portal_app.billing.search_text import fold
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.models import Plan, Subscriber, Subscription

MAX_QUERY_LENGTH = 100
STATUS_FILTERS = tuple(s.value for s in SubscriptionStatus)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def subscribers_statement(
    session: Session,
    *,
    merchant_id: int,
    plan_id: int | None = None,
    query: str = "",
    status: str = "",
    after: tuple[str, int] | None = None,
    limit: int,
):
    """SELECT (id, name, email) of the merchant's subscribers, by name then id, after the keyset
    cursor `after` = (name, id), optionally on one plan, with a status, and whose name or email
    contains `query` (case- and accent-insensitive, any script: both sides folded by
    billing/search_text.fold; "%" and "_" are literal). Arguments are already validated.

    Keyset pagination on (name, id) over the (merchant_id, name, id) index: every page costs the same,
    the 4,000th as the first. Plan and status filters are EXISTS probes on the subscription's
    subscriber_id index. Another merchant's plan id matches nothing. A text query the trigram index
    (search_index.py) narrows to a few ids reads just those rows: no scan when nothing matches.
    """
    folded = fold(query)
    # The ids the trigram index narrows a text query to (None: it cannot narrow; scan in name order).
    among = text_matches(session, merchant_id=merchant_id, folded=folded) if folded else None
    if among is not None:
        # Read just those rows by primary key: "+ 0" keeps the tenancy check off the (merchant_id,
        # name) index, which SQLite would otherwise walk in order, testing each entry against the ids.
        stmt = select(Subscriber.id, Subscriber.name, Subscriber.email).where(
            Subscriber.id.in_(among) if among else sa.false(), Subscriber.merchant_id + 0 == merchant_id
        )
    else:
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
    if folded:
        # search_text = fold(name) + " " + fold(email), kept by a mapper event (models.py): the
        # same rule on SQLite (whose lower() is ASCII-only) and PostgreSQL.
        stmt = stmt.where(Subscriber.search_text.like(f"%{escape_like(folded)}%", escape="\\"))
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(Subscriber.name, Subscriber.id) > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    return stmt.order_by(Subscriber.name, Subscriber.id).limit(limit)


def shown_subscriptions(
    session: Session, *, merchant_id: int, subscriber_ids: list[int], plan_id: int | None = None
) -> dict[int, tuple[Subscription, str]]:
    """{subscriber id: (the subscription its row shows, its plan's name)}: on a plan's page that plan's
    subscription, elsewhere the newest live one. Subscribers without one are absent."""
    shown: dict[int, tuple[Subscription, str]] = {}
    if not subscriber_ids:
        return shown
    stmt = (
        select(Subscription, Plan.name)
        .join(Plan, Plan.id == Subscription.plan_id)
        # "+ 0" keeps the tenancy check but stops SQLite from walking the merchant_id
        # index (every subscription of the merchant) instead of the page's subscriber_ids.
        .where(
            Subscription.merchant_id + 0 == merchant_id,
            Subscription.subscriber_id.in_(subscriber_ids),
            Subscription.deleted_at.is_(None),
        )
        .order_by(Subscription.id)
    )
    for sub, plan_name in session.exec(stmt):
        # Filtered here, not in SQL, so the lookup stays on the subscriber_id index.
        if plan_id is None or sub.plan_id == plan_id:
            shown[sub.subscriber_id] = (sub, plan_name)
    return shown
