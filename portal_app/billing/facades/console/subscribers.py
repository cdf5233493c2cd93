"""Console subscribers: keyset search over the merchant's subscribers (registering one: registration.py)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from portal_app import db
from portal_app.billing import subscriber_search
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.facades.console.forms import (
    PAGE_SIZE,
    ConsoleError,
    has_control_characters,
    parse_id,
)
from portal_app.billing.subscriber_search import MAX_QUERY_LENGTH, STATUS_FILTERS
from portal_app.billing.subscription_views import status_key, status_label
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Plan

__all__ = ["MAX_QUERY_LENGTH", "STATUS_FILTERS", "SubscriberPage", "SubscriberRow", "search_subscribers"]


@dataclasses.dataclass(frozen=True)
class SubscriberRow:
    subscriber_id: int
    name: str
    email: str
    plan_name: str
    status: str  # the badge of the live subscription shown (subscription_views.status_key; "" when none)
    next_renewal_at: datetime | None
    status_label: str = "No subscription"  # subscription_views.status_label: "Active · cancels Dec 21, 2026"


@dataclasses.dataclass(frozen=True)
class SubscriberPage:
    rows: list[SubscriberRow]
    has_next: bool
    next_cursor: tuple[str, int] | None  # pass as `after` for the next page


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
    and whose name or email contains `query` (case- and accent-insensitive: "nunez" finds "Ñúñez").

    The query is billing/subscriber_search.py's (keyset pages on (name, id), each as fast as the first).
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
        stmt = subscriber_search.subscribers_statement(
            session,
            merchant_id=merchant_id,
            plan_id=plan_id,
            query=query,
            status=status or "",
            after=cursor,
            limit=page_size + 1,
        )
        found = session.exec(stmt).all()
        has_next = len(found) > page_size
        found = found[:page_size]
        subs = subscriber_search.shown_subscriptions(
            session, merchant_id=merchant_id, subscriber_ids=[row[0] for row in found], plan_id=plan_id
        )
        rows = []
        for sid, name, email in found:
            sub, plan_name = subs.get(sid, (None, ""))
            rows.append(
                SubscriberRow(
                    sid,
                    name,
                    email,
                    plan_name,
                    status_key(sub) if sub else "",
                    subscription_service.next_renewal_at(sub) if sub else None,
                    status_label(sub) if sub else "No subscription",
                )
            )
        next_cursor = (found[-1][1], found[-1][0]) if has_next and found else None
        return SubscriberPage(rows, has_next, next_cursor)
