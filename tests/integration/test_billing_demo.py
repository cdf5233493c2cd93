"""Demo data: idempotent, built by the real engine, every subscriber in the promised state."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from portal_app.billing.demo import DEMO_PASSWORD, demo_portal_links, seed_demo
from portal_app.billing.invoice_queries import invoice_years
from portal_app.billing.payments.cards import card_is_expired, default_payment_method
from portal_app.billing.portal_links import resolve_portal_token
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import on_grace_period
from portal_app.db import new_session
from portal_app.models import (
    EmailMessage,
    Invoice,
    Merchant,
    MerchantUser,
    PaymentAttempt,
    Subscriber,
    Subscription,
)
from tests.builders import UTC


def _state(engine, now):
    with new_session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == "acme")).one()
        out = {}
        for subscriber in session.exec(select(Subscriber).where(Subscriber.merchant_id == merchant.id)):
            (sub,) = session.exec(select(Subscription).where(Subscription.subscriber_id == subscriber.id)).all()
            invoices = session.exec(
                select(Invoice).where(Invoice.subscriber_id == subscriber.id).order_by(Invoice.id)
            ).all()
            out[subscriber.name] = dict(
                subscriber=subscriber,
                sub=sub,
                invoices=invoices,
                card=default_payment_method(session, merchant_id=merchant.id, subscriber_id=subscriber.id),
                years=invoice_years(session, merchant_id=merchant.id, subscriber_id=subscriber.id),
            )
        return merchant, out


@pytest.mark.parametrize("now", [datetime(2026, 3, 10, 12, tzinfo=UTC), datetime(2026, 5, 31, 23, tzinfo=UTC)])
def test_seed_builds_the_four_stories_once(engine, gateway, now):
    assert seed_demo(engine, now=now, gateway=gateway) is True
    merchant, people = _state(engine, now)
    assert (merchant.name, merchant.invoice_prefix, merchant.support_email) == (
        "Acme Fitness",
        "ACME",
        "support@acme.example",
    )
    assert merchant.logo_png.startswith(b"\x89PNG")

    zoe = people["Zoë Ñúñez"]
    assert zoe["sub"].status == SubscriptionStatus.ACTIVE and not zoe["sub"].cancel_at_period_end
    assert (zoe["card"].brand, zoe["card"].last4) == ("visa", "4242") and not card_is_expired(zoe["card"], now)
    assert len(zoe["invoices"]) >= 4 and all(i.status == InvoiceStatus.PAID for i in zoe["invoices"])

    marcus = people["Marcus Chen"]
    assert marcus["sub"].status == SubscriptionStatus.PAST_DUE
    assert (marcus["card"].last4, card_is_expired(marcus["card"], now)) == ("0069", True)
    open_invoice = marcus["invoices"][-1]
    assert [i.status for i in marcus["invoices"]].count(InvoiceStatus.OPEN) == 1
    assert open_invoice.status == InvoiceStatus.OPEN and open_invoice.next_retry_at > now
    with new_session(engine) as session:
        attempts = session.exec(select(PaymentAttempt).where(PaymentAttempt.invoice_id == open_invoice.id)).all()
        failed_emails = session.exec(
            select(EmailMessage).where(
                EmailMessage.subscriber_id == marcus["subscriber"].id, EmailMessage.kind == "payment_failed"
            )
        ).all()
    assert attempts[0].status == AttemptStatus.FAILED and attempts[0].decline_code == "expired_card"
    assert failed_emails and all(e.created_at <= now for e in failed_emails)
    assert all("?flow=payment_method_update" in e.body_text for e in failed_emails)  # opens the card form

    priya = people["Priya Patel"]
    assert priya["sub"].status == SubscriptionStatus.ACTIVE and priya["sub"].cancel_at_period_end
    assert priya["sub"].cancellation_reason and on_grace_period(priya["sub"], now)

    globex = people["Globex Corporation"]
    assert globex["subscriber"].billing_address and globex["subscriber"].tax_id
    assert globex["years"][now.year - 1] == 12
    assert all(i.status == InvoiceStatus.PAID for i in globex["invoices"])
    assert globex["invoices"][0].billing_address == globex["subscriber"].billing_address
    first = globex["invoices"][0]  # the seller, as a corporate buyer files it
    assert (first.seller_legal_name, first.seller_tax_id) == ("Acme Fitness, Inc.", "EIN 12-3456789")
    assert "San Francisco" in first.seller_address and first.seller_email == "support@acme.example"

    hiroshi = people["Hiroshi Tanaka"]
    assert hiroshi["sub"].status == SubscriptionStatus.ACTIVE

    lena = people["Lena Fischer"]
    assert lena["sub"].status == SubscriptionStatus.TRIALING and lena["invoices"] == []
    assert now < lena["sub"].trial_end <= now + timedelta(days=2)
    with new_session(engine) as session:
        reminders = session.exec(
            select(EmailMessage).where(
                EmailMessage.subscriber_id == lena["subscriber"].id, EmailMessage.kind == "trial_will_end"
            )
        ).all()
    assert len(reminders) == 1 and "$49.00" in reminders[0].body_text

    # Numbers are gapless per year across the merchant.
    with new_session(engine) as session:
        numbers = session.exec(select(Invoice.number).where(Invoice.merchant_id == merchant.id)).all()
        user = session.exec(select(MerchantUser).where(MerchantUser.merchant_id == merchant.id)).one()
    assert PasswordHasher().verify(user.password_hash, DEMO_PASSWORD)
    for year in {int(n.split("-")[1]) for n in numbers}:
        values = sorted(int(n.split("-")[2]) for n in numbers if n.split("-")[1] == str(year))
        assert values == list(range(1, len(values) + 1))

    # Idempotent: a second seed changes nothing.
    before = len(numbers)
    assert seed_demo(engine, now=now, gateway=gateway) is False
    with new_session(engine) as session:
        assert len(session.exec(select(Invoice.id)).all()) == before
        assert len(session.exec(select(Merchant.id)).all()) == 1


def test_demo_links_stay_the_same_until_renewal_is_asked_for(engine, gateway):
    """`make run` prints the current links at every start (an emailed link keeps working); only
    `make run NEW_DEMO_LINKS=1` (renew=True) revokes them."""
    seed_demo(engine, now=datetime(2026, 3, 10, 12, tzinfo=UTC), gateway=gateway)
    first = demo_portal_links(engine)
    assert [link.name for link in first][:4] == ["Zoë Ñúñez", "Marcus Chen", "Priya Patel", "Globex Corporation"]
    assert {link.status for link in first} == {"active", "past_due", "trialing"}  # trialing: Lena
    second = demo_portal_links(engine)
    assert second == first
    with new_session(engine) as session, session.begin():
        assert all(resolve_portal_token(session, link.token) for link in second)
    renewed = demo_portal_links(engine, renew=True)
    assert not {link.token for link in renewed} & {link.token for link in first}
    with new_session(engine) as session, session.begin():
        assert all(resolve_portal_token(session, link.token) for link in renewed)
        assert not any(resolve_portal_token(session, link.token) for link in first)
    assert demo_portal_links(engine) == renewed


def test_the_demo_payment_failed_email_still_opens_the_portal_after_a_second_start(engine, gateway):
    """The link in the demo's "payment failed" email (the outbox) survives printing the links again."""
    seed_demo(engine, now=datetime(2026, 3, 10, 12, tzinfo=UTC), gateway=gateway)
    demo_portal_links(engine)  # first `make run`
    demo_portal_links(engine)  # second `make run`
    with new_session(engine) as session:
        failed = session.exec(select(EmailMessage).where(EmailMessage.kind == "payment_failed")).all()
    assert failed
    for email in failed:
        token = re.search(r"/portal/([A-Za-z0-9_-]{43})", email.body_text).group(1)
        with new_session(engine) as session, session.begin():
            assert resolve_portal_token(session, token) is not None
