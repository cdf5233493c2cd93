"""Demo data: Acme Fitness with subscribers in every state the portal has to show.

Built with the real services on a simulated clock (subscriptions started back in time, billing runs
at each instant something was due), so numbers are gapless and every row is one the engine itself
would have written. Idempotent: nothing happens if the merchant `acme` exists.

Subscribers (relative to `now`):
  Zoë Ñúñez          Basic Monthly, active, Visa 4242, a few months paid
  Marcus Chen        Basic Monthly, past_due: his Visa ending 0069 expired, the renewal was declined,
                     a retry is scheduled
  Priya Patel        Basic Monthly, canceled at period end (still active until then), reason recorded
  Globex Corporation Basic Monthly since January last year: twelve paid invoices of last year + this year's
  Hiroshi Tanaka     Pro Yearly (cancellation not allowed), active
Basic Monthly subscribers may switch to Pro Monthly (and back) from the portal.
  Lena Fischer       Studio Monthly (14-day free trial, pauses up to 30 days), trialing: the trial ends
                     in two days, its reminder (amount and date of the first charge) is in the outbox
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import select

from portal_app.billing.accounts import hash_password
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.gateways.simulated_tokens import tokenize_card
from portal_app.billing.payments.card_updates import update_payment_method
from portal_app.billing.periods import add_interval, period_bounds
from portal_app.billing.plan_lifecycle import set_plan_lifecycle
from portal_app.billing.plan_switches import set_switch_targets
from portal_app.billing.plans import create_plan
from portal_app.billing.portal_links import current_portal_token, issue_portal_link
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscription_views import current_subscription
from portal_app.billing.subscriptions import cancel_subscription, subscribe
from portal_app.db import new_session
from portal_app.models import Invoice, Merchant, MerchantUser, PaymentMethod, Plan, Subscriber, Subscription, utcnow
from portal_app.settings import PROJECT_ROOT

MERCHANT_SLUG = "acme"
OWNER_EMAIL = "owner@acme.example"
DEMO_PASSWORD = "demo-password-123"
LOGO_PATH = PROJECT_ROOT / "assets" / "acme-logo.png"
TEST_VISA = "4242424242424242"
FAILING_CARD = "4000000000000341"  # attaches, but every charge is declined


@dataclasses.dataclass(frozen=True)
class _Person:
    key: str
    name: str
    email: str
    language: str = "en"
    billing_name: str = ""
    billing_address: str = ""
    tax_id: str = ""


ZOE = _Person("zoe", "Zoë Ñúñez", "zoe.nunez@example.com", language="es")
MARCUS = _Person("marcus", "Marcus Chen", "marcus.chen@example.com")
PRIYA = _Person("priya", "Priya Patel", "priya.patel@example.com")
GLOBEX = _Person(
    "globex",
    "Globex Corporation",
    "ap@globex.example",
    billing_name="Globex Corporation",
    billing_address="Accounts Payable\n1 Globex Plaza\nSpringfield, OR 97477\nUnited States",
    tax_id="US 12-3456789",
)
HIROSHI = _Person("hiroshi", "Hiroshi Tanaka", "hiroshi.tanaka@example.com")
LENA = _Person("lena", "Lena Fischer", "lena.fischer@example.com")
DEMO_PEOPLE = (ZOE, MARCUS, PRIYA, GLOBEX, HIROSHI, LENA)


class DemoLink(NamedTuple):
    name: str
    plan: str
    status: str
    token: str


def _card_input(number: str = TEST_VISA) -> dict[str, str]:
    """A test card as the browser's card component hands it over: tokenized (pm_), never the number.
    The tokenizer checks expiry against the real date, whatever the simulated clock says."""
    card = {"number": number, "exp_month": "12", "exp_year": str(utcnow().year + 3), "cvc": "123"}
    return {"payment_method": tokenize_card(card).id}


def seed_demo(engine: sa.Engine, *, now: datetime, gateway: SimulatedGateway | None = None) -> bool:
    """Create the Acme Fitness demo as of `now`; False (and nothing written) if it already exists."""

    gateway = gateway or SimulatedGateway()
    with new_session(engine) as session, session.begin():
        if session.exec(select(Merchant.id).where(Merchant.slug == MERCHANT_SLUG)).first() is not None:
            return False
        merchant = Merchant(
            name="Acme Fitness",
            slug=MERCHANT_SLUG,
            invoice_prefix="ACME",
            support_email="support@acme.example",
            # The seller as its invoices name it (snapshotted on each invoice at finalization).
            legal_name="Acme Fitness, Inc.",
            address="500 Market Street, Suite 300\nSan Francisco, CA 94105\nUnited States",
            tax_id="EIN 12-3456789",
            logo_png=LOGO_PATH.read_bytes() if LOGO_PATH.exists() else None,
            logo_content_type="image/png" if LOGO_PATH.exists() else "",
            dunning_schedule_days="1,3,5,7",
            dunning_end_state="unpaid",
        )
        session.add(merchant)
        session.flush()
        session.add(
            MerchantUser(
                merchant_id=merchant.id,
                email=OWNER_EMAIL,
                name="Alex Rivera",
                password_hash=hash_password(DEMO_PASSWORD),
            )
        )
        basic = create_plan(
            session,
            merchant_id=merchant.id,
            name="Basic Monthly",
            amount_minor=2900,
            currency="USD",
            interval="month",
            cancellation_policy="at_period_end",
        )
        pro = create_plan(
            session,
            merchant_id=merchant.id,
            name="Pro Yearly",
            amount_minor=29000,
            currency="USD",
            interval="year",
            cancellation_policy="not_allowed",
        )
        # Basic Monthly and Pro Monthly subscribers may switch between the two from the portal.
        pro_monthly = create_plan(
            session, merchant_id=merchant.id, name="Pro Monthly", amount_minor=4900, currency="USD", interval="month"
        )
        for plan_id, target_id in ((basic.id, pro_monthly.id), (pro_monthly.id, basic.id)):
            set_switch_targets(session, plan_id, [target_id], merchant_id=merchant.id, actor="system", now=now)
        studio = create_plan(
            session,
            merchant_id=merchant.id,
            name="Studio Monthly",
            amount_minor=4900,
            currency="USD",
            interval="month",
            cancellation_policy="at_period_end",
        )
        set_plan_lifecycle(
            session, studio.id, merchant_id=merchant.id, trial_days=14, pause_max_days=30, actor="system", now=now
        )
        people = {}
        for person in DEMO_PEOPLE:
            subscriber = Subscriber(
                merchant_id=merchant.id,
                name=person.name,
                email=person.email,
                language=person.language,
                billing_name=person.billing_name,
                billing_address=person.billing_address,
                tax_id=person.tax_id,
            )
            session.add(subscriber)
            session.flush()
            people[person.key] = subscriber.id
        merchant_id, basic_id, pro_id, studio_id = merchant.id, basic.id, pro.id, studio.id

    # Anchors on different days and hours, so each simulated billing run renews one subscriber.
    marcus_fails_at = now - timedelta(hours=6)
    starts = {
        "globex": datetime(now.year - 1, 1, 15, 10, 0, tzinfo=now.tzinfo),
        "zoe": add_interval(now, "month", 1, -4) - timedelta(days=3, hours=2),
        "marcus": add_interval(marcus_fails_at, "month", 1, -3),
        "priya": add_interval(now, "month", 1, -2) - timedelta(days=10, hours=5),
        "hiroshi": add_interval(now, "month", 1, -5) + timedelta(hours=3),
        "lena": now - timedelta(days=12, hours=1),  # a 14-day trial: it ends in two days
    }
    plan_of = {
        **{"globex": basic_id, "zoe": basic_id, "marcus": basic_id, "priya": basic_id},
        **{"hiroshi": pro_id, "lena": studio_id},
    }

    events: list[tuple[datetime, Callable[[], None]]] = []
    for key, start_at in starts.items():
        events.append((start_at, _starter(engine, gateway, merchant_id, people[key], plan_of[key], start_at)))
    # Marcus: his card expires the month before his latest renewal, which the bank then declines.
    marcus_renewal = period_bounds(starts["marcus"], "month", 1, 3)[0]
    events.append(
        (marcus_renewal - timedelta(minutes=1), lambda: _expire_card(engine, gateway, people["marcus"], marcus_renewal))
    )
    priya_cancels_at = now - timedelta(days=2)
    events.append((priya_cancels_at, lambda: _cancel(engine, merchant_id, people["priya"], priya_cancels_at)))
    events.sort(key=lambda event: event[0])

    _play(engine, gateway, events, until=now)
    run_billing(engine, now=now, gateway=gateway)  # what is due now: Lena's trial reminder
    return True


def _starter(engine, gateway, merchant_id: int, subscriber_id: int, plan_id: int, start_at: datetime):
    def start() -> None:
        update_payment_method(
            engine,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            card_input=_card_input(),
            gateway=gateway,
            now=start_at,
        )
        subscribe(
            engine,
            merchant_id=merchant_id,
            subscriber_id=subscriber_id,
            plan_id=plan_id,
            start_at=start_at,
            gateway=gateway,
        )

    return start


def _expire_card(engine: sa.Engine, gateway: SimulatedGateway, subscriber_id: int, renewal_at: datetime) -> None:
    """Marcus's Visa ending 0069 expired last month. The simulated gateway (like Stripe) won't save an
    expired card, so the demo stores that card's row itself, backed by Stripe's "attaches, but every
    charge fails" test card, and scripts the bank's expired_card answer for the renewal."""
    expired = renewal_at.replace(day=1) - timedelta(days=1)
    with new_session(engine) as session, session.begin():
        subscriber = session.get(Subscriber, subscriber_id)
        card = session.exec(
            select(PaymentMethod).where(
                PaymentMethod.subscriber_id == subscriber_id, PaymentMethod.is_default.is_(True)
            )
        ).one()
        failing = gateway.attach_card(
            customer_ref=subscriber.gateway_customer_id, card_input=_card_input(FAILING_CARD)
        ).card
        card.gateway_ref, card.brand, card.last4 = failing.gateway_ref, "visa", "0069"
        card.exp_month, card.exp_year = expired.month, expired.year
        session.add(card)
    gateway.fail_next("expired_card", hard=False)


