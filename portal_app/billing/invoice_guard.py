"""Finalized invoices are immutable, enforced by the database and by the ORM, not only by convention.

Once an invoice leaves `draft`, its number, amounts, currency, period, billing snapshot and lines
never change, and it is never deleted; corrections void it and issue another. What may still change:
the status, along the moves of statuses.ALLOWED_TRANSITIONS (open -> paid / void / uncollectible,
uncollectible -> paid / void), the instants those moves stamp (paid_at, voided_at: set once), and the
bookkeeping of charging and dunning (the claim, attempt_count, next_retry_at) and the cached PDF.

One definition, three enforcers: triggers on PostgreSQL and SQLite (installed by the alembic
migration and, through an `after_create` event, by SQLModel.metadata.create_all, from the same SQL
below), and a before_flush check that refuses such changes in the ORM with InvoiceImmutable before
any SQL is sent. The ORM check is registered when this module is imported (portal_app.db imports it).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from portal_app.billing.errors import BillingError
from portal_app.billing.statuses import ALLOWED_TRANSITIONS, InvoiceStatus
from portal_app.models import Invoice, InvoiceLine

I = InvoiceStatus


class InvoiceError(BillingError):
    code = "invoice_error"


class InvoiceImmutable(InvoiceError):
    """Amounts and lines of a finalized invoice never change: void it and issue another."""

    code = "invoice_immutable"


# Columns a finalized invoice may still change (status only along the table, the stamps only once).
MUTABLE_AFTER_FINALIZATION = frozenset(
    {"status", "paid_at", "voided_at", "attempt_count", "next_retry_at", "charging_attempt_id", "pdf_bytes"}
)
SET_ONCE = ("paid_at", "voided_at")
FROZEN_COLUMNS = tuple(c.name for c in Invoice.__table__.columns if c.name not in MUTABLE_AFTER_FINALIZATION)
FINALIZED_MOVES = frozenset(
    (current.value, new.value)
    for current, targets in ALLOWED_TRANSITIONS[InvoiceStatus].items()
    if current != I.DRAFT
    for new in targets
)
MESSAGE = "invoice is finalized: its number, amounts, currency and lines never change (void it instead)"


# --------------------------------------------------------------------------- the SQL (both dialects)


def _refused_update_condition(frozen_columns: tuple[str, ...]) -> str:
    """The WHEN of the invoice UPDATE trigger: true for a change a finalized invoice must refuse."""
    frozen = " OR ".join(f'NEW."{c}" IS DISTINCT FROM OLD."{c}"' for c in frozen_columns)
    moves = ", ".join(f"'{current}>{new}'" for current, new in sorted(FINALIZED_MOVES))
    stamps = " OR ".join(f'(OLD."{c}" IS NOT NULL AND NEW."{c}" IS DISTINCT FROM OLD."{c}")' for c in SET_ONCE)
    return (
        f"OLD.status <> '{I.DRAFT.value}' AND ({frozen}"
        f" OR (NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({moves}))"
        f" OR {stamps})"
    )


def _finalized(invoice_id_expr: str) -> str:
    return f"EXISTS (SELECT 1 FROM invoice WHERE id = {invoice_id_expr} AND status <> '{I.DRAFT.value}')"


def sqlite_statements(frozen_columns: tuple[str, ...]) -> list[str]:
    refuse = f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END"
    return [
        f"CREATE TRIGGER invoice_finalized_update BEFORE UPDATE ON invoice FOR EACH ROW "
        f"WHEN {_refused_update_condition(frozen_columns)} {refuse}",
        f"CREATE TRIGGER invoice_finalized_delete BEFORE DELETE ON invoice FOR EACH ROW "
        f"WHEN OLD.status <> '{I.DRAFT.value}' {refuse}",
        f"CREATE TRIGGER invoice_line_finalized_insert BEFORE INSERT ON invoice_line FOR EACH ROW "
        f"WHEN {_finalized('NEW.invoice_id')} {refuse}",
        f"CREATE TRIGGER invoice_line_finalized_update BEFORE UPDATE ON invoice_line FOR EACH ROW "
        f"WHEN {_finalized('OLD.invoice_id')} OR {_finalized('NEW.invoice_id')} {refuse}",
        f"CREATE TRIGGER invoice_line_finalized_delete BEFORE DELETE ON invoice_line FOR EACH ROW "
        f"WHEN {_finalized('OLD.invoice_id')} {refuse}",
    ]


def postgresql_statements(frozen_columns: tuple[str, ...]) -> list[str]:
    raise_it = f"RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'check_violation'"
    return [
        f"CREATE OR REPLACE FUNCTION refuse_finalized_invoice_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {raise_it}; END $$",
        # PostgreSQL allows no subquery in a trigger's WHEN: the line check lives in its function.
        f"CREATE OR REPLACE FUNCTION refuse_finalized_invoice_line_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN "
        f"IF TG_OP <> 'INSERT' AND {_finalized('OLD.invoice_id')} THEN {raise_it}; END IF; "
        f"IF TG_OP <> 'DELETE' AND {_finalized('NEW.invoice_id')} THEN {raise_it}; END IF; "
        f"IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; "
        f"END $$",
        f"CREATE TRIGGER invoice_finalized_update BEFORE UPDATE ON invoice FOR EACH ROW "
        f"WHEN ({_refused_update_condition(frozen_columns)}) EXECUTE FUNCTION refuse_finalized_invoice_change()",
        f"CREATE TRIGGER invoice_finalized_delete BEFORE DELETE ON invoice FOR EACH ROW "
        f"WHEN (OLD.status <> '{I.DRAFT.value}') EXECUTE FUNCTION refuse_finalized_invoice_change()",
        "CREATE TRIGGER invoice_line_finalized BEFORE INSERT OR UPDATE OR DELETE ON invoice_line FOR EACH ROW "
        "EXECUTE FUNCTION refuse_finalized_invoice_line_change()",
    ]


TRIGGERS = {
    "sqlite": (
        "invoice_finalized_update",
        "invoice_finalized_delete",
        "invoice_line_finalized_insert",
        "invoice_line_finalized_update",
        "invoice_line_finalized_delete",
    ),
    "postgresql": ("invoice_finalized_update", "invoice_finalized_delete", "invoice_line_finalized"),
}


def install_invoice_guard(connection: sa.Connection) -> None:
    """Create the triggers (the migration and create_all call this; both tables must exist).

    The frozen columns are those the database's invoice table has now, not the model's: a migration
    replayed on a fresh database never names a column a later migration adds. A migration that adds
    a column to invoice drops and installs the guard again, so the new column is frozen too.
    """
    dialect = connection.dialect.name
    statements = {"sqlite": sqlite_statements, "postgresql": postgresql_statements}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"the invoice guard supports PostgreSQL and SQLite, not {dialect}")
    present = {column["name"] for column in sa.inspect(connection).get_columns("invoice")}
    for statement in statements(tuple(c for c in FROZEN_COLUMNS if c in present)):
        connection.exec_driver_sql(statement)


def drop_invoice_guard(connection: sa.Connection) -> None:
    dialect = connection.dialect.name
    for name in TRIGGERS[dialect]:
        table = "invoice_line" if name.startswith("invoice_line") else "invoice"
        connection.exec_driver_sql(
            f"DROP TRIGGER IF EXISTS {name} ON {table}" if dialect == "postgresql" else f"DROP TRIGGER IF EXISTS {name}"
        )
    if dialect == "postgresql":
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_finalized_invoice_change()")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS refuse_finalized_invoice_line_change()")


@sa.event.listens_for(InvoiceLine.__table__, "after_create")
def _install_after_create(_table, connection, **_kw) -> None:
    # invoice_line is created after invoice (its foreign key), so both tables exist here.
    install_invoice_guard(connection)


# --------------------------------------------------------------------------- the ORM


def _old_and_new(obj, column: str) -> tuple[object, object, bool]:
    """(value before this flush, value now, whether the old value is known)."""
    history = sa.inspect(obj).attrs[column].history
    if history.deleted:
        return history.deleted[0], (history.added[0] if history.added else None), True
    if history.unchanged:
        return history.unchanged[0], history.unchanged[0], True
    return None, None, False


def refused_invoice_change(obj: Invoice) -> str:
    """Why this pending change of a finalized invoice is refused, or "" when it is allowed."""
    old_status, new_status, known = _old_and_new(obj, "status")
    if not known or old_status == I.DRAFT:
        return ""  # a draft changes freely (an unloaded status is left to the database's trigger)
    for column in FROZEN_COLUMNS:
        before, after, column_known = _old_and_new(obj, column)
        if column_known and before != after:
            return f"{column} of finalized invoice {obj.number} cannot change"
    if old_status != new_status and (old_status, new_status) not in FINALIZED_MOVES:
        return f"invoice {obj.number} cannot go from {old_status} to {new_status}"
    for column in SET_ONCE:
        before, after, _ = _old_and_new(obj, column)
        if before is not None and before != after:
            return f"{column} of invoice {obj.number} is set once"
    return ""


@sa.event.listens_for(Session, "before_flush")
def _refuse_finalized_changes(session: Session, _flush_context, _instances) -> None:
    for obj in session.dirty:
        if isinstance(obj, Invoice) and (why := refused_invoice_change(obj)):
            raise InvoiceImmutable(why)
    for obj in session.deleted:
        if isinstance(obj, Invoice) and _old_and_new(obj, "status")[0] not in (None, I.DRAFT):
            raise InvoiceImmutable(f"finalized invoice {obj.number} cannot be deleted")
    lines = [o for o in (*session.new, *session.dirty, *session.deleted) if isinstance(o, InvoiceLine)]
    if not lines:
        return
    invoice_ids = set()
    for line in lines:
        before, after, _ = _old_and_new(line, "invoice_id")
        invoice_ids |= {i for i in (before, after, line.invoice_id) if i is not None}
    with session.no_autoflush:
        finalized = session.execute(
            sa.select(Invoice.id).where(Invoice.id.in_(sorted(invoice_ids)), Invoice.status != I.DRAFT)
        ).first()
    if finalized is not None:
        raise InvoiceImmutable(f"the lines of finalized invoice {finalized.id} cannot change")
