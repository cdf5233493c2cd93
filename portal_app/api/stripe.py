"""POST /api/stripe/webhook: Stripe's signed events in, engine callbacks out (billing/webhooks.py).

Answers: 200 once handled (or a duplicate, or an event we ignore), 400 when the request is not an
authentic fresh event, 413 for bodies no Stripe event reaches, 500 on any other failure so Stripe
retries (the event claim is released first), 404 when Stripe is not the configured gateway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portal_app import routes
from portal_app.billing import webhooks
from portal_app.billing.gateways import get_gateway
from portal_app.billing.stripe_events import EngineCallbacks
from portal_app.db import get_engine
from portal_app.settings import Settings, get_settings

log = logging.getLogger(__name__)

MAX_WEBHOOK_BYTES = 1024 * 1024  # Stripe's events are a few KB; refuse to buffer more


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body (the signature covers these exact bytes), refusing more than `limit` bytes
    whether or not Content-Length tells the truth."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def stripe_routes(
    *,
    settings: Callable[[], Settings] = get_settings,
    gateway: Callable[[], object] | None = None,
    engine: Callable[[], sa.Engine] | None = None,
    max_body_bytes: int = MAX_WEBHOOK_BYTES,
) -> list[Route]:
    """The Stripe webhook route. Dependencies are resolved per request (tests inject stubs), so
    mounting the route never builds a gateway in simulated mode."""

    def _gateway():
        return gateway() if gateway is not None else get_gateway()

    def _engine() -> sa.Engine:
        return engine() if engine is not None else get_engine()

    async def stripe_webhook(request: Request) -> JSONResponse:
        config = settings()
        if config.gateway != "stripe":
            return JSONResponse({"error": "not found"}, status_code=404)
        try:
            body = await _read_body(request, max_body_bytes)
        except _TooLarge:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        db_engine = _engine()
        stripe_gateway = _gateway()
        try:
            result = await run_in_threadpool(
                webhooks.process_webhook,
                body,
                request.headers.get("stripe-signature"),
                secret=config.stripe_webhook_secret,
                gateway=stripe_gateway,
                callbacks=EngineCallbacks(db_engine, gateway=stripe_gateway),
                engine=db_engine,
            )
        except webhooks.WebhookRejected as err:
            log.warning("stripe webhook rejected: %s", err)
            return JSONResponse({"error": "invalid webhook"}, status_code=400)
        except Exception:
            log.exception("stripe webhook failed; Stripe will retry it")
            return JSONResponse({"error": "processing failed"}, status_code=500)
        return JSONResponse({"received": True, "result": result.value})

    return [Route(routes.STRIPE_WEBHOOK, stripe_webhook, methods=["POST"])]
