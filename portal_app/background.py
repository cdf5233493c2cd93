"""Work the web app does on its own: billing runs on a timer and delivery of queued emails.

Runs as a Reflex lifespan task; the blocking billing calls go to a worker thread. Several app
workers may each run it: billing runs are safe to overlap (claims make every charge happen once).
"""

from __future__ import annotations

import asyncio
import logging

from portal_app.billing.emails.outbox import deliver_queued_emails
from portal_app.billing.gateways import get_gateway
from portal_app.billing.runs import run_billing
from portal_app.db import get_engine
from portal_app.models import utcnow
from portal_app.settings import get_settings

log = logging.getLogger(__name__)
EMAIL_POLL_SECONDS = 5


def _billing_tick() -> None:
    summary = run_billing(get_engine(), now=utcnow(), gateway=get_gateway())
    if summary.charges_attempted or summary.ended or summary.settled:
        log.info("billing run: %s", summary.as_text())


async def billing_loop() -> None:
    """Lifespan task: a billing run every BILLING_TICK_SECONDS (0 = off), emails every few seconds."""
    settings = get_settings()
    tick = settings.billing_tick_seconds
    if tick <= 0 and not settings.smtp_host:
        return
    loop = asyncio.get_running_loop()
    next_run = loop.time() + min(tick, 30) if tick > 0 else None
    while True:
        try:
            if next_run is not None and loop.time() >= next_run:
                await asyncio.to_thread(_billing_tick)
                next_run = loop.time() + tick
            if settings.smtp_host:
                await asyncio.to_thread(deliver_queued_emails, get_engine())
        except asyncio.CancelledError:
            raise
        except Exception:  # a failed tick is logged and retried next time, never kills the app
            log.exception("background billing work failed")
        await asyncio.sleep(EMAIL_POLL_SECONDS)
