"""finalized invoices are immutable: triggers on invoice and invoice_line

Revision ID: d0f1a1ed1a0d
Revises: c1f3a9d2b7e4
Create Date: 2026-12-02 04:00:00

The SQL is portal_app.billing.invoice_guard's, the same that SQLModel.metadata.create_all installs.
"""

from typing import Sequence, Union

from alembic import op

from portal_app.billing.invoice_guard import drop_invoice_guard, install_invoice_guard

revision: str = "d0f1a1ed1a0d"
down_revision: Union[str, Sequence[str], None] = "c1f3a9d2b7e4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    install_invoice_guard(op.get_bind())


def downgrade() -> None:
    drop_invoice_guard(op.get_bind())
