"""The billing run's invariants with every way a subscription changes mixed in: random sequences of
days passing (billing runs), declines and card fixes, cancel and undo, plan changes, pauses and
resumes, trial starts, retention discounts and refunds, over simulated months, on SQLite and PostgreSQL.

After every sequence:
- no duplicate charge: at most one succeeded attempt per invoice, and the gateway moved money exactly
  once per succeeded attempt;
- gapless numbers: the merchant's invoice numbers and credit note numbers run 1..n per year;
- totals reconcile: every paid invoice was paid by exactly its total (a zero total needs no charge),
  and what the gateway kept = payments minus refunds = paid invoices minus credit notes.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal_app.billing import pauses, retention
from portal_app.billing.errors import BillingError
from portal_app.billing.payments.attempts import idempotency_key
from portal_app.billing.payments.refunding import refund_invoice, refundable
from portal_app.billing.plan_changes import cancel_scheduled_change, change_plan_and_charge
from portal_app.billing.plan_switches import set_downgrade_timing, set_switch_targets
from portal_app.billing.plans import create_plan
from portal_app.billing.runs import run_billing
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.billing.subscriptions import cancel_subscription, subscribe, undo_cancellation
from portal_app.db import new_session
from portal_app.models import CreditNote, Invoice, Merchant, PaymentAttempt, Plan, Refund, Subscription
from tests.builders import JAN31, add_card, make_merchant, make_subscriber, rows
from tests.builders import World as _World

pytestmark = pytest.mark.integration

_slugs = itertools.count(1)

OPS = st.one_of(
    st.tuples(st.just("days"), st.integers(min_value=1, max_value=45)),
    st.tuples(st.just("decline_next"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("fix_card"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
    st.tuples(st.just("undo"), st.just(0)),
    # 0: Basic, 1: Pro, 2: Yearly; odd days flip the merchant's downgrade timing to "immediately".
    st.tuples(st.just("change_plan"), st.integers(min_value=0, max_value=5)),
    st.tuples(st.just("undo_plan_change"), st.just(0)),
    st.tuples(st.just("pause"), st.integers(min_value=1, max_value=40)),  # resume that many days after the period end
    st.tuples(st.just("resume"), st.just(0)),
    st.tuples(st.just("accept_offer"), st.integers(min_value=1, max_value=3)),
    # Refund arg % of what is left of the newest paid invoice; a negative arg: the gateway times out first.
    st.tuples(st.just("refund"), st.integers(min_value=-100, max_value=100).filter(bool)),
)


class Lifecycle:
    """One merchant with two monthly plans and one subscriber, driven by the ops above."""

    def __init__(self, engine, gateway, trial_days: int = 0):
        self.engine, self.gateway = engine, gateway
        self.now = JAN31
        n = next(_slugs)
        with new_session(engine) as session, session.begin():
            merchant = make_merchant(session, f"life{n}", f"L{n}")
            basic = create_plan(
                session, merchant_id=merchant.id, name="Basic", amount_minor=2900, currency="USD", interval="month"
            )
            pro = create_plan(
                session, merchant_id=merchant.id, name="Pro", amount_minor=4900, currency="USD", interval="month"
            )
            yearly = create_plan(
                session, merchant_id=merchant.id, name="Yearly", amount_minor=29000, currency="USD", interval="year"
            )
            basic.pause_max_days = pro.pause_max_days = yearly.pause_max_days = 40
            basic.trial_days = trial_days  # a trial start: trialing, first invoice at its end
            subscriber = make_subscriber(session, merchant.id)
            for plan in (basic, pro, yearly):
                others = [p.id for p in (basic, pro, yearly) if p.id != plan.id]
                set_switch_targets(session, plan.id, others, merchant_id=merchant.id, actor="test", now=self.now)
        self.world = _World(engine, merchant.id, basic.id, subscriber.id)
        self.plans = (basic.id, pro.id, yearly.id)
        add_card(self.world, gateway, now=self.now)
        subscribe(
            engine,
            merchant_id=merchant.id,
            subscriber_id=subscriber.id,
            plan_id=basic.id,
            start_at=self.now,
            gateway=gateway,
        )

    @property
    def subscription(self) -> Subscription:
        (sub,) = rows(self.engine, Subscription, Subscription.subscriber_id == self.world.subscriber_id)
        return sub

    def apply(self, op: str, arg: int) -> None:
        # Each step a minute after the last, as people act: a cancel and a card fix at the very same
        # instant would read as "ended while the charge was in flight" (payments/refunds.py), held and
        # refunded, which no real sequence of clicks produces.
        self.now += timedelta(minutes=1)
        # A refusal (nothing to undo, already ended...) is a legal answer, never a broken state.
        with contextlib.suppress(BillingError):
            getattr(self, f"op_{op}")(arg)

    def op_days(self, days: int) -> None:
        self.now += timedelta(days=days)
        run_billing(self.engine, now=self.now, gateway=self.gateway)

    def op_decline_next(self, times: int) -> None:
        self.gateway.fail_next("card_declined", times=times)

    def op_fix_card(self, _):
        add_card(self.world, self.gateway, now=self.now)

    def op_cancel(self, _):
        with new_session(self.engine) as session, session.begin():
            cancel_subscription(
                session, self.subscription.id, merchant_id=self.world.merchant_id, actor="subscriber", now=self.now
            )

    def op_undo(self, _):
        with new_session(self.engine) as session, session.begin():
            undo_cancellation(
                session, self.subscription.id, merchant_id=self.world.merchant_id, actor="subscriber", now=self.now
            )

    def op_change_plan(self, arg: int) -> None:
        with new_session(self.engine) as session, session.begin():
            timing = "immediately" if arg >= 3 else "period_end"
            set_downgrade_timing(session, merchant_id=self.world.merchant_id, timing=timing, actor="test", now=self.now)
        self.now += timedelta(hours=1)
        change_plan_and_charge(
            self.engine,
            merchant_id=self.world.merchant_id,
            subscription_id=self.subscription.id,
            plan_id=self.plans[arg % 3],
            actor="subscriber",
            gateway=self.gateway,
            now=self.now,
        )

    def op_undo_plan_change(self, _):
        with new_session(self.engine) as session, session.begin():
            cancel_scheduled_change(
                session, self.subscription.id, merchant_id=self.world.merchant_id, actor="subscriber", now=self.now
            )

    def op_pause(self, days: int) -> None:
        sub = self.subscription
        with new_session(self.engine) as session, session.begin():
            pauses.pause(
                session,
                sub.id,
                merchant_id=self.world.merchant_id,
                resume_on=(sub.current_period_end + timedelta(days=days)).date(),
                now=self.now,
                actor="subscriber",
            )

    def op_resume(self, _):
        pauses.resume_and_charge(
            self.engine,
            merchant_id=self.world.merchant_id,
            subscription_id=self.subscription.id,
            now=self.now,
            actor="subscriber",
            gateway=self.gateway,
        )

    def op_accept_offer(self, cycles: int) -> None:
        """The subscriber starts to cancel, is offered 20% off the next `cycles` invoices and takes it."""
        sub, merchant_id = self.subscription, self.world.merchant_id
        sub_id = sub.id
        with new_session(self.engine) as session, session.begin():
            plan = session.get(Plan, sub.plan_id)
            plan.retention_kind, plan.retention_value, plan.retention_cycles = "percent", 20, cycles
            session.add(plan)
            if retention.offer_for_cancel(session, sub_id, merchant_id=merchant_id, now=self.now):
                retention.accept_offer(session, sub_id, merchant_id=merchant_id, actor="subscriber", now=self.now)

    def op_refund(self, percent: int) -> None:
        paid = [
            i for i in rows(self.engine, Invoice, Invoice.merchant_id == self.world.merchant_id) if i.status == "paid"
        ]
        if not paid:
            return
        invoice = max(paid, key=lambda i: i.id)
        with new_session(self.engine) as session:
            left = refundable(session, invoice).left_minor
        if percent < 0:
            self.gateway.timeout_next_refund(reached_gateway=percent % 2 == 0)
        refund_invoice(
            self.engine,
            merchant_id=self.world.merchant_id,
            invoice_id=invoice.id,
            amount_minor=max(1, left * abs(percent) // 100),  # 1 when nothing is left: refused
            reason="property test",
            actor="owner",
            now=self.now,
            gateway=self.gateway,
        )

    # --- the invariants -----------------------------------------------------------------------

    def check(self) -> None:
        merchant_id = self.world.merchant_id
        invoices = rows(self.engine, Invoice, Invoice.merchant_id == merchant_id)
        attempts = rows(self.engine, PaymentAttempt, PaymentAttempt.merchant_id == merchant_id)
        refunds = rows(self.engine, Refund, Refund.merchant_id == merchant_id)
        notes = rows(self.engine, CreditNote, CreditNote.merchant_id == merchant_id)
        succeeded = [a for a in attempts if a.status == AttemptStatus.SUCCEEDED]
        # No duplicate charge.
        per_invoice = Counter(a.invoice_id for a in succeeded)
        assert all(count == 1 for count in per_invoice.values()), per_invoice
        customer = {a.customer_ref for a in attempts if a.customer_ref}
        charged = [c for ref in customer for c in self.gateway.charges_for(ref)]
        merchant = rows(self.engine, Merchant, Merchant.id == merchant_id)[0]
        keys = sorted(idempotency_key(merchant, a.id, a.key_nonce) for a in succeeded)
        assert sorted(c.idempotency_key for c in charged) == keys
        # Gapless numbers, per year, for invoices and credit notes.
        _assert_gapless([i.number for i in invoices if i.number])
        _assert_gapless([n.number for n in notes])
        # Totals reconcile.
        by_id = {i.id: i for i in invoices}
        for attempt in succeeded:
            assert attempt.amount_minor == by_id[attempt.invoice_id].total_minor
        paid = [i for i in invoices if i.status == InvoiceStatus.PAID]
        assert {i.id for i in paid if i.total_minor} == set(per_invoice)
        refunded = sum(r.amount_minor for r in refunds if r.status == "succeeded")
        assert refunded == sum(n.total_minor for n in notes)
        # Every succeeded refund has exactly one credit note; the gateway gave back exactly that much
        # (plus charges refunded because they could not pay their invoice), never more than it charged.
        assert sorted(n.refund_id for n in notes) == sorted(r.id for r in refunds if r.status == "succeeded")
        assert all(r.status in ("succeeded", "failed") for r in refunds)  # the last run settled every unknown
        refs = {c.gateway_ref for c in charged}
        given_back = sum(amount for ref, amount, _ in self.gateway.refunds() if ref in refs)
        held_back = sum(a.amount_minor for a in attempts if a.status == AttemptStatus.REFUNDED)
        assert given_back == refunded + held_back
        for attempt in succeeded:
            back = sum(
                r.amount_minor for r in refunds if r.status == "succeeded" and r.payment_attempt_id == attempt.id
            )
            assert back <= attempt.amount_minor
        assert sum(c.amount_minor for c in charged) - refunded == sum(i.total_minor for i in paid) - refunded
        for invoice in paid:
            noted = sum(n.total_minor for n in notes if n.invoice_id == invoice.id)
            assert 0 <= noted <= invoice.total_minor


def _assert_gapless(numbers: list[str]) -> None:
    by_year: dict[str, list[int]] = {}
    for number in numbers:
        *_, year, serial = number.split("-")
        by_year.setdefault(year, []).append(int(serial))
    for serials in by_year.values():
        assert sorted(serials) == list(range(1, len(serials) + 1)), serials


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(OPS, min_size=3, max_size=14), trial_days=st.sampled_from([0, 0, 14]))
def test_invariants_hold_over_random_lifecycles(any_engine, gateway, ops, trial_days):
    life = Lifecycle(any_engine, gateway, trial_days)
    for op, arg in ops:
        life.apply(op, arg)
    life.op_days(40)  # let every scheduled thing happen
    life.check()
