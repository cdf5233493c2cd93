"""CSV exports of a merchant's subscribers and invoices, streamed: chunks of text, never the whole file.

Each batch of rows (BATCH_SIZE) is one short query in its own session, resumed after the last row's
key (keyset pagination), so 100k rows cost the memory of one batch and no transaction stays open
while the client downloads. Rows added while an export runs may appear if they sort after the cursor.

Format (RFC 4180): UTF-8, a header row, CRLF line ends, fields quoted when needed. Amounts are
decimal strings in major units with the invoice's currency beside them (`29.00`,`EUR`; `2900`,`JPY`),
the same exact numbers the invoice shows (the REST API's JSON gives minor units). Times are ISO 8601
UTC (`2026-03-01T09:30:00Z`), empty when not set. Text that people typed (names, emails, plan names,
invoice numbers) is guarded against formula injection: a cell starting with = + - @ tab or CR gets a
leading apostrophe, so a spreadsheet shows it as text instead of running it.

`bom=True` puts a UTF-8 byte order mark first: without it Excel reads a CSV file as the local ANSI
code page and "Zoë Ñúñez" arrives garbled. The console's downloads (opened in spreadsheets) use it;
the REST API's `format=csv` does not (programs reading CSV do not expect one).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from portal_app import db
from portal_app.billing import subscriber_search
from portal_app.billing.export_filters import (
    ExportError,
    InvoiceFilters,
    SubscriberFilters,
    invoice_filters_from_query,
    subscriber_filters_from_query,
)
from portal_app.billing.money import minor_digits
from portal_app.billing.subscriptions import next_renewal_at
from portal_app.models import Invoice, Plan, Subscriber, Subscription

BATCH_SIZE = 1000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

SUBSCRIBER_COLUMNS = (
    "subscriber_id",
    "name",
    "email",
    "language",
    "created_at",
    "subscription_id",
    "plan_id",
    "plan",
    "status",
    "current_period_end",
    "next_renewal_at",
    "cancel_at_period_end",
)
__all__ = [
    "INVOICE_COLUMNS",
    "SUBSCRIBER_COLUMNS",
    "ExportError",
    "InvoiceFilters",
    "SubscriberFilters",
    "invoice_filters_from_query",
    "iter_invoices_csv",
    "iter_subscribers_csv",
    "subscriber_filters_from_query",
]
INVOICE_COLUMNS = (
    "invoice_id",
    "number",
    "status",
    "subscriber_id",
    "subscriber_name",
    "subscriber_email",
    "billing_name",
    "subscription_id",
    "plan_id",
    "plan",
    "currency",
    "subtotal",
    "tax",
    "total",
    "tax_rate_percent",
    "period_start",
    "period_end",
    "created_at",
    "finalized_at",
    "due_at",
    "paid_at",
    "voided_at",
    "attempt_count",
)


# --- cells ---------------------------------------------------------------------------------------


def safe_text(value: str | None) -> str:
    """Text a person typed, made inert for spreadsheets (no formula can start the cell)."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def iso(moment: datetime | str | None) -> str:
    """ISO 8601 UTC to the second, `Z` for the zone: from an aware datetime, or from the text SQLite
    stores our UTC columns as ("2026-03-01 09:30:00.000000", see _raw_timestamp)."""
    if moment is None:
        return ""
    if isinstance(moment, str):
        return f"{moment[:10]}T{moment[11:19]}Z"
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds")[:19] + "Z"


def _raw_timestamp(column, dialect: str):
    """A UTC column read without its per-value Python conversion (most of an export's time): SQLite
    gives its stored UTC text, PostgreSQL an aware datetime (iso() takes either)."""
    return sa.type_coerce(column, sa.String() if dialect == "sqlite" else sa.DateTime(timezone=True)).label(column.key)


_DIGITS: dict[str, int] = {}


