"""The in-app billing loop: runs billing on its interval (none when it is 0) and delivers webhooks."""

from __future__ import annotations

import asyncio

import pytest

from portal_app import background
from portal_app.settings import Settings


def _settings(**values) -> Settings:
    return Settings(secret_key="k" * 40, _env_file=None, **values)


def test_loop_runs_billing_on_its_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=1))
    monkeypatch.setattr(background, "_billing_tick", lambda stop: calls.append(1))
    monkeypatch.setattr(background, "EMAIL_POLL_SECONDS", 0.05)

    async def run_for(seconds):
        task = asyncio.create_task(background.billing_loop())
        await asyncio.sleep(seconds)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_for(2.6))
    assert 1 <= len(calls) <= 3


def test_loop_survives_a_failing_tick(monkeypatch):
    calls = []

    def failing(stop):
        calls.append(1)
        raise RuntimeError("database down")

    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=1))
    monkeypatch.setattr(background, "_billing_tick", failing)
    monkeypatch.setattr(background, "EMAIL_POLL_SECONDS", 0.05)

    async def run_for(seconds):
        task = asyncio.create_task(background.billing_loop())
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(run_for(2.6))
    assert len(calls) >= 2  # it kept going after the first failure


def test_with_billing_off_the_loop_still_delivers_webhooks_and_never_bills(monkeypatch):
    runs, passes = [], []
    monkeypatch.setattr(background, "get_settings", lambda: _settings(billing_tick_seconds=0))
    monkeypatch.setattr(background, "_billing_tick", lambda stop: runs.append(1))
    monkeypatch.setattr(background, "deliver_webhooks", lambda engine: passes.append(1))
    monkeypatch.setattr(background, "get_engine", lambda: None)
    monkeypatch.setattr(background, "EMAIL_POLL_SECONDS", 0.05)

    async def run_for(seconds):
        task = asyncio.create_task(background.billing_loop())
        await asyncio.sleep(seconds)
        task.cancel()

    asyncio.run(run_for(0.6))
    assert runs == [] and len(passes) >= 3


def test_cancelling_the_loop_stops_the_run_after_its_batch_and_waits_for_it(engine, gateway, monkeypatch, tmp_path):
    """App shutdown cancels the lifespan task: the run in the worker thread is asked to stop, and the
    task ends only once the thread has finished its batch (nothing claimed is left unrecorded)."""
    import threading
    import time
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from portal_app.billing.cluster_lock import hold_runner_lock
    from portal_app.billing.runs import run_billing
    from portal_app.models import Invoice, PaymentAttempt, Subscription, utcnow
    from tests.bulk_seed import seed_due_subscriptions

    now = datetime(utcnow().year + 1, 3, 10, 12, tzinfo=UTC)
    n = 4000
    seed_due_subscriptions(engine, gateway, n, now=now)
    monkeypatch.setattr(background, "get_engine", lambda: engine)
    monkeypatch.setattr(background, "get_gateway", lambda: gateway)
    monkeypatch.setattr(background, "utcnow", lambda: now)
    monkeypatch.setattr(background, "get_settings", lambda: _settings())

    def attempts() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(PaymentAttempt)).scalar_one()

    stop = threading.Event()

    async def shut_down_while_charging():
        task = asyncio.create_task(background.run_until_done(background._billing_tick, stop))
        deadline = time.monotonic() + 120
        while await asyncio.to_thread(attempts) == 0:
            assert not task.done() and time.monotonic() < deadline
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(shut_down_while_charging())
    assert stop.is_set()
    with engine.connect() as conn:
        renewed = conn.execute(sa.select(sa.func.count()).where(Subscription.period_index == 1)).scalar_one()
        assert 0 < renewed < n
        assert set(conn.execute(sa.select(PaymentAttempt.status)).scalars()) == {"succeeded"}
        assert (
            conn.execute(sa.select(sa.func.count()).where(Invoice.charging_attempt_id.is_not(None))).scalar_one() == 0
        )
    with hold_runner_lock(engine, settings=_settings()) as lock:
        assert lock is not None  # the thread released the runner lock before the task ended
    rest = run_billing(engine, now=now, gateway=gateway)
    assert rest.renewed == n - renewed and gateway.succeeded_charge_count() == n
