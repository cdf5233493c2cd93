"""Finalized invoices are immutable in the database (triggers) and in the ORM (before_flush), on SQLite and
PostgreSQL; the domain's own moves (finalize, settle, renew, dunning) still work (issue 10, 5(f))."""

from __future__ import annotations

import pathlib
from datetime import timedelta

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlmodel import select

from alembic import command
from portal_app import db
from portal_app.billing import search_index
from portal_app.billing.invoice_guard import TRIGGERS, InvoiceImmutable
from portal_app.billing.invoices import (
    add_invoice_line,
    create_draft_invoice,
    finalize_invoice,
    set_invoice_tax_rate,
    settle_invoice,
)
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus
from portal_app.db import new_session
from portal_app.models import Invoice, InvoiceLine, Subscription
from tests.builders import JAN31, invoices_of, subscribed_world, subscription_of
from tests.databases import TEST_DATABASE_URL, fresh_database_url

ROOT = pathlib.Path(__file__).resolve().parents[2]
FEB28 = JAN31.replace(month=2, day=28)
REFUSED = (sa.exc.IntegrityError, sa.exc.DatabaseError)
GUARD_REVISION = "d0f1a1ed1a0d"  # alembic/versions/d0f1a1ed1a0d_finalized_invoice_guard.py


def _paid_invoice(engine, gateway) -> Invoice:
    world, result = subscribed_world(engine, gateway)
    invoice = invoices_of(world)[0]
    assert invoice.status == InvoiceStatus.PAID and result.active
    return invoice


def _sql(engine, statement: str, **params) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(statement), params)


def _row(engine, invoice_id: int) -> Invoice:
    with new_session(engine) as session:
        return session.get(Invoice, invoice_id)


@pytest.mark.parametrize(
    "change",
    [{"total_minor": 1}, {"number": "FIT-2026-999999"}, {"currency": "EUR"}, {"subtotal_minor": 1}, {"status": "open"}],
)
def test_an_orm_write_to_a_finalized_invoice_is_refused(any_engine, gateway, change):
    invoice = _paid_invoice(any_engine, gateway)
    with new_session(any_engine) as session:
        row = session.get(Invoice, invoice.id)
        for column, value in change.items():
            setattr(row, column, value)
        session.add(row)
        with pytest.raises(InvoiceImmutable):
            session.commit()
    after = _row(any_engine, invoice.id)
    assert (after.total_minor, after.number, after.currency, after.status) == (
        invoice.total_minor,
        invoice.number,
        invoice.currency,
        InvoiceStatus.PAID,
    )


@pytest.mark.parametrize(
    "assignment",
    [
        "total_minor = 1",
        "number = 'FIT-2026-999999'",
        "currency = 'EUR'",
        "tax_rate_bp = 2100",
        "billing_name = 'Someone Else'",
        "status = 'open'",  # paid never goes back
        "status = 'draft'",
        "paid_at = NULL",  # set once
    ],
)
def test_a_raw_sql_update_of_a_finalized_invoice_is_refused(any_engine, gateway, assignment):
    invoice = _paid_invoice(any_engine, gateway)
    with pytest.raises(REFUSED):
        _sql(any_engine, f"UPDATE invoice SET {assignment} WHERE id = :id", id=invoice.id)
    with pytest.raises(REFUSED):
        _sql(any_engine, "DELETE FROM invoice WHERE id = :id", id=invoice.id)
    after = _row(any_engine, invoice.id)
    assert after.total_minor == invoice.total_minor and after.status == InvoiceStatus.PAID and after.paid_at


