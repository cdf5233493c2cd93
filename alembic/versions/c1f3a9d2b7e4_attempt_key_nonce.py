"""payment attempts: a random idempotency-key part and the customer charged

Revision ID: c1f3a9d2b7e4
Revises: 8148ecace5a9
Create Date: 2026-12-02 03:30:00

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString columns)
from alembic import op

revision: str = "c1f3a9d2b7e4"
down_revision: Union[str, Sequence[str], None] = "8148ecace5a9"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Existing attempts keep key_nonce "" and so keep the key they were sent with (derived as before).
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key_nonce", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("customer_ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.drop_column("customer_ref")
        batch_op.drop_column("key_nonce")
