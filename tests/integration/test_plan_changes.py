"""Plan changes on SQLite and PostgreSQL: a prorated upgrade charged at once, downgrades at the period
end (with undo) or immediately (credit), another interval restarting the period, refusals, a declined
upgrade left to dunning, and a double submit giving one change."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal_app.billing import plan_changes
from portal_app.billing.errors import NotAllowed, NotFound
from portal_app.billing.plan_switches import PlanSwitchError, set_downgrade_timing, set_switch_targets, switch_targets
from portal_app.billing.plans import create_plan
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import InvoiceStatus, SubscriptionStatus
from portal_app.billing.subscriptions import cancel_subscription
from portal_app.db import new_session
from portal_app.models import InvoiceLine, OutgoingEvent, Plan, PlanChange, PlanSwitch, Subscription
from tests.builders import (
    JAN31,
    attempts_of,
    audit_kinds,
    emails_of,
    invoices_of,
    make_world,
    rows,
    subscribed_world,
    subscription_of,
)

pytestmark = pytest.mark.integration

FEB28 = JAN31.replace(month=2, day=28)
FEB10 = JAN31 + timedelta(days=10, hours=2)  # 10 of the period's 28 days used


def _setup(engine, gateway, **kw):
    """Basic Monthly 29.00 (subscribed Jan 31) may switch to Pro 49.00, Lite 19.00, Yearly 290.00 and
    Pro Yearly 600.00 (all USD)."""
    world, _ = subscribed_world(engine, gateway, **kw)
    with new_session(engine) as session, session.begin():
        made = {
            name: create_plan(
                session, merchant_id=world.merchant_id, name=name, amount_minor=amount, currency="USD", interval=every
            ).id
            for name, amount, every in (
                ("Pro", 4900, "month"),
                ("Lite", 1900, "month"),
                ("Yearly", 29000, "year"),
                ("Pro Yearly", 60000, "year"),
            )
        }
        set_switch_targets(
            session, world.plan_id, list(made.values()), merchant_id=world.merchant_id, actor="user:1", now=JAN31
        )
    return world, made


def _change(world, plan_id, now=FEB10, gateway=None):
    return plan_changes.change_plan_and_charge(
        world.engine,
        merchant_id=world.merchant_id,
        subscription_id=subscription_of(world).id,
        plan_id=plan_id,
        actor="subscriber",
        gateway=gateway,
        now=now,
    )


def _preview(world, plan_id, now=FEB10):
    with new_session(world.engine) as session:
        return plan_changes.preview_change(
            session, subscription_of(world).id, plan_id, now, merchant_id=world.merchant_id
        )


def _lines(engine, invoice_id):
    found = sorted(rows(engine, InvoiceLine, InvoiceLine.invoice_id == invoice_id), key=lambda line: line.id)
    return [(line.description, line.amount_minor) for line in found]


def _events(world, type_="subscription.updated"):
    return [
        json.loads(e.payload)
        for e in sorted(
            rows(world.engine, OutgoingEvent, OutgoingEvent.merchant_id == world.merchant_id), key=lambda e: e.id
        )
        if e.type == type_
    ]


def test_an_upgrade_is_prorated_invoiced_and_charged_now(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    preview = _preview(world, plans["Pro"])
    assert (preview.upgrade, preview.timing) == (True, "now")
    assert (preview.credit_minor, preview.charge_minor) == (1865, 3150)  # 29.00 and 49.00 for 18 of 28 days
    assert preview.amount_due_today.amount_minor == 1285 and preview.credit_added.amount_minor == 0
    assert (preview.next_renewal_at, preview.next_renewal_minor) == (FEB28, 4900)

    outcome = _change(world, plans["Pro"], gateway=gateway)
    assert outcome.charge is not None and outcome.charge.succeeded
    sub = subscription_of(world)
    assert (sub.plan_id, sub.pending_plan_id, sub.current_period_end, sub.credit_minor) == (
        plans["Pro"],
        None,
        FEB28,
        0,
    )
    invoice = invoices_of(world)[-1]
    assert (invoice.total_minor, invoice.status, invoice.number) == (1285, InvoiceStatus.PAID, "FIT-2026-000002")
    assert _lines(any_engine, invoice.id) == [
        ("Unused time on Basic Monthly (2026-02-10 – 2026-02-28)", -1865),
        ("Remaining time on Pro (2026-02-10 – 2026-02-28)", 3150),
    ]
    assert attempts_of(world)[-1].amount_minor == 1285
    (change,) = rows(any_engine, PlanChange)
    assert (change.timing, change.status, change.charge_minor, change.credit_minor, change.invoice_id) == (
        "now",
        "applied",
        3150,
        1865,
        invoice.id,
    )
    assert "plan_changed" in audit_kinds(world)
    (email,) = emails_of(world, "plan_changed")
    assert "Pro" in email.subject
    event = _events(world)[-1]
    assert event["data"]["object"]["plan_id"] == plans["Pro"]
    assert event["data"]["previous_attributes"] == {"plan_id": world.plan_id}
    # The renewal bills the new plan in full.
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert invoices_of(world)[-1].total_minor == 4900


def test_a_double_submit_gives_one_change_one_invoice_one_charge(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    barrier, results = threading.Barrier(2), []

    def submit():
        barrier.wait()
        try:
            results.append(_change(world, plans["Pro"], gateway=gateway))
        except NotAllowed as exc:
            results.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in results if isinstance(r, NotAllowed)]
    assert len(refused) == 1 and refused[0].code == "same_plan"
    assert len(rows(any_engine, PlanChange)) == 1
    assert len(invoices_of(world)) == 2 and len(attempts_of(world)) == 2


def test_a_downgrade_waits_for_the_period_end_and_can_be_undone(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    outcome = _change(world, plans["Lite"], gateway=gateway)
    assert outcome.charge is None and outcome.result.invoice_id is None
    preview = outcome.result.preview
    assert (preview.upgrade, preview.timing, preview.effective_at, preview.next_renewal_minor) == (
        False,
        "period_end",
        FEB28,
        1900,
    )
    sub = subscription_of(world)
    assert (sub.plan_id, sub.pending_plan_id) == (world.plan_id, plans["Lite"])
    assert len(invoices_of(world)) == 1
    assert "Lite" in emails_of(world, "plan_changed")[0].subject
    # Asking again is refused; undo takes it back.
    with pytest.raises(NotAllowed) as refused:
        _change(world, plans["Lite"], gateway=gateway)
    assert refused.value.code == "already_scheduled"
    with new_session(any_engine) as session, session.begin():
        plan_changes.cancel_scheduled_change(
            session, sub.id, merchant_id=world.merchant_id, actor="subscriber", now=FEB10
        )
    assert subscription_of(world).pending_plan_id is None
    assert [c.status for c in rows(any_engine, PlanChange)] == ["canceled"]
    with new_session(any_engine) as session, session.begin(), pytest.raises(NotAllowed):
        plan_changes.cancel_scheduled_change(
            session, sub.id, merchant_id=world.merchant_id, actor="subscriber", now=FEB10
        )
    # Scheduled again, the renewal bills the new plan and the change is applied.
    _change(world, plans["Lite"], gateway=gateway)
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    sub = subscription_of(world)
    assert (sub.plan_id, sub.pending_plan_id) == (plans["Lite"], None)
    assert invoices_of(world)[-1].total_minor == 1900
    assert sorted(c.status for c in rows(any_engine, PlanChange)) == ["applied", "canceled"]


def test_an_immediate_downgrade_credits_the_difference_without_a_refund(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    with new_session(any_engine) as session, session.begin():
        set_downgrade_timing(session, merchant_id=world.merchant_id, timing="immediately", actor="user:1", now=JAN31)
    outcome = _change(world, plans["Lite"], gateway=gateway)
    preview = outcome.result.preview
    # 29.00 unused for 18/28 days is 18.65; Lite's 18 days are 12.22: 6.43 of credit.
    assert (preview.timing, preview.credit_minor, preview.charge_minor) == ("now", 1865, 1222)
    assert preview.credit_added.amount_minor == 643 and preview.next_renewal_minor == 1900 - 643
    assert outcome.charge is None and len(invoices_of(world)) == 1
    sub = subscription_of(world)
    assert (sub.plan_id, sub.credit_minor) == (plans["Lite"], 643)
    run_billing(any_engine, now=FEB28 + timedelta(minutes=5), gateway=gateway)
    assert invoices_of(world)[-1].total_minor == 1257 and subscription_of(world).credit_minor == 0


def test_another_interval_compares_the_price_per_day(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    # 290.00 a year is cheaper per day than 29.00 a month: a downgrade, at the period end by default;
    # the renewal then moves the anchor to the period end and bills a year.
    preview = _preview(world, plans["Yearly"])
    assert (preview.upgrade, preview.timing, preview.next_renewal_minor) == (False, "period_end", 29000)
    # 600.00 a year costs more per day: an upgrade, now, restarting the period at the change.
    outcome = _change(world, plans["Pro Yearly"], gateway=gateway)
    preview = outcome.result.preview
    assert (preview.upgrade, preview.timing, preview.credit_minor, preview.charge_minor) == (True, "now", 1865, 60000)
    sub = subscription_of(world)
    assert (sub.anchor_at, sub.period_index, sub.current_period_start) == (FEB10, 0, FEB10)
    assert sub.current_period_end == FEB10.replace(year=2027)
    invoice = invoices_of(world)[-1]
    assert (invoice.total_minor, invoice.status) == (60000 - 1865, InvoiceStatus.PAID)
    assert _lines(any_engine, invoice.id)[1] == ("Pro Yearly (2026-02-10 – 2027-02-10)", 60000)
    assert _events(world)[-1]["data"]["previous_attributes"]["current_period_end"].startswith("2026-02-28")


def test_a_declined_upgrade_keeps_the_new_plan_and_goes_to_dunning(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    gateway.fail_next("card_declined")
    outcome = _change(world, plans["Pro"], gateway=gateway)
    assert outcome.charge is not None and not outcome.charge.paid
    sub = subscription_of(world)
    assert (sub.plan_id, sub.status) == (plans["Pro"], SubscriptionStatus.PAST_DUE)
    invoice = invoices_of(world)[-1]
    assert invoice.status == InvoiceStatus.OPEN and invoice.next_retry_at is not None
    # While it is owed, no other change.
    with pytest.raises(NotAllowed) as refused:
        _change(world, plans["Lite"], gateway=gateway)
    assert refused.value.code == "payment_due"


def test_refusals(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    other, _ = subscribed_world(any_engine, gateway, slug="other", prefix="OTH")
    sub_id, other_sub_id = subscription_of(world).id, subscription_of(other).id
    with new_session(any_engine) as session, session.begin():
        euro = create_plan(
            session, merchant_id=world.merchant_id, name="Euro", amount_minor=2900, currency="EUR", interval="month"
        )
        unlisted = create_plan(
            session, merchant_id=world.merchant_id, name="Hidden", amount_minor=9900, currency="USD", interval="month"
        )
        with pytest.raises(PlanSwitchError):
            set_switch_targets(session, world.plan_id, [euro.id], merchant_id=world.merchant_id, actor="u", now=JAN31)
        with pytest.raises(PlanSwitchError):
            set_switch_targets(
                session, world.plan_id, [world.plan_id], merchant_id=world.merchant_id, actor="u", now=JAN31
            )
        with pytest.raises(NotFound):
            set_switch_targets(
                session, world.plan_id, [other.plan_id], merchant_id=world.merchant_id, actor="u", now=JAN31
            )
        # A currency mismatch that reached the table anyway is still refused.
        session.add(PlanSwitch(merchant_id=world.merchant_id, plan_id=world.plan_id, target_plan_id=euro.id))
        euro_id, unlisted_id = euro.id, unlisted.id
    for plan_id, code in ((unlisted_id, "not_offered"), (euro_id, "currency_mismatch"), (world.plan_id, "same_plan")):
        with pytest.raises(NotAllowed) as refused:
            _preview(world, plan_id)
        assert refused.value.code == code
    with pytest.raises(NotFound):
        _change(world, other.plan_id, gateway=gateway)
    with pytest.raises(NotFound):  # another merchant's subscription
        plan_changes.change_plan_and_charge(
            any_engine,
            merchant_id=world.merchant_id,
            subscription_id=other_sub_id,
            plan_id=plans["Pro"],
            actor="x",
            gateway=gateway,
            now=FEB10,
        )
    with new_session(any_engine) as session, session.begin():
        session.execute(sa.update(Subscription).where(Subscription.id == sub_id).values(status="paused"))
    with pytest.raises(NotAllowed) as refused:
        _preview(world, plans["Pro"])
    assert refused.value.code == "not_active"
    with new_session(any_engine) as session, session.begin():
        session.execute(sa.update(Subscription).where(Subscription.id == sub_id).values(status="active"))
        cancel_subscription(session, sub_id, merchant_id=world.merchant_id, actor="subscriber", now=FEB10)
    with pytest.raises(NotAllowed) as refused:
        _change(world, plans["Pro"], gateway=gateway)
    assert refused.value.code == "subscription_ending"
    assert rows(any_engine, PlanChange) == []


def test_switch_targets_are_listed_cheapest_first_and_archived_plans_drop_out(any_engine, gateway):
    world, plans = _setup(any_engine, gateway)
    with new_session(any_engine) as session, session.begin():
        plan = session.get(Plan, world.plan_id)
        assert [p.name for p in switch_targets(session, plan)] == ["Lite", "Pro", "Yearly", "Pro Yearly"]
        session.get(Plan, plans["Lite"]).active = False
    with new_session(any_engine) as session:
        assert [p.name for p in switch_targets(session, session.get(Plan, world.plan_id))][0] == "Pro"
    with pytest.raises(NotAllowed) as refused:
        _preview(world, plans["Lite"])
    assert refused.value.code == "not_offered"


def test_an_incomplete_subscription_cannot_change(any_engine, gateway):
    world = make_world(any_engine)
    from portal_app.billing.subscriptions import subscribe

    subscribe(
        any_engine,
        merchant_id=world.merchant_id,
        subscriber_id=world.subscriber_id,
        plan_id=world.plan_id,
        start_at=JAN31,
        gateway=gateway,
    )
    with new_session(any_engine) as session, session.begin():
        pro = create_plan(
            session, merchant_id=world.merchant_id, name="Pro", amount_minor=4900, currency="USD", interval="month"
        )
        set_switch_targets(session, world.plan_id, [pro.id], merchant_id=world.merchant_id, actor="u", now=JAN31)
        pro_id = pro.id
    with pytest.raises(NotAllowed) as refused:
        _preview(world, pro_id)
    assert refused.value.code in ("not_active", "payment_due")
