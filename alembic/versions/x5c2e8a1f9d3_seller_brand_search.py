"""seller details, website and brand colour on merchants; seller snapshot on invoices; subscriber search text

Revision ID: x5c2e8a1f9d3
Revises: r4e7a1c9b2d3
Create Date: 2026-12-02 20:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (AutoString columns)

from portal_app.billing.search_text import subscriber_search_text


# revision identifiers, used by Alembic.
revision: str = 'x5c2e8a1f9d3'
down_revision: Union[str, Sequence[str], None] = "r4e7a1c9b2d3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_STR = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    """Upgrade schema.

    Plain ADD COLUMN (no batch copy on SQLite: recreating `invoice` would break the finalized-invoice
    triggers). The '' server defaults fill existing rows and stay: the models default to '' too.
    """
    for name, length in (('legal_name', 120), ('address', 500), ('tax_id', 40), ('website_url', 300), ('brand_color', 7)):
        op.add_column('merchant', sa.Column(name, _STR(length=length), nullable=False, server_default=''))
    for name, length in (('seller_legal_name', 120), ('seller_address', 500), ('seller_tax_id', 40), ('seller_email', 254)):
        op.add_column('invoice', sa.Column(name, _STR(length=length), nullable=False, server_default=''))
    op.add_column('subscriber', sa.Column('search_text', _STR(length=400), nullable=False, server_default=''))
    op.create_index('ix_subscriber_merchant_search', 'subscriber', ['merchant_id', 'name', 'id', 'search_text'], unique=False)

    # Backfill the search text of existing subscribers (the mapper event keeps it from now on).
    bind = op.get_bind()
    subscriber = sa.table('subscriber', sa.column('id'), sa.column('name'), sa.column('email'), sa.column('search_text'))
    rows = bind.execute(sa.select(subscriber.c.id, subscriber.c.name, subscriber.c.email)).all()
    for start in range(0, len(rows), 1000):
        bind.execute(
            subscriber.update().where(subscriber.c.id == sa.bindparam('sid')).values(search_text=sa.bindparam('text')),
            [{'sid': r.id, 'text': subscriber_search_text(r.name, r.email)} for r in rows[start:start + 1000]],
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('subscriber', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_merchant_search')
        batch_op.drop_column('search_text')
    for column in ('seller_email', 'seller_tax_id', 'seller_address', 'seller_legal_name'):
        op.drop_column('invoice', column)  # no batch copy: it would break the invoice triggers on SQLite
    with op.batch_alter_table('merchant', schema=None) as batch_op:
        for column in ('brand_color', 'website_url', 'tax_id', 'address', 'legal_name'):
            batch_op.drop_column(column)
