"""Bare `alembic` works like `reflex db migrate`: `alembic upgrade head` builds the configured
database (DATABASE_URL), `alembic check` finds the models and the migrations in agreement, and the
newest migration upgrades a database that holds data (a merchant, plan, subscriber, card,
subscription, a finalized invoice and its payment attempt) without losing or breaking any of it.

The previous revision is the head's down_revision as alembic computes it, so these keep working when
new migrations are chained on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlmodel import select

from alembic import command
from portal_app import db
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.runs import run_billing
from portal_app.models import Invoice, PaymentAttempt, Subscription
from tests.databases import TEST_DATABASE_URL, fresh_database_url

ROOT = Path(__file__).resolve().parents[2]
KINDS = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.skipif(not TEST_DATABASE_URL, reason="no TEST_DATABASE_URL")),
]


@pytest.fixture(params=KINDS)
def database_url(request, tmp_path):
    with fresh_database_url(request.param, tmp_path, prefix="portal_mig_") as url:
        yield url


def bare_alembic(*args: str, database_url: str) -> subprocess.CompletedProcess:
    """The `alembic` command line from the project root, configured only by DATABASE_URL."""
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    alembic = str(Path(sys.executable).with_name("alembic"))
    return subprocess.run([alembic, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_bare_alembic_upgrade_head_builds_the_configured_database_and_check_agrees(database_url):
    result = bare_alembic("upgrade", "head", database_url=database_url)
    assert result.returncode == 0, result.stderr
    engine = db.make_engine(database_url)
    try:
        assert db.schema_is_current(engine)
        assert {"merchant", "invoice", "payment_attempt"} <= set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    # The models (SQLModel.metadata) and the migrations describe the same schema.
    check = bare_alembic("check", database_url=database_url)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
START = datetime(2026, 1, 31, tzinfo=UTC)
PERIOD_END = datetime(2026, 2, 28, tzinfo=UTC)
# What a deployment holds: written with the schema of the previous revision (reflected, not the models,
# which describe the head), realistic values by column name.
ROWS = {
    "merchant": {"id": 1, "name": "Acme Fitness", "slug": "acme", "invoice_prefix": "ACME", "support_email":
                 "help@acme.example", "logo_content_type": "", "default_language": "es", "dunning_schedule_days": "1,3,5,7",
                 "dunning_end_state": "unpaid", "created_at": START},
    "plan": {"id": 1, "merchant_id": 1, "name": "Basic Monthly", "amount_minor": 2900, "currency": "EUR",
             "interval": "month", "interval_count": 1, "cancellation_policy": "at_period_end", "active": True,
             "created_at": START},
    "subscriber": {"id": 1, "merchant_id": 1, "name": "Zoë Ñúñez", "email": "zoe@example.com", "language": "es",
                   "billing_name": "Zoë Ñúñez", "billing_address": "Calle Mayor 1, Madrid", "tax_id": "ES12345678Z",
                   "gateway_customer_id": "", "created_at": START},
    "payment_method": {"id": 1, "merchant_id": 1, "subscriber_id": 1, "gateway": "simulated",
                       "gateway_ref": "pm_sim_unknown_to_this_store", "brand": "visa", "last4": "4242",
                       "exp_month": 12, "exp_year": 2030, "is_default": True, "created_at": START},
    "subscription": {"id": 1, "merchant_id": 1, "subscriber_id": 1, "plan_id": 1, "status": "active",
                     "anchor_at": START, "period_index": 0, "current_period_start": START,
                     "current_period_end": PERIOD_END, "cancel_at_period_end": False, "cancellation_reason": "",
                     "created_at": START},
    "invoice_counter": {"merchant_id": 1, "year": 2026, "last_value": 1},
    "invoice": {"id": 1, "merchant_id": 1, "subscriber_id": 1, "subscription_id": 1, "number": "ACME-2026-000001",
                "status": "paid", "currency": "EUR", "subtotal_minor": 2900, "tax_minor": 609, "total_minor": 3509,
                "tax_rate_bp": 2100, "period_start": START, "period_end": PERIOD_END, "language": "es",
                "merchant_name": "Acme Fitness", "billing_name": "Zoë Ñúñez", "billing_email": "zoe@example.com",
                "billing_address": "Calle Mayor 1, Madrid", "tax_id": "ES12345678Z", "created_at": START,
                "finalized_at": START, "due_at": START, "paid_at": START, "attempt_count": 0},
    "invoice_line": {"id": 1, "invoice_id": 1, "description": "Basic Monthly (31 Jan – 28 Feb 2026)", "quantity": 1,
                     "unit_amount_minor": 2900, "amount_minor": 2900, "currency": "EUR"},
    "payment_attempt": {"id": 1, "merchant_id": 1, "invoice_id": 1, "payment_method_id": 1, "amount_minor": 3509,
                        "currency": "EUR", "status": "succeeded", "trigger": "renewal", "gateway": "simulated",
                        "gateway_ref": "ch_sim_0001", "decline_code": "", "failure_message": "", "hard_decline": False,
                        "key_nonce": "n0nce", "customer_ref": "", "created_at": START, "settled_at": START},
}  # fmt: skip


def _filler(column: sa.Column):
    """A value for a required column that a later migration added and the rows above do not know."""
    python_type = getattr(column.type, "python_type", str)
    return {int: 0, bool: False, datetime: START, bytes: b""}.get(python_type, "")


def _insert_rows(engine: sa.Engine) -> dict[str, dict]:
    metadata = sa.MetaData()
    metadata.reflect(engine)
    written = {}
    with engine.begin() as conn:
        for name, values in ROWS.items():
            table = metadata.tables[name]
            row = {key: value for key, value in values.items() if key in table.c}
            for column in table.c:
                needs_value = not column.nullable and column.server_default is None and not column.primary_key
                if column.name not in row and needs_value:
                    row[column.name] = _filler(column)
            if name == "invoice":  # as the app does: a draft gets its lines, then is finalized
                draft = {**row, "status": "draft", "number": None, "finalized_at": None, "paid_at": None}
                conn.execute(table.insert().values(**{k: v for k, v in draft.items() if k in table.c}))
            else:
                conn.execute(table.insert().values(**row))
            written[name] = row
        invoice = metadata.tables["invoice"]
        conn.execute(invoice.update().where(invoice.c.id == 1).values(**written["invoice"]))
        if conn.dialect.name == "postgresql":  # as after a restore: sequences continue past the rows
            for name in ROWS:
                if "id" in metadata.tables[name].c:
                    conn.exec_driver_sql(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"
                    )
    return written


def test_the_newest_migration_upgrades_a_database_with_data_in_it(database_url, tmp_path):
    script = ScriptDirectory(str(db.MIGRATIONS))
    head = script.get_revision(script.get_current_head())
    previous = head.down_revision
    assert isinstance(previous, str), "the head must have one parent (the lead chains migrations linearly)"
    config = _config(database_url)
    command.upgrade(config, previous)
    engine = db.make_engine(database_url)
    try:
        written = _insert_rows(engine)
        command.upgrade(config, "head")
        assert db.schema_is_current(engine)

        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as conn:
            for name, row in written.items():
                table = metadata.tables[name]
                stored = conn.execute(sa.select(*(table.c[key] for key in row))).one()._asdict()
                stored = {k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and v.tzinfo is None else v
                          for k, v in stored.items()}  # fmt: skip
                assert stored == row, name

        # The app's own queries read the upgraded rows, and a billing run renews the due subscription.
        with db.session_scope(engine) as session:
            invoice = session.get(Invoice, 1)
            assert (invoice.number, invoice.status, invoice.total_minor) == ("ACME-2026-000001", "paid", 3509)
            assert session.exec(select(PaymentAttempt).where(PaymentAttempt.invoice_id == 1)).one().status == (
                "succeeded"
            )
        gateway = SimulatedGateway(store_path=str(tmp_path / "charges.db"))
        summary = run_billing(engine, now=NOW, gateway=gateway)
        assert summary.renewed == 1 and summary.invoices_created == 1
        with db.session_scope(engine) as session:
            assert session.get(Subscription, 1).current_period_end > PERIOD_END
            numbers = sorted(i.number for i in session.exec(select(Invoice)).all())
            assert numbers == ["ACME-2026-000001", "ACME-2026-000002"]  # the counter carried on
    finally:
        engine.dispose()
