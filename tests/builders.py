"""Small builders for tests: a merchant with a plan and a subscriber, cards, and row queries.

Fixtures live in conftest.py; test modules import builders from here by name."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from PIL import Image, ImageDraw
from sqlmodel import Session, select

from portal_app.billing.gateways.simulated_tokens import tokenize_card
from portal_app.billing.money import Money
from portal_app.billing.payments.card_updates import update_payment_method
from portal_app.billing.plans import create_plan
from portal_app.billing.subscriptions import subscribe
from portal_app.db import new_session
from portal_app.models import (
    AuditEvent,
    EmailMessage,
    Invoice,
    InvoiceLine,
    Merchant,
    MerchantUser,
    PaymentAttempt,
    Plan,
    PortalLink,
    Subscriber,
    Subscription,
    utcnow,
)

UTC = UTC
JAN31 = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)
VISA = "4242424242424242"
CHARGE_DECLINES = "4000000000000341"


def raw_card(number: str = VISA) -> dict[str, str]:
    """A test card as a person types it, for the tokenizer (never for a gateway or a handler)."""
    return {"number": number, "exp_month": "12", "exp_year": str(utcnow().year + 3), "cvc": "123"}


def card(number: str = VISA) -> dict[str, str]:
    """A gateway's card_input: the test card tokenized like the browser's card component does."""
    return {"payment_method": tokenize_card(raw_card(number)).id}


@dataclasses.dataclass
class World:
    engine: sa.Engine
    merchant_id: int
    plan_id: int
    subscriber_id: int

    def session(self) -> Session:
        return new_session(self.engine)


def make_merchant(session: Session, slug: str = "fit", prefix: str = "FIT", **kw) -> Merchant:
    merchant = Merchant(
        name=kw.pop("name", slug.title() + " Inc."),
        slug=slug,
        invoice_prefix=prefix,
        support_email=f"help@{slug}.example",
        **kw,
    )
    session.add(merchant)
    session.flush()
    return merchant


def make_subscriber(
    session: Session, merchant_id: int, name: str = "Ada Lovelace", email: str | None = None, **kw
) -> Subscriber:
    subscriber = Subscriber(
        merchant_id=merchant_id, name=name, email=email or name.lower().replace(" ", ".") + "@example.com", **kw
    )
    session.add(subscriber)
    session.flush()
    return subscriber


def make_world(
    engine: sa.Engine,
    *,
    interval: str = "month",
    policy: str = "at_period_end",
    amount_minor: int = 2900,
    slug: str = "fit",
    prefix: str = "FIT",
    **merchant_kw,
) -> World:
    with new_session(engine) as session, session.begin():
        merchant = make_merchant(session, slug, prefix, **merchant_kw)
        plan = create_plan(
            session,
            merchant_id=merchant.id,
            name="Basic Monthly",
            amount_minor=amount_minor,
            currency="USD",
            interval=interval,
            cancellation_policy=policy,
        )
        subscriber = make_subscriber(session, merchant.id)
        return World(engine, merchant.id, plan.id, subscriber.id)


def add_card(world: World, gateway, number: str = VISA, now: datetime = JAN31, subscriber_id: int | None = None):
    return update_payment_method(
        world.engine,
        merchant_id=world.merchant_id,
        subscriber_id=subscriber_id or world.subscriber_id,
        card_input=card(number),
        gateway=gateway,
        now=now,
    )


def subscribed_world(engine: sa.Engine, gateway, *, start_at: datetime = JAN31, number: str = VISA, **kw):
    """A merchant, a plan and a subscriber with a card and a paid first invoice."""
    world = make_world(engine, **kw)
    add_card(world, gateway, number, now=start_at)
    result = subscribe(
        engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=start_at,
        gateway=gateway,
    )
    return world, result


def rows(engine: sa.Engine, model, *where):
    with new_session(engine) as session:
        return list(session.exec(select(model).where(*where)))


def subscription_of(world: World) -> Subscription:
    (sub,) = rows(world.engine, Subscription, Subscription.subscriber_id == world.subscriber_id)
    return sub


def invoices_of(world: World) -> list[Invoice]:
    return sorted(rows(world.engine, Invoice, Invoice.subscriber_id == world.subscriber_id), key=lambda i: i.id)


def attempts_of(world: World) -> list[PaymentAttempt]:
    return sorted(
        rows(world.engine, PaymentAttempt, PaymentAttempt.merchant_id == world.merchant_id), key=lambda a: a.id
    )


def emails_of(world: World, kind: str | None = None) -> list[EmailMessage]:
    where = [EmailMessage.subscriber_id == world.subscriber_id]
    if kind:
        where.append(EmailMessage.kind == kind)
    return sorted(rows(world.engine, EmailMessage, *where), key=lambda e: e.id)


def audit_kinds(world: World) -> list[str]:
    return [
        e.kind
        for e in sorted(
            rows(world.engine, AuditEvent, AuditEvent.subscriber_id == world.subscriber_id), key=lambda e: e.id
        )
    ]


# --------------------------------------------------------------------------- documents (no database)

FINALIZED = datetime(2026, 1, 31, 9, 30, tzinfo=UTC)


def png_logo() -> bytes:
    image = Image.new("RGBA", (400, 120), (0, 0, 0, 0))
    ImageDraw.Draw(image).rounded_rectangle((0, 0, 120, 120), 24, fill=(37, 99, 235, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def jpeg_logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 100), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def make_invoice(
    *,
    status: str = "paid",
    language: str = "en",
    billing_name: str = "Zoë Ñúñez",
    number: str = "ACME-2026-000001",
    n_lines: int = 3,
    logo: bytes | None = None,
    finalized_at: datetime | None = FINALIZED,
    invoice_id: int = 7,
    seller_snapshot: bool = True,
    tax_rate_bp: int = 2100,
    brand_color: str = "",
) -> tuple[Invoice, list[InvoiceLine], Merchant]:
    """A finalized invoice in memory. seller_snapshot=False: one finalized before the seller snapshot."""
    merchant = Merchant(
        id=1,
        name="Acme Cloud",
        slug="acme",
        invoice_prefix="ACME",
        support_email="help@acme.example",
        logo_png=logo,
        legal_name="Acme Cloud Servicios S.L.",
        address="Paseo de la Castellana 100\n28046 Madrid\nEspaña",
        tax_id="ESB87654321",
        brand_color=brand_color,
    )
    lines = [
        InvoiceLine(
            id=invoice_id * 100 + i,
            invoice_id=invoice_id,
            description=f"Pro plan — seat {i + 1}",
            quantity=1,
            unit_amount_minor=2900,
            amount_minor=2900,
            currency="EUR",
        )
        for i in range(n_lines)
    ]
    subtotal = 2900 * n_lines
    tax = Money(subtotal, "EUR").percent_bp(tax_rate_bp).amount_minor
    invoice = Invoice(
        id=invoice_id,
        merchant_id=1,
        subscriber_id=3,
        number=number,
        status=status,
        currency="EUR",
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=subtotal + tax,
        tax_rate_bp=tax_rate_bp,
        period_start=FINALIZED,
        period_end=FINALIZED + timedelta(days=28),
        language=language,
        merchant_name=merchant.name,
        billing_name=billing_name,
        billing_email="zoe@example.com",
        billing_address="Calle Mayor 1\n28013 Madrid\nEspaña",
        tax_id="ESB12345678",
        seller_legal_name=merchant.legal_name if seller_snapshot else "",
        seller_address=merchant.address if seller_snapshot else "",
        seller_tax_id=merchant.tax_id if seller_snapshot else "",
        seller_email=merchant.support_email if seller_snapshot else "",
        finalized_at=finalized_at,
        due_at=FINALIZED + timedelta(days=14),
        paid_at=FINALIZED + timedelta(minutes=1) if status == "paid" else None,
    )
    return invoice, lines, merchant


# --------------------------------------------------------------------------- console forms


def card_form(number: str = VISA) -> dict[str, str]:
    """What the console/portal card form sends once its card component tokenized the card."""
    return card(number.replace(" ", ""))


PLAN_FORM = {
    "name": "Basic",
    "price": "29.00",
    "currency": "usd",
    "interval": "month",
    "interval_count": "1",
    "cancellation_policy": "at_period_end",
    "active": "on",
    "active_present": "1",
}


def table_snapshot(engine) -> dict:
    """Every row of every table that a console action could touch, for "nothing changed" checks."""
    out = {}
    with Session(engine) as session:
        for model in (
            Merchant,
            MerchantUser,
            Plan,
            Subscriber,
            Subscription,
            Invoice,
            PortalLink,
            EmailMessage,
            AuditEvent,
            PaymentAttempt,
        ):
            rows = session.exec(select(model)).all()
            out[model.__name__] = sorted(
                tuple(sorted((k, repr(v)) for k, v in row.model_dump().items() if k != "last_seen_at")) for row in rows
            )
    return out
