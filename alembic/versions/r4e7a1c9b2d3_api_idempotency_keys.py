"""api idempotency keys: the REST API's stored POST responses (24 h, per merchant)

Revision ID: r4e7a1c9b2d3
Revises: w3b8d1e5f7a2
Create Date: 2026-12-02 15:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString columns)

import portal_app.models  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision: str = 'r4e7a1c9b2d3'
down_revision: Union[str, Sequence[str], None] = "w3b8d1e5f7a2"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('api_idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=True),
    sa.Column('portal_subscriber_id', sa.Integer(), nullable=True),
    sa.Column('created_at', portal_app.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchant.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('merchant_id', 'key', name='uq_api_idempotency_key_merchant_key')
    )
    with op.batch_alter_table('api_idempotency_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_idempotency_key_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_idempotency_key_merchant_id'), ['merchant_id'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('api_idempotency_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_idempotency_key_merchant_id'))
        batch_op.drop_index(batch_op.f('ix_api_idempotency_key_created_at'))

    op.drop_table('api_idempotency_key')
