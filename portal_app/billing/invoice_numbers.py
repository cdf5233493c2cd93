"""Gapless invoice numbers: ACME-2026-000123, one sequence per merchant and calendar year (UTC) of
finalization, taken from `invoice_counter` inside the finalizing transaction, so a rolled-back
finalization gives its number back and no number is ever skipped or used twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from portal_app.models import InvoiceCounter, Merchant


def allocate_invoice_numbers(session: Session, *, merchant: Merchant, year: int, count: int = 1) -> list[str]:
    """Take `count` consecutive numbers of the merchant's sequence for `year`.

    Must run inside the transaction that stores the numbers: the UPDATE holds the counter row's
    lock (PostgreSQL) or the database write lock (SQLite, BEGIN IMMEDIATE) until commit.
    """
    if count <= 0:
        return []
    table = InvoiceCounter.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(table)
        .values(merchant_id=merchant.id, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["merchant_id", "year"])
    )
    last = session.execute(
        sa.update(table)
        .where(table.c.merchant_id == merchant.id, table.c.year == year)
        .values(last_value=table.c.last_value + count)
        .returning(table.c.last_value)
    ).scalar_one()
    return [format_invoice_number(merchant.invoice_prefix, year, n) for n in range(last - count + 1, last + 1)]


def format_invoice_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:06d}"
