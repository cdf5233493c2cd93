"""Saved cards: what we show, when they expire, the default card, and the gateway customer behind them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app.billing.audit import audit
from portal_app.billing.gateways.base import CardDetails, PaymentGateway
from portal_app.billing.tenancy import get_scoped
from portal_app.billing.webhooks_out.events import payment_method_updated
from portal_app.db import new_session
from portal_app.models import PaymentAttempt, PaymentMethod, Subscriber


@dataclasses.dataclass(frozen=True)
class CardSummary:
    """What the portal shows about a saved card."""

    payment_method_id: int
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    @classmethod
    def from_row(cls, pm: PaymentMethod) -> CardSummary:
        return cls(pm.id, pm.brand, pm.last4, pm.exp_month, pm.exp_year)


def expiry_instant(exp_month: int, exp_year: int) -> datetime:
    """A card works through the last day of its expiry month: this is the first instant after."""
    year, month = (exp_year + 1, 1) if exp_month == 12 else (exp_year, exp_month + 1)
    return datetime(year, month, 1, tzinfo=UTC)


def card_is_expired(pm: PaymentMethod, now: datetime) -> bool:
    return expiry_instant(pm.exp_month, pm.exp_year) <= now


def default_card_query(subscriber_ids, *columns):
    """Newest-last default, attached cards of these subscribers (later ids win in a dict)."""
    return (
        sa.select(*columns)
        .where(
            PaymentMethod.subscriber_id.in_(subscriber_ids),
            PaymentMethod.is_default.is_(True),
            PaymentMethod.detached_at.is_(None),
        )
        .order_by(PaymentMethod.id)
    )


def default_payment_method(session: Session, *, merchant_id: int, subscriber_id: int) -> PaymentMethod | None:
    get_scoped(session, Subscriber, subscriber_id, merchant_id)
    cards = session.execute(default_card_query([subscriber_id], PaymentMethod)).scalars().all()
    return cards[-1] if cards else None


def ensure_gateway_customer(
    engine: sa.Engine, subscriber: Subscriber, gateway: PaymentGateway, *, replace: bool = False
) -> str:
    """The subscriber's gateway customer, created on first use (outside any transaction)."""
    if subscriber.gateway_customer_id and not replace:
        return subscriber.gateway_customer_id
    ref = gateway.create_customer(
        email=subscriber.email,
        name=subscriber.name,
        metadata={"subscriber_id": str(subscriber.id), "merchant_id": str(subscriber.merchant_id)},
    )
    with new_session(engine) as session, session.begin():
        table = Subscriber.__table__
        expected = subscriber.gateway_customer_id or ""
        # Conditional: if a concurrent update stored a customer first, use theirs.
        stored = session.execute(
            sa.update(table)
            .where(table.c.id == subscriber.id, table.c.gateway_customer_id == expected)
            .values(gateway_customer_id=ref)
        ).rowcount
        if not stored:
            ref = session.execute(
                sa.select(table.c.gateway_customer_id).where(table.c.id == subscriber.id)
            ).scalar_one()
    subscriber.gateway_customer_id = ref
    return ref


def _make_default_card(session: Session, pm: PaymentMethod) -> None:
    """pm becomes the subscriber's only default card."""
    table = PaymentMethod.__table__
    session.execute(
        sa.update(table)
        .where(table.c.subscriber_id == pm.subscriber_id, table.c.id != pm.id, table.c.is_default.is_(True))
        .values(is_default=False)
    )
    if not pm.is_default:
        pm.is_default = True
        session.add(pm)


def save_card(
    engine: sa.Engine, subscriber: Subscriber, card: CardDetails, gateway: PaymentGateway, *, actor: str, now: datetime
) -> PaymentMethod:
    """Store brand/last4/expiry/reference and make it the default card.

    Idempotent per gateway reference: the browser and a setup_intent.succeeded webhook may both
    save the same card at once; the subscriber row lock makes the second one reuse the first row.
    """
    with new_session(engine) as session, session.begin():
        get_scoped(session, Subscriber, subscriber.id, subscriber.merchant_id, for_update=True)
        existing = session.exec(
            select(PaymentMethod).where(
                PaymentMethod.subscriber_id == subscriber.id,
                PaymentMethod.gateway_ref == card.gateway_ref,
                PaymentMethod.detached_at.is_(None),
            )
        ).first()
        if existing is not None:
            was_default = existing.is_default
            _make_default_card(session, existing)
            if not was_default:
                payment_method_updated(session, existing, merchant_id=subscriber.merchant_id, now=now)
            return existing
        pm = PaymentMethod(
            merchant_id=subscriber.merchant_id,
            subscriber_id=subscriber.id,
            gateway=gateway.name,
            gateway_ref=card.gateway_ref,
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            is_default=True,
            created_at=now,
        )
        session.add(pm)
        session.flush()
        _make_default_card(session, pm)
        audit(
            session,
            merchant_id=subscriber.merchant_id,
            subscriber_id=subscriber.id,
            actor=actor,
            kind="payment_method_updated",
            detail={"brand": card.brand, "last4": card.last4, "exp": f"{card.exp_month:02d}/{card.exp_year}"},
            now=now,
        )
        payment_method_updated(session, pm, merchant_id=subscriber.merchant_id, now=now)
    return pm


def retire_declined_card(session: Session, attempt: PaymentAttempt, *, now: datetime) -> PaymentMethod | None:
    """A hard decline (lost, stolen, closed, gone at the gateway): the card it charged is never charged
    again. The row stays for the history, detached and not default, so later charges find no card on
    file until the customer saves a new one (which retries the open invoices at once)."""
    if attempt.payment_method_id is None:
        return None
    pm = session.get(PaymentMethod, attempt.payment_method_id)
    if pm is None or pm.detached_at is not None:
        return None
    pm.detached_at = now
    pm.is_default = False
    session.add(pm)
    audit(
        session,
        merchant_id=pm.merchant_id,
        subscriber_id=pm.subscriber_id,
        actor="system",
        kind="payment_method_retired",
        detail={"brand": pm.brand, "last4": pm.last4, "decline_code": attempt.decline_code, "attempt_id": attempt.id},
        now=now,
    )
    return pm