def test_lines_of_a_finalized_invoice_cannot_be_added_changed_or_removed(any_engine, gateway):
    invoice = _paid_invoice(any_engine, gateway)
    with new_session(any_engine) as session:
        (line,) = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    line_id = line.id
    insert = (
        "INSERT INTO invoice_line (invoice_id, description, quantity, unit_amount_minor, amount_minor, currency) "
        "VALUES (:id, 'extra', 1, 100, 100, 'USD')"
    )
    with pytest.raises(REFUSED):
        _sql(any_engine, insert, id=invoice.id)
    with pytest.raises(REFUSED):
        _sql(any_engine, "UPDATE invoice_line SET amount_minor = 1 WHERE id = :id", id=line_id)
    with pytest.raises(REFUSED):
        _sql(any_engine, "DELETE FROM invoice_line WHERE id = :id", id=line_id)
    with new_session(any_engine) as session:  # and through the ORM, before any SQL
        row = session.get(InvoiceLine, line_id)
        row.description = "changed"
        session.add(row)
        with pytest.raises(InvoiceImmutable):
            session.commit()
        session.rollback()
        session.add(
            InvoiceLine(invoice_id=invoice.id, description="x", unit_amount_minor=1, amount_minor=1, currency="USD")
        )
        with pytest.raises(InvoiceImmutable):
            session.commit()
        session.rollback()
        session.delete(session.get(InvoiceLine, line_id))
        with pytest.raises(InvoiceImmutable):
            session.commit()
    with new_session(any_engine) as session:
        lines = session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)).all()
    assert [(line.id, line.amount_minor, line.description) for line in lines] == [
        (line_id, line.amount_minor, line.description)
    ]


def test_the_domain_still_finalizes_settles_renews_and_dunns(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway)
    # A draft changes freely, and finalizes.
    with new_session(any_engine) as session, session.begin():
        sub = session.get(Subscription, subscription_of(world).id)
        draft = create_draft_invoice(session, sub.id, merchant_id=world.merchant_id, now=JAN31)
        add_invoice_line(session, draft.id, merchant_id=world.merchant_id, description="Setup", unit_amount_minor=500)
        set_invoice_tax_rate(session, draft.id, merchant_id=world.merchant_id, tax_rate_bp=2100)
        finalize_invoice(session, draft.id, merchant_id=world.merchant_id, now=JAN31)
        draft_id = draft.id
    # open -> void through settle_invoice; renewals (draft -> open with their line) and dunning still run.
    with new_session(any_engine) as session, session.begin():
        settle_invoice(session, draft_id, InvoiceStatus.VOID, merchant_id=world.merchant_id, actor="user:1", now=FEB28)
    gateway.fail_next("insufficient_funds")
    run_billing(any_engine, now=FEB28 + timedelta(minutes=1), gateway=gateway)
    february = invoices_of(world)[-1]
    assert february.status == InvoiceStatus.OPEN and february.attempt_count == 1 and february.next_retry_at
    run_billing(any_engine, now=february.next_retry_at, gateway=gateway)
    paid = _row(any_engine, february.id)
    assert paid.status == InvoiceStatus.PAID and paid.paid_at is not None and paid.number == february.number
    assert _row(any_engine, draft_id).status == InvoiceStatus.VOID


# --------------------------------------------------------------------------- the migration


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_alembic_upgrade_head_on_a_fresh_database_creates_the_triggers(kind, tmp_path, gateway):
    if kind == "postgres" and not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    with fresh_database_url(kind, tmp_path, prefix="guard_") as url:
        config = Config()  # no ini file: env.py then leaves the test run's logging alone
        config.set_main_option("script_location", str(ROOT / "alembic"))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        engine = db.make_engine(url)
        try:
            with engine.connect() as conn:
                if engine.dialect.name == "postgresql":
                    found = conn.exec_driver_sql("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal").scalars()
                else:
                    found = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'").scalars()
                # The guard's triggers, beside the search index's own (search_index.py keeps its table).
                found = {name for name in found if not name.startswith(search_index.FTS_TABLE)}
                assert found == set(TRIGGERS[engine.dialect.name])
            invoice = _paid_invoice(engine, gateway)  # the migrated schema runs the domain
            with pytest.raises(REFUSED):
                _sql(engine, "UPDATE invoice SET total_minor = 1 WHERE id = :id", id=invoice.id)
            before_guard = ScriptDirectory.from_config(config).get_revision(GUARD_REVISION).down_revision
            command.downgrade(config, before_guard)
            _sql(engine, "UPDATE invoice SET total_minor = 1 WHERE id = :id", id=invoice.id)  # guard gone
        finally:
            engine.dispose()
