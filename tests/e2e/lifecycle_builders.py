"""Subscribers on a pausable plan and on a trial plan for the pause and trial browser tests, written
through the billing engine (plans created once per server, cards saved through the gateway)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from sqlmodel import Session, select

from portal_app.billing.demo import MERCHANT_SLUG
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_tokens import tokenize_card
from portal_app.billing.payments.card_updates import update_payment_method
from portal_app.billing.plans import create_plan
from portal_app.billing.portal_links import issue_portal_link
from portal_app.billing.subscriptions import subscribe
from portal_app.models import Merchant, Plan, Subscriber, utcnow

_counter = itertools.count(1)
PAUSABLE, TRIAL = "Pausable Monthly", "Trial Monthly"


def _plan(engine, name: str, **values) -> tuple[int, int]:
    with Session(engine, expire_on_commit=False) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == MERCHANT_SLUG)).one()
        plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id, Plan.name == name)).first()
        if plan is None:
            plan = create_plan(
                session, merchant_id=merchant.id, name=name, amount_minor=2900, currency="USD", interval="month"
            )
            for key, value in values.items():
                setattr(plan, key, value)
            session.add(plan)
            session.commit()
        return merchant.id, plan.id


def lifecycle_subscriber(engine, *, plan: str, language: str = "en", days_ago: int = 3) -> tuple[int, str]:
    """A subscriber with a working card on `plan` (PAUSABLE: 30-day pauses; TRIAL: 14 free days),
    started `days_ago`; returns (subscriber_id, portal token)."""
    values = {"pause_max_days": 30} if plan == PAUSABLE else {"trial_days": 14}
    merchant_id, plan_id = _plan(engine, plan, **values)
    now = utcnow()
    n = next(_counter)
    with Session(engine, expire_on_commit=False) as session:
        subscriber = Subscriber(
            merchant_id=merchant_id,
            name=f"Lifecycle Person {n}",
            email=f"life{n}-{now.timestamp():.0f}@example.com",
            language=language,
        )
        session.add(subscriber)
        session.commit()
        subscriber_id = subscriber.id
    gateway = SimulatedGateway()
    start = now - timedelta(days=days_ago)
    typed = {"number": "4242424242424242", "exp_month": "12", "exp_year": str(now.year + 3), "cvc": "123"}
    update_payment_method(
        engine,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        card_input={"payment_method": tokenize_card(typed).id},
        gateway=gateway,
        now=start,
    )
    subscribe(
        engine, merchant_id=merchant_id, subscriber_id=subscriber_id, plan_id=plan_id, start_at=start, gateway=gateway
    )
    with Session(engine, expire_on_commit=False) as session:
        token = issue_portal_link(session, session.get(Subscriber, subscriber_id))
        session.commit()
    return subscriber_id, token
