"""Automatic notices happen once per natural key, even between runners that race without the lock."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from portal_app.billing.card_expiry import send_card_expiring_emails
from portal_app.billing.emails.outbox import queue_emails
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.runs import run_billing
from portal_app.db import new_session
from portal_app.models import EmailMessage, Invoice, Merchant, PaymentAttempt, Subscriber, utcnow
from tests.builders import JAN31, add_card, subscribed_world
from tests.bulk_seed import seed_due_subscriptions

NOW = datetime(utcnow().year + 1, 3, 10, 12, 0, tzinfo=UTC)  # every seeded card expires at the end of March
N = 200


def _race(n_threads: int, work) -> None:
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait()
            work()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors


def _per_subscriber(engine, kind: str) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                sa.select(EmailMessage.subscriber_id, sa.func.count())
                .where(EmailMessage.kind == kind)
                .group_by(EmailMessage.subscriber_id)
            ).all()
        )


@pytest.mark.concurrency
def test_runners_racing_without_the_lock_warn_each_card_once(any_engine, gateway):
    seed_due_subscriptions(any_engine, gateway, N, now=NOW, exp=(NOW.year, NOW.month))
    for _ in range(3):  # three rounds of three racers: a check-then-insert loses in most of them
        _race(3, lambda: send_card_expiring_emails(any_engine, now=NOW))
    warned = _per_subscriber(any_engine, "card_expiring")
    assert len(warned) == N and set(warned.values()) == {1}


@pytest.mark.concurrency
def test_whole_runs_racing_without_the_lock_send_one_notice_each(any_engine, gateway):
    seed_due_subscriptions(any_engine, gateway, N, now=NOW, exp=(NOW.year, NOW.month))
    _race(3, lambda: run_billing(any_engine, now=NOW, gateway=gateway, batch_size=50))
    assert set(_per_subscriber(any_engine, "card_expiring").values()) == {1}
    receipts = _per_subscriber(any_engine, "receipt")
    assert len(receipts) == N and set(receipts.values()) == {1}
    with any_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Invoice)).scalar_one() == N
    assert gateway.succeeded_charge_count() == N


def test_each_automatic_notice_carries_its_key_and_is_not_recorded_twice(engine, gateway):
    world, _ = subscribed_world(engine, gateway)
    add_card(world, gateway, "4000000000000341", now=JAN31)  # charges fail: a dunning notice
    run_billing(engine, now=JAN31.replace(month=2, day=28), gateway=gateway)
    with new_session(engine) as session:
        emails = {e.kind: e for e in session.query(EmailMessage).all()}
        (invoice,) = [i for i in session.query(Invoice).all() if i.status == "paid"]
        failed = max(a.id for a in session.query(PaymentAttempt).all() if a.status == "failed")
    assert emails["receipt"].notice_key == f"receipt:{invoice.id}"
    assert emails["payment_failed"].notice_key == f"payment_failed:{failed}"

    with new_session(engine) as session, session.begin():
        merchant = session.get(Merchant, world.merchant_id)
        subscriber = session.get(Subscriber, world.subscriber_id)
        again = send_subscriber_email(
            session,
            merchant=merchant,
            subscriber=subscriber,
            kind="payment_failed",
            now=JAN31,
            notice_key=f"payment_failed:{failed}",
            context={"amount": "$29.00", "invoice_number": "X-1", "decline_code": "generic_decline"},
        )
        assert again is None
        recorded = queue_emails(
            session,
            [
                {
                    "merchant": merchant,
                    "to_address": subscriber.email,
                    "kind": "receipt",
                    "language": "en",
                    "context": {"amount": "$29.00", "invoice_number": invoice.number},
                    "notice_key": f"receipt:{invoice.id}",
                }
            ],
        )
        assert recorded == 0
    assert sorted(_per_subscriber(engine, "receipt").values()) == [1]
    assert sorted(_per_subscriber(engine, "payment_failed").values()) == [1]
