"""100k invoices stream out in the memory of one batch: tracemalloc's peak while the whole CSV is
produced stays far below the size of the CSV (seeded with bulk INSERTs: the test takes seconds)."""

from __future__ import annotations

import time
import tracemalloc
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal_app.billing import exports
from portal_app.models import Merchant, Plan, Subscriber, Subscription

pytestmark = pytest.mark.integration
N_INVOICES = 100_000
N_SUBSCRIBERS = 1_000
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _seed(engine) -> int:
    with engine.begin() as conn:
        merchant = conn.execute(
            sa.insert(Merchant.__table__)
            .values(name="Bulk", slug="bulk", invoice_prefix="BULK", created_at=T0)
            .returning(Merchant.__table__.c.id)
        ).scalar_one()
        plan = conn.execute(
            sa.insert(Plan.__table__)
            .values(
                merchant_id=merchant,
                name="Monthly",
                amount_minor=2900,
                currency="EUR",
                interval="month",
                interval_count=1,
                cancellation_policy="at_period_end",
                active=True,
                created_at=T0,
            )
            .returning(Plan.__table__.c.id)
        ).scalar_one()
        subscribers = list(
            conn.execute(
                sa.insert(Subscriber.__table__).returning(Subscriber.__table__.c.id, sort_by_parameter_order=True),
                [
                    {"merchant_id": merchant, "name": f"Member {i}", "email": f"m{i}@example.com", "created_at": T0}
                    for i in range(N_SUBSCRIBERS)
                ],
            ).scalars()
        )
        subscriptions = list(
            conn.execute(
                sa.insert(Subscription.__table__).returning(Subscription.__table__.c.id, sort_by_parameter_order=True),
                [
                    {
                        "merchant_id": merchant,
                        "subscriber_id": sid,
                        "plan_id": plan,
                        "status": "active",
                        "anchor_at": T0,
                        "current_period_start": T0,
                        "current_period_end": T0,
                        "created_at": T0,
                    }
                    for sid in subscribers
                ],
            ).scalars()
        )
        # 100k invoices generated inside SQLite (a recursive CTE): well under a second. Timestamps in
        # the text form SQLAlchemy stores UTC columns in on SQLite.
        conn.execute(
            sa.text(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :count)
                INSERT INTO invoice (merchant_id, subscriber_id, subscription_id, number, status, currency,
                    subtotal_minor, tax_minor, total_minor, tax_rate_bp, language, merchant_name, billing_name,
                    billing_email, billing_address, tax_id, seller_legal_name, seller_address, seller_tax_id,
                    seller_email, created_at, finalized_at, paid_at, attempt_count)
                SELECT :merchant, :first_subscriber + i % :subscribers, :first_subscription + i % :subscribers,
                    printf('BULK-2024-%06d', i), 'paid', 'EUR', 2397, 503, 2900, 2100, 'en', 'Bulk',
                    printf('Member %d', i % :subscribers), '', '', '', 'Bulk', '', '', '', '2024-01-01 00:00:00.000000',
                    datetime('2024-01-01', printf('+%d minutes', i)) || '.000000',
                    datetime('2024-01-01', printf('+%d minutes', i)) || '.000000', 0
                FROM n
                """
            ),
            {
                "count": N_INVOICES,
                "merchant": merchant,
                "first_subscriber": subscribers[0],
                "first_subscription": subscriptions[0],
                "subscribers": N_SUBSCRIBERS,
            },
        )
    return merchant


def test_100k_invoices_stream_with_a_peak_far_below_the_file(engine):
    merchant = _seed(engine)
    chunks = exports.iter_invoices_csv(merchant_id=merchant, engine=engine)
    next(chunks)  # the header; imports and statement caches warm before measuring
    size = rows = 0
    started = time.perf_counter()
    tracemalloc.start()
    try:
        for chunk in chunks:
            size += len(chunk.encode())
            rows += chunk.count("\r\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert rows == N_INVOICES
    assert size > 15_000_000  # ~190 bytes a row
    assert peak < size / 5, f"peak {peak:,} bytes for a {size:,}-byte CSV"
    print(f"\n100k invoices: {size:,} bytes of CSV, tracemalloc peak {peak:,} bytes, {elapsed:.1f} s")
