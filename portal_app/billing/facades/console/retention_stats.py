"""Console dashboard: the "Retention offers" card (shown, accepted, revenue kept per currency); the
definitions are billing/retention.retention_stats'."""

from __future__ import annotations

from portal_app import db
from portal_app.billing import retention
from portal_app.billing.retention import RetentionStats

__all__ = ["RetentionStats", "retention_card"]


def retention_card(*, merchant_id: int) -> RetentionStats:
    with db.session_scope() as session:
        return retention.retention_stats(session, merchant_id=merchant_id)
