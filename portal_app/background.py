"""Work the web app does on its own: billing runs on a timer, delivery of queued emails and webhooks.

Runs as a Reflex lifespan task; the blocking billing calls go to a worker thread. Every app worker
and replica runs this loop, and each tick takes the cluster-wide runner lock
(billing/cluster_lock.py): one of them runs billing, the others skip that tick. When the app shuts
down (the task is cancelled) a run in progress is asked to stop and finishes its current batch first.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from portal_app.billing.cluster_lock import hold_runner_lock
from portal_app.billing.emails.outbox import deliver_queued_emails
from portal_app.billing.gateways import get_gateway
from portal_app.billing.runs import run_billing
from portal_app.billing.webhooks_out.delivery import deliver_webhooks
from portal_app.db import get_engine
from portal_app.models import utcnow
from portal_app.settings import get_settings

log = logging.getLogger(__name__)
EMAIL_POLL_SECONDS = 5


def _billing_tick(stop: threading.Event) -> None:
    engine = get_engine()
    with hold_runner_lock(engine) as lock:
        if lock is None:
            log.debug("billing tick skipped: another runner holds the billing runner lock")
            return
        summary = run_billing(
            engine, now=utcnow(), gateway=get_gateway(), should_stop=lambda: stop.is_set() or lock.lost.is_set()
        )
    if summary.charges_attempted or summary.ended or summary.settled or summary.stopped:
        log.info("billing run: %s", summary.as_text())


async def run_until_done(work, stop: threading.Event) -> None:
    """Run `work(stop)` in a worker thread. If this coroutine is cancelled, set `stop`, wait for the
    thread to return (it finishes its current batch), then let the cancellation through."""
    thread = asyncio.ensure_future(asyncio.to_thread(work, stop))
    cancelled = False
    while not thread.done():
        try:
            await asyncio.shield(thread)
        except asyncio.CancelledError:
            cancelled = True
            stop.set()
    if cancelled:
        raise asyncio.CancelledError
    thread.result()


async def billing_loop() -> None:
    """Lifespan task: a billing run every BILLING_TICK_SECONDS (0 = off: billing runs from cron), and
    every few seconds queued emails (with SMTP) and webhooks, whether or not billing runs here: the
    merchant's product hears of a card fixed in the portal within seconds, not at the next cron run."""
    settings = get_settings()
    tick = settings.billing_tick_seconds
    loop = asyncio.get_running_loop()
    next_run = loop.time() + min(tick, 30) if tick > 0 else None
    while True:
        try:
            if next_run is not None and loop.time() >= next_run:
                await run_until_done(_billing_tick, threading.Event())
                next_run = loop.time() + tick
            if settings.smtp_host:
                await asyncio.to_thread(deliver_queued_emails, get_engine())
            # Webhooks every few seconds (their first retry is 5 s later); claims keep workers apart.
            await asyncio.to_thread(deliver_webhooks, get_engine())
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed tick is logged and retried next time, never kills the app
            log.exception("background billing work failed")
        await asyncio.sleep(EMAIL_POLL_SECONDS)
