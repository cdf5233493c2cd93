"""Export filters: what the CSV downloads (exports.py) accept, from a query string or as values.

Every value is checked before a row is read: unknown or repeated names and bad values are
ExportErrors (the routes answer 400). Ids of another merchant are valid ids that match nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from portal_app.billing import subscriber_search
from portal_app.billing.errors import BillingError
from portal_app.billing.statuses import InvoiceStatus

MAX_ID = 2**63 - 1
INVOICE_STATUSES = tuple(s.value for s in InvoiceStatus)


class ExportError(BillingError):
    """A filter that cannot be used as given (the HTTP routes answer 400 with its message)."""

    code = "invalid_request"


# --- filters -------------------------------------------------------------------------------------


def _text(value: Any, name: str, max_length: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise ExportError(f"{name}: text of at most {max_length} characters.", field=name)
    return value.strip()


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value in (None, ""):
        return ""
    if value not in choices:
        raise ExportError(f"{name}: one of {', '.join(choices)}.", field=name)
    return value


def _id(value: Any, name: str) -> int | None:
    """A positive id (int or ASCII digit string), None when not given."""
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        raise ExportError(f"{name}: a positive whole number.", field=name)
    return value


def _moment(value: Any, name: str, *, end: bool) -> datetime | None:
    """A date (YYYY-MM-DD: its whole day, in UTC) or an ISO 8601 instant (no offset: UTC).

    As an upper bound (`end`), a date includes that day and an instant is exclusive."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value + timedelta(days=1) if end else value, time.min)
    elif isinstance(value, str) and value.isascii() and 10 <= len(value) <= 40:
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                moment = datetime.combine(day + timedelta(days=1) if end else day, time.min)
            else:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            raise ExportError(f"{name}: a date (YYYY-MM-DD) or an ISO 8601 time.", field=name) from None
    else:
        raise ExportError(f"{name}: a date (YYYY-MM-DD) or an ISO 8601 time.", field=name)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclasses.dataclass(frozen=True)
class SubscriberFilters:
    """The console subscribers list's filters: name/email text, subscription status, plan."""

    query: str = ""
    status: str = ""
    plan_id: int | None = None

    @classmethod
    def parse(cls, *, query: Any = "", status: Any = "", plan_id: Any = None) -> SubscriberFilters:
        return cls(
            _text(query, "query", subscriber_search.MAX_QUERY_LENGTH),
            _choice(status, "status", subscriber_search.STATUS_FILTERS),
            _id(plan_id, "plan_id"),
        )


@dataclasses.dataclass(frozen=True)
class InvoiceFilters:
    """Invoice filters: status, subscriber, subscription, plan, and when it was finalized
    (finalized_from inclusive; finalized_to: up to and including that day, or before that instant)."""

    status: str = ""
    subscriber_id: int | None = None
    subscription_id: int | None = None
    plan_id: int | None = None
    finalized_from: datetime | None = None
    finalized_to: datetime | None = None

    @classmethod
    def parse(
        cls,
        *,
        status: Any = "",
        subscriber_id: Any = None,
        subscription_id: Any = None,
        plan_id: Any = None,
        finalized_from: Any = None,
        finalized_to: Any = None,
    ) -> InvoiceFilters:
        filters = cls(
            _choice(status, "status", INVOICE_STATUSES),
            _id(subscriber_id, "subscriber_id"),
            _id(subscription_id, "subscription_id"),
            _id(plan_id, "plan_id"),
            _moment(finalized_from, "finalized_from", end=False),
            _moment(finalized_to, "finalized_to", end=True),
        )
        if filters.finalized_from and filters.finalized_to and filters.finalized_from >= filters.finalized_to:
            raise ExportError("finalized_from must come before finalized_to.", field="finalized_from")
        return filters


def _from_query(cls, params: Mapping[str, str] | Iterable[tuple[str, str]], ignore: Iterable[str]):
    items = list(params.items() if isinstance(params, Mapping) else params)
    names = [name for name, _ in items if name not in set(ignore)]
    allowed = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise ExportError(f"Unknown filter: {unknown[0][:40]}. Filters: {', '.join(sorted(allowed))}.")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ExportError(f"{repeated[0]}: give it once.", field=repeated[0])
    return cls.parse(**{name: value for name, value in items if name in allowed})


def subscriber_filters_from_query(
    params: Mapping[str, str] | Iterable[tuple[str, str]], *, ignore: Iterable[str] = ()
) -> SubscriberFilters:
    """Filters from a query string's (name, value) pairs; unknown or repeated names are ExportErrors."""
    return _from_query(SubscriberFilters, params, ignore)


def invoice_filters_from_query(
    params: Mapping[str, str] | Iterable[tuple[str, str]], *, ignore: Iterable[str] = ()
) -> InvoiceFilters:
    """Filters from a query string's (name, value) pairs (e.g. request.query_params.multi_items(),
    ignore=("format",) for the REST API); unknown or repeated names are ExportErrors."""
    return _from_query(InvoiceFilters, params, ignore)
