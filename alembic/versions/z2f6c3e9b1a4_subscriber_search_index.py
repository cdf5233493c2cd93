"""a trigram index over the subscribers' search text (SQLite FTS5, PostgreSQL pg_trgm)

Revision ID: z2f6c3e9b1a4
Revises: y7d4b2c6a8e1
Create Date: 2026-12-03 01:30:00
"""
from typing import Sequence, Union

from alembic import op

from portal_app.billing.search_index import drop_search_index, install_search_index


# revision identifiers, used by Alembic.
revision: str = 'z2f6c3e9b1a4'
down_revision: Union[str, Sequence[str], None] = 'y7d4b2c6a8e1'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Create the index and fill it from the subscribers already there."""
    install_search_index(op.get_bind())


def downgrade() -> None:
    drop_search_index(op.get_bind())
