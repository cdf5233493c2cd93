"""email_message.notice_key: one automatic notice per natural key (unique; NULL for other emails)

Revision ID: b7c2e9f40a1d
Revises: d0f1a1ed1a0d
Create Date: 2026-12-02 09:40:00

Old rows keep NULL (a unique index allows many NULLs on SQLite and PostgreSQL).
"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString columns)
from alembic import op

revision: str = "b7c2e9f40a1d"
down_revision: Union[str, Sequence[str], None] = "d0f1a1ed1a0d"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("email_message", sa.Column("notice_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))
    op.create_index(op.f("ix_email_message_notice_key"), "email_message", ["notice_key"], unique=True)


def downgrade() -> None:
    op.drop_index(op.f("ix_email_message_notice_key"), table_name="email_message")
    with op.batch_alter_table("email_message", schema=None) as batch_op:
        batch_op.drop_column("notice_key")