def major_units(amount_minor: int, currency: str) -> str:
    """29.00 for 2900 EUR cents; 2900 for 2900 JPY (exact integer arithmetic, never a float)."""
    digits = _DIGITS.get(currency)
    if digits is None:
        digits = _DIGITS[currency] = minor_digits(currency)
    amount = int(amount_minor)
    if digits == 0:
        return str(amount)
    whole, part = divmod(abs(amount), 10**digits)
    return f"{'-' if amount < 0 else ''}{whole}.{part:0{digits}d}"


def _percent(basis_points: int) -> str:
    """2100 basis points -> 21.00."""
    return major_units(basis_points, "EUR")  # two decimals, the same exact arithmetic


class _Writer:
    """Rows in, CSV text out: what was written since the last take()."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._csv = csv.writer(self._buffer)

    def row(self, values: Iterable[Any]) -> None:
        self._csv.writerow(values)

    def take(self) -> str:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text


# --- subscribers ---------------------------------------------------------------------------------


def iter_subscribers_csv(
    *,
    merchant_id: int,
    query: Any = "",
    status: Any = "",
    plan_id: Any = None,
    bom: bool = False,
    batch_size: int = BATCH_SIZE,
    engine: sa.Engine | None = None,
) -> Iterator[str]:
    """The merchant's subscribers as the console lists them (same filters, order and shown
    subscription), as CSV text chunks: SUBSCRIBER_COLUMNS. Filters are checked now (ExportError),
    rows read as the chunks are taken. Another merchant's plan id matches nothing."""
    filters = SubscriberFilters.parse(query=query, status=status, plan_id=plan_id)
    return _subscriber_chunks(merchant_id, filters, bom, max(1, int(batch_size)), engine)


def _subscriber_chunks(merchant_id, filters: SubscriberFilters, bom, batch_size, engine) -> Iterator[str]:
    out = _Writer()
    out.row(SUBSCRIBER_COLUMNS)
    yield ("\ufeff" if bom else "") + out.take()
    after: tuple[str, int] | None = None
    while True:
        with db.session_scope(engine) as session:
            found = session.exec(
                subscriber_search.subscribers_statement(
                    session,
                    merchant_id=merchant_id,
                    plan_id=filters.plan_id,
                    query=filters.query,
                    status=filters.status,
                    after=after,
                    limit=batch_size,
                )
            ).all()
            ids = [r[0] for r in found]
            shown = subscriber_search.shown_subscriptions(
                session, merchant_id=merchant_id, subscriber_ids=ids, plan_id=filters.plan_id
            )
            details = {
                sid: (language, created_at)
                for sid, language, created_at in session.execute(
                    sa.select(Subscriber.id, Subscriber.language, Subscriber.created_at).where(
                        Subscriber.merchant_id == merchant_id, Subscriber.id.in_(ids)
                    )
                )
            }
            for sid, name, email in found:
                language, created_at = details.get(sid, ("", None))
                sub, plan_name = shown.get(sid, (None, ""))
                out.row(
                    (
                        sid,
                        safe_text(name),
                        safe_text(email),
                        language,
                        iso(created_at),
                        sub.id if sub else "",
                        sub.plan_id if sub else "",
                        safe_text(plan_name),
                        sub.status if sub else "",
                        iso(sub.current_period_end) if sub else "",
                        iso(next_renewal_at(sub)) if sub else "",
                        ("true" if sub.cancel_at_period_end else "false") if sub else "",
                    )
                )
        if found:
            yield out.take()
        if len(found) < batch_size:
            return
        after = (found[-1][1], found[-1][0])


# --- invoices ------------------------------------------------------------------------------------


def iter_invoices_csv(
    *,
    merchant_id: int,
    status: Any = "",
    subscriber_id: Any = None,
    subscription_id: Any = None,
    plan_id: Any = None,
    finalized_from: Any = None,
    finalized_to: Any = None,
    bom: bool = False,
    batch_size: int = BATCH_SIZE,
    engine: sa.Engine | None = None,
) -> Iterator[str]:
    """The merchant's invoices, oldest first (by id), drafts included unless filtered out, as CSV
    text chunks: INVOICE_COLUMNS. Filters (strings from a query string, or typed values; see
    InvoiceFilters) are checked now (ExportError); another merchant's ids match nothing."""
    filters = InvoiceFilters.parse(
        status=status,
        subscriber_id=subscriber_id,
        subscription_id=subscription_id,
        plan_id=plan_id,
        finalized_from=finalized_from,
        finalized_to=finalized_to,
    )
    return _invoice_chunks(merchant_id, filters, bom, max(1, int(batch_size)), engine)


