"""Health endpoints for load balancers and orchestrators.

GET /api/health (readiness): 200 when the database answers and, when REFLEX_REDIS_URL is set, Redis
answers too; 503 ("degraded") when either does not. The body says which: {"status", "db"[, "redis"]}.
A proxy stops sending traffic to a worker that is not ready.

GET /api/health/live (liveness): 200 as long as this worker's event loop answers; it checks nothing
else, so an orchestrator never restarts every worker because the database is down.
"""

from __future__ import annotations

import functools

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from portal_app import db
from portal_app.settings import get_settings

# A health check must answer quickly even when Redis is unreachable (a dropped packet, not a refusal).
REDIS_TIMEOUT_SECONDS = 2.0


@functools.cache
def _redis_client(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS)


def redis_ping(url: str) -> bool:
    """True when the Redis at `url` answers PING (health checks report, they never raise)."""
    try:
        return bool(_redis_client(url).ping())
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False


def health(_request: Request) -> Response:
    checks = {"db": db.ping()}
    if url := get_settings().reflex_redis_url:
        checks["redis"] = redis_ping(url)
    ok = all(checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)


def liveness(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})