def _cancel(engine: sa.Engine, merchant_id: int, subscriber_id: int, at: datetime) -> None:
    with new_session(engine) as session, session.begin():
        sub = session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber_id)).one()
        cancel_subscription(
            session,
            sub.id,
            merchant_id=merchant_id,
            actor="subscriber",
            reason="Moving to another city; I'll be back!",
            now=at,
        )


def _next_due(engine: sa.Engine) -> datetime | None:
    """The earliest instant the billing run has work: a period end or a scheduled retry."""
    with new_session(engine) as session:
        renewal = session.execute(
            sa.select(sa.func.min(Subscription.current_period_end)).where(
                Subscription.status.in_([SubscriptionStatus.ACTIVE, SubscriptionStatus.PAST_DUE]),
                Subscription.deleted_at.is_(None),
            )
        ).scalar()
        retry = session.execute(
            sa.select(sa.func.min(Invoice.next_retry_at)).where(Invoice.status == InvoiceStatus.OPEN)
        ).scalar()
    values = [v for v in (renewal, retry) if v is not None]
    return min(values) if values else None


def _play(
    engine: sa.Engine, gateway: SimulatedGateway, events: list[tuple[datetime, Callable[[], None]]], *, until: datetime
) -> None:
    """Advance the clock to each instant with something to do: scripted events first, then billing."""
    while True:
        due = _next_due(engine)
        next_event = events[0][0] if events else None
        moments = [m for m in (due, next_event) if m is not None and m <= until]
        if not moments:
            return
        moment = min(moments)
        if next_event is not None and next_event == moment:
            events.pop(0)[1]()
        else:
            run_billing(engine, now=moment, gateway=gateway)


def demo_portal_links(engine: sa.Engine, *, renew: bool = False) -> list[DemoLink]:
    """The demo subscribers' portal links, for `make run`: the CURRENT ones (re-derived), so links
    already emailed or bookmarked keep working across restarts; a link is issued only for a
    subscriber with none. renew=True (`make run NEW_DEMO_LINKS=1`) revokes them and issues new ones."""

    links = []
    with new_session(engine) as session, session.begin():
        merchant = session.exec(select(Merchant).where(Merchant.slug == MERCHANT_SLUG)).first()
        if merchant is None:
            return []
        emails = [person.email for person in DEMO_PEOPLE]
        subscribers = session.exec(
            select(Subscriber).where(Subscriber.merchant_id == merchant.id, Subscriber.email.in_(emails))
        ).all()
        for subscriber in sorted(subscribers, key=lambda s: emails.index(s.email)):
            sub = current_subscription(session, merchant.id, subscriber.id)
            plan = session.get(Plan, sub.plan_id) if sub else None
            token = (None if renew else current_portal_token(session, subscriber)) or issue_portal_link(
                session, subscriber
            )
            links.append(DemoLink(subscriber.name, plan.name if plan else "", sub.status if sub else "", token))
    return links
