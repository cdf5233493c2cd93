"""email delivery: attempts, next attempt and claim time on email_message, and the queue's index

Revision ID: c5e1d7a40b21
Revises: b7c2e9f40a1d
Create Date: 2026-12-02 09:45:00

Rows already queued are due at once (next_attempt_at null); rows left in "sending" by an earlier
version (claimed_at null) are recovered by the next delivery pass (billing/emails/delivery.py).
"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

import portal_app.models

revision: str = "c5e1d7a40b21"
down_revision: Union[str, Sequence[str], None] = "b7c2e9f40a1d"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("email_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("next_attempt_at", portal_app.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("claimed_at", portal_app.models.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_email_message_status_next_attempt_at", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_message", schema=None) as batch_op:
        batch_op.drop_index("ix_email_message_status_next_attempt_at")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("attempts")