_INVOICE_TIMES = (
    Invoice.period_start,
    Invoice.period_end,
    Invoice.created_at,
    Invoice.finalized_at,
    Invoice.due_at,
    Invoice.paid_at,
    Invoice.voided_at,
)
_INVOICE_FIELDS = (
    Invoice.id,
    Invoice.number,
    Invoice.status,
    Invoice.subscriber_id,
    Subscriber.name,
    Subscriber.email,
    Invoice.billing_name,
    Invoice.subscription_id,
    Subscription.plan_id,
    Plan.name,
    Invoice.currency,
    Invoice.subtotal_minor,
    Invoice.tax_minor,
    Invoice.total_minor,
    Invoice.tax_rate_bp,
)


def _invoice_statement(merchant_id: int, filters: InvoiceFilters, after: int, limit: int, dialect: str):
    # Only the columns the file has (never pdf_bytes), as plain tuples: a batch stays small.
    stmt = (
        sa.select(*_INVOICE_FIELDS, *(_raw_timestamp(c, dialect) for c in _INVOICE_TIMES), Invoice.attempt_count)
        .join(Subscriber, Subscriber.id == Invoice.subscriber_id)
        .outerjoin(Subscription, Subscription.id == Invoice.subscription_id)
        .outerjoin(Plan, Plan.id == Subscription.plan_id)
        .where(Invoice.merchant_id == merchant_id, Invoice.id > after)
    )
    if filters.status:
        stmt = stmt.where(Invoice.status == filters.status)
    if filters.subscriber_id is not None:
        stmt = stmt.where(Invoice.subscriber_id == filters.subscriber_id)
    if filters.subscription_id is not None:
        stmt = stmt.where(Invoice.subscription_id == filters.subscription_id)
    if filters.plan_id is not None:
        stmt = stmt.where(Subscription.plan_id == filters.plan_id)
    if filters.finalized_from is not None:
        stmt = stmt.where(Invoice.finalized_at >= filters.finalized_from)
    if filters.finalized_to is not None:
        stmt = stmt.where(Invoice.finalized_at < filters.finalized_to)
    return stmt.order_by(Invoice.id).limit(limit)


def _invoice_chunks(merchant_id, filters: InvoiceFilters, bom, batch_size, engine) -> Iterator[str]:
    out = _Writer()
    out.row(INVOICE_COLUMNS)
    yield ("\ufeff" if bom else "") + out.take()
    after = 0
    dialect = (engine or db.get_engine()).dialect.name
    while True:
        count = 0
        with db.session_scope(engine) as session:
            # Rows are written as the cursor gives them (Core, no ORM objects): one batch's CSV in memory.
            stmt = _invoice_statement(merchant_id, filters, after, batch_size, dialect)
            for row in session.connection().execute(stmt):
                count += 1
                after = row[0]
                _invoice_row(out, row)
        if count:
            yield out.take()
        if count < batch_size:
            return


def _invoice_row(out: _Writer, row) -> None:
    (
        invoice_id,
        number,
        status,
        subscriber_id,
        name,
        email,
        billing_name,
        subscription_id,
        plan_id,
        plan_name,
        currency,
        subtotal,
        tax,
        total,
        tax_rate_bp,
        *moments,
        attempt_count,
    ) = row
    out.row(
        (
            invoice_id,
            safe_text(number),
            status,
            subscriber_id,
            safe_text(name),
            safe_text(email),
            safe_text(billing_name),
            subscription_id if subscription_id is not None else "",
            plan_id if plan_id is not None else "",
            safe_text(plan_name),
            currency,
            major_units(subtotal, currency),
            major_units(tax, currency),
            major_units(total, currency),
            _percent(tax_rate_bp),
            *[iso(m) for m in moments],
            attempt_count,
        )
    )
