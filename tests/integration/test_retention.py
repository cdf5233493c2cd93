"""Retention offers (billing/retention.py through facades/portal_retention.py) on SQLite and
PostgreSQL: shown once per cancel attempt; accepted -> the subscription stays and its next N renewal
invoices carry the discount line, then the full price again; declined -> the cancellation goes on;
a plan without an offer goes straight to the confirmation."""

from __future__ import annotations

import functools
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing import retention
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades import portal_retention
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus
from portal_app.models import InvoiceLine, OutgoingEvent, Plan, RetentionOffer, Subscription
from tests.builders import JAN31, audit_kinds, emails_of, invoices_of, rows, subscribed_world, subscription_of

pytestmark = pytest.mark.integration

RENEWALS = [JAN31.replace(month=m, day=d) for m, d in ((2, 28), (3, 31), (4, 30), (5, 31))]


@pytest.fixture
def wired(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    return any_engine


def _world(engine, gateway, *, kind="percent", value=20, cycles=3):
    world, _ = subscribed_world(engine, gateway, start_at=JAN31)
    with db.new_session(engine) as session, session.begin():
        session.execute(
            sa.update(Plan)
            .where(Plan.id == world.plan_id)
            .values(retention_kind=kind, retention_value=value, retention_cycles=cycles)
        )
    return world, {"merchant_id": world.merchant_id, "subscriber_id": world.subscriber_id}


def _lines(engine, invoice):
    found = rows(engine, InvoiceLine, InvoiceLine.invoice_id == invoice.id)
    return [(line.description, line.amount_minor) for line in sorted(found, key=lambda x: x.id)]


def test_the_offer_is_shown_once_per_cancel_attempt(wired, gateway):
    world, ids = _world(wired, gateway)
    now = JAN31 + timedelta(days=2)
    first = portal_retention.offer_before_cancel(**ids, now=now)
    again = portal_retention.offer_before_cancel(**ids, now=now + timedelta(seconds=5))
    assert first == again and (first.kind, first.value, first.cycles) == ("percent", 20, 3)
    assert (first.price.amount_minor, first.discounted.amount_minor) == (2900, 2320)
    (offer,) = rows(wired, RetentionOffer, RetentionOffer.subscriber_id == world.subscriber_id)
    assert offer.accepted_at is None and offer.declined_at is None
    assert audit_kinds(world).count("retention_offer_shown") == 1


def test_accepting_keeps_the_subscription_and_discounts_the_next_invoices_then_full_price(wired, gateway):
    world, ids = _world(wired, gateway)
    now = JAN31 + timedelta(days=2)
    portal_retention.offer_before_cancel(**ids, now=now)
    before = len(rows(wired, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id))
    portal_retention.accept_offer(**ids, now=now)
    portal_retention.accept_offer(**ids, now=now)  # a double click answers once

    sub = subscription_of(world)
    assert (sub.status, sub.cancel_at_period_end, sub.canceled_at) == ("active", False, None)
    assert (sub.discount_kind, sub.discount_value, sub.discount_cycles_left) == ("percent", 20, 3)
    assert len(emails_of(world, "retention_offer_accepted")) == 1
    assert audit_kinds(world).count("retention_offer_accepted") == 1
    events = rows(wired, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id)
    assert [e.type for e in sorted(events, key=lambda e: e.id)[before:]] == ["subscription.updated"]
    # The overview's next amount is what the next renewal will bill.
    overview = portal_facade.portal_summary(**ids, now=now).subscription
    assert overview.next_amount.amount_minor == 2320
    # No second offer once one was accepted.
    assert portal_retention.offer_before_cancel(**ids, now=now) is None

    for day in RENEWALS:
        run_billing(wired, now=day + timedelta(minutes=5), gateway=gateway)
    renewals = invoices_of(world)[1:]
    assert [invoice.total_minor for invoice in renewals] == [2320, 2320, 2320, 2900]
    assert all(invoice.status == InvoiceStatus.PAID for invoice in renewals)
    assert _lines(wired, renewals[0])[1] == ("Discount (20% off)", -580)
    assert len(_lines(wired, renewals[3])) == 1  # full price: no discount line
    sub = subscription_of(world)
    assert (sub.discount_kind, sub.discount_cycles_left) == ("", 0)

    with db.session_scope() as session:
        stats = retention.retention_stats(session, merchant_id=world.merchant_id)
    assert (stats.shown, stats.accepted) == (1, 1)
    assert [(m.amount_minor, m.currency) for m in stats.revenue_kept] == [(3 * 2320, "USD")]


def test_an_amount_offer_takes_its_amount_off(wired, gateway):
    world, ids = _world(wired, gateway, kind="amount", value=1000, cycles=1)
    now = JAN31 + timedelta(days=2)
    assert portal_retention.offer_before_cancel(**ids, now=now).discounted.amount_minor == 1900
    portal_retention.accept_offer(**ids, now=now)
    run_billing(wired, now=RENEWALS[0] + timedelta(minutes=5), gateway=gateway)
    assert _lines(wired, invoices_of(world)[-1])[1:] == [("Discount", -1000)]


def test_declining_lets_the_cancellation_go_on_and_the_offer_is_not_shown_again(wired, gateway):
    world, ids = _world(wired, gateway)
    now = JAN31 + timedelta(days=2)
    assert portal_retention.offer_before_cancel(**ids, now=now) is not None
    portal_retention.decline_offer(**ids, now=now)
    result = portal_facade.cancel(**ids, reason_code="too_expensive", reason_text="", now=now)
    assert not result.immediate and subscription_of(world).cancel_at_period_end
    sub = subscription_of(world)
    assert (sub.discount_kind, sub.discount_cycles_left) == ("", 0)
    (offer,) = rows(wired, RetentionOffer, RetentionOffer.subscriber_id == world.subscriber_id)
    assert offer.declined_at is not None and offer.accepted_at is None
    portal_facade.undo_cancel(**ids, now=now)
    assert portal_retention.offer_before_cancel(**ids, now=now) is None
    with pytest.raises(NotAllowed):
        portal_retention.accept_offer(**ids, now=now)


def test_a_plan_without_an_offer_goes_straight_to_the_confirmation(wired, gateway):
    world, ids = _world(wired, gateway, kind="", value=0, cycles=0)
    assert portal_retention.offer_before_cancel(**ids, now=JAN31 + timedelta(days=1)) is None
    assert rows(wired, RetentionOffer, RetentionOffer.subscriber_id == world.subscriber_id) == []


def test_another_merchants_subscriber_sees_nothing(wired, gateway):
    world, ids = _world(wired, gateway)
    with pytest.raises(NotFound):
        portal_retention.offer_before_cancel(merchant_id=world.merchant_id + 1, subscriber_id=world.subscriber_id)


@pytest.mark.parametrize(
    ("kind", "value", "cycles", "field"),
    [
        ("bogus", 10, 3, "retention_kind"),
        ("percent", 0, 3, "retention_value"),
        ("percent", 101, 3, "retention_value"),
        ("amount", 0, 3, "retention_value"),
        ("percent", 10, 0, "retention_cycles"),
        ("percent", 10, 25, "retention_cycles"),
        ("percent", True, 3, "retention_value"),
    ],
)
def test_offer_validation(kind, value, cycles, field):
    with pytest.raises(retention.RetentionError) as err:
        retention.validate_offer(kind, value, cycles, "USD")
    assert err.value.field == field


def test_the_console_saves_a_validated_offer_and_counts_it_on_the_dashboard(wired, gateway):
    from portal_app.billing.facades.console import plan_retention, retention_stats
    from portal_app.billing.facades.console.forms import ConsoleError

    world, ids = _world(wired, gateway, kind="", value=0, cycles=0)
    save = functools.partial(
        plan_retention.save_retention_offer, merchant_id=world.merchant_id, user_id=1, plan_id=str(world.plan_id)
    )
    saved = save(form={"retention_kind": "amount", "retention_value": "5.50", "retention_cycles": "2"})
    assert (saved.kind, saved.value, saved.cycles) == ("amount", "5.50", "2")
    with db.new_session(wired) as session:
        plan = session.get(Plan, world.plan_id)
        assert (plan.retention_kind, plan.retention_value, plan.retention_cycles) == ("amount", 550, 2)
    for form, field in [
        ({"retention_kind": "percent", "retention_value": "150", "retention_cycles": "3"}, "retention_value"),
        ({"retention_kind": "percent", "retention_value": "10", "retention_cycles": "30"}, "retention_cycles"),
        ({"retention_kind": "amount", "retention_value": "abc", "retention_cycles": "3"}, "retention_value"),
        ({"retention_kind": {"x": 1}}, "retention_kind"),
    ]:
        with pytest.raises(ConsoleError) as err:
            save(form=form)
        assert err.value.field == field
    with pytest.raises(NotFound):  # another merchant's plan
        plan_retention.save_retention_offer(
            merchant_id=world.merchant_id + 1, user_id=1, plan_id=world.plan_id, form={"retention_kind": ""}
        )
    assert save(form={"retention_kind": ""}).kind == ""
    card = retention_stats.retention_card(merchant_id=world.merchant_id)
    assert (card.shown, card.accepted, card.revenue_kept) == (0, 0, [])


def test_a_past_due_subscription_is_not_offered_a_discount(wired, gateway):
    world, ids = _world(wired, gateway)
    with db.new_session(wired) as session, session.begin():
        session.execute(sa.update(Subscription).values(status="past_due"))
    assert portal_retention.offer_before_cancel(**ids, now=JAN31 + timedelta(days=1)) is None
