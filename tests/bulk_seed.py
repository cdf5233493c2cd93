"""Thousands of subscriptions due at one instant, written with bulk INSERTs (seconds, not minutes).

For the tests and benchmarks of whole billing runs: one merchant, one monthly plan, N subscribers each
with a gateway customer and a saved Visa on the simulated gateway, and a subscription whose first
period ends at `now`. The cards expire at (exp_year, exp_month) - by default in three years.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_tokens import tokenize_card
from portal_app.billing.periods import add_interval
from portal_app.models import Merchant, PaymentMethod, Plan, Subscriber, Subscription


def seed_due_subscriptions(
    engine: sa.Engine,
    gateway: SimulatedGateway,
    n: int,
    *,
    now: datetime,
    exp: tuple[int, int] | None = None,
    slug: str = "bulk",
) -> int:
    """Seed N subscriptions due at `now`; returns the merchant id."""
    anchor = add_interval(now, "month", 1, -1)
    exp_year, exp_month = exp or (now.year + 3, 12)
    token = {"exp_month": f"{exp_month:02d}", "exp_year": str(exp_year), "cvc": "123", "number": "4242424242424242"}
    with engine.begin() as conn:
        merchant_id = conn.execute(
            sa.insert(Merchant.__table__)
            .values(name="Bulk Gym", slug=slug, invoice_prefix=slug.upper()[:8], created_at=anchor)
            .returning(Merchant.__table__.c.id)
        ).scalar_one()
        plan_id = conn.execute(
            sa.insert(Plan.__table__)
            .values(
                merchant_id=merchant_id,
                name="Monthly",
                amount_minor=2900,
                currency="USD",
                interval="month",
                interval_count=1,
                cancellation_policy="at_period_end",
                active=True,
                created_at=anchor,
            )
            .returning(Plan.__table__.c.id)
        ).scalar_one()
        customers = [gateway.create_customer(email=f"m{i}@example.com", name=f"M {i}", metadata={}) for i in range(n)]
        cards = [
            gateway.attach_card(customer_ref=c, card_input={"payment_method": tokenize_card(token).id}).card
            for c in customers
        ]
        subscriber_ids = list(
            conn.execute(
                sa.insert(Subscriber.__table__).returning(Subscriber.__table__.c.id, sort_by_parameter_order=True),
                [
                    {
                        "merchant_id": merchant_id,
                        "name": f"Member {i}",
                        "email": f"m{i}@example.com",
                        "language": "en",
                        "gateway_customer_id": customers[i],
                        "created_at": anchor,
                    }
                    for i in range(n)
                ],
            ).scalars()
        )
        conn.execute(
            sa.insert(PaymentMethod.__table__),
            [
                {
                    "merchant_id": merchant_id,
                    "subscriber_id": sid,
                    "gateway": "simulated",
                    "gateway_ref": card.gateway_ref,
                    "brand": card.brand,
                    "last4": card.last4,
                    "exp_month": card.exp_month,
                    "exp_year": card.exp_year,
                    "is_default": True,
                    "created_at": anchor,
                }
                for sid, card in zip(subscriber_ids, cards)
            ],
        )
        conn.execute(
            sa.insert(Subscription.__table__),
            [
                {
                    "merchant_id": merchant_id,
                    "subscriber_id": sid,
                    "plan_id": plan_id,
                    "status": "active",
                    "anchor_at": anchor,
                    "period_index": 0,
                    "current_period_start": anchor,
                    "current_period_end": now,
                    "cancel_at_period_end": False,
                    "created_at": anchor,
                }
                for sid in subscriber_ids
            ],
        )
    return merchant_id
