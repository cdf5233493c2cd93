"""portal grants: short-lived single-use portal sessions (hash only) and the session's return URL

Revision ID: s3a7d1c9e2f4
Revises: a1f4c8e2d6b0
Create Date: 2026-12-02 15:10:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString columns)

import portal_app.models  # noqa: F401  (UTCDateTime columns)


# revision identifiers, used by Alembic.
revision: str = 's3a7d1c9e2f4'
down_revision: Union[str, Sequence[str], None] = 'a1f4c8e2d6b0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('portal_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('merchant_id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('flow', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('return_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('created_at', portal_app.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', portal_app.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('redeemed_at', portal_app.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['merchant_id'], ['merchant.id'], ),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscriber.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('portal_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_grant_merchant_id'), ['merchant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_grant_subscriber_id'), ['subscriber_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_portal_grant_token_hash'), ['token_hash'], unique=True)
    with op.batch_alter_table('portal_session', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('return_url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False, server_default='')
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('portal_session', schema=None) as batch_op:
        batch_op.drop_column('return_url')
    with op.batch_alter_table('portal_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_grant_token_hash'))
        batch_op.drop_index(batch_op.f('ix_portal_grant_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_portal_grant_merchant_id'))
    op.drop_table('portal_grant')
