"""A billing run on the renewal terms: a scheduled plan change, a discount and credit reach the
invoice and the subscription; an invoice they cover entirely is paid without a charge."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app.billing.plans import create_plan
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus
from portal_app.db import new_session
from portal_app.models import InvoiceLine, OutgoingEvent, Subscription
from tests.builders import JAN31, attempts_of, invoices_of, rows, subscribed_world, subscription_of

pytestmark = pytest.mark.integration

FEB28 = JAN31.replace(month=2, day=28)


def _set(world, **values):
    with new_session(world.engine) as session, session.begin():
        session.execute(
            sa.update(Subscription).where(Subscription.subscriber_id == world.subscriber_id).values(**values)
        )


def test_discount_credit_and_a_scheduled_plan_change_reach_the_renewal(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway, start_at=JAN31)
    with new_session(any_engine) as session, session.begin():
        pro = create_plan(
            session, merchant_id=world.merchant_id, name="Pro", amount_minor=4900, currency="USD", interval="month"
        )
    _set(
        world,
        pending_plan_id=pro.id,
        discount_kind="percent",
        discount_value=10,
        discount_cycles_left=2,
        credit_minor=90,
    )
    summary = run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert summary.renewed == 1 and summary.charges_succeeded == 1
    invoice = invoices_of(world)[-1]
    lines = sorted(rows(any_engine, InvoiceLine, InvoiceLine.invoice_id == invoice.id), key=lambda x: x.id)
    assert [(line.description, line.amount_minor) for line in lines] == [
        ("Pro (2026-02-28 – 2026-03-31)", 4900),
        ("Discount (10% off)", -490),
        ("Credit applied", -90),
    ]
    assert (invoice.subtotal_minor, invoice.total_minor, invoice.status) == (4320, 4320, InvoiceStatus.PAID)
    assert attempts_of(world)[-1].amount_minor == 4320
    sub = subscription_of(world)
    assert (sub.plan_id, sub.pending_plan_id, sub.credit_minor, sub.discount_cycles_left) == (pro.id, None, 0, 1)


def test_an_invoice_the_credit_covers_is_paid_without_a_charge(any_engine, gateway):
    world, _ = subscribed_world(any_engine, gateway, start_at=JAN31)
    _set(world, credit_minor=5000)
    attempts_before = len(attempts_of(world))
    summary = run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert summary.renewed == 1 and summary.charges_attempted == 0
    invoice = invoices_of(world)[-1]
    assert (invoice.total_minor, invoice.status, invoice.number is not None) == (0, InvoiceStatus.PAID, True)
    assert invoice.paid_at is not None and len(attempts_of(world)) == attempts_before
    assert subscription_of(world).credit_minor == 2100
    events = [e.type for e in rows(any_engine, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id)]
    assert events[-2:] == ["invoice.finalized", "invoice.paid"]
    # The next period bills the plan minus what credit is left.
    run_billing(any_engine, now=JAN31.replace(month=3, day=31) + timedelta(minutes=5), gateway=gateway)
    assert invoices_of(world)[-1].total_minor == 800 and subscription_of(world).credit_minor == 0
