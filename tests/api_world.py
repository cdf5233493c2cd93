"""Two merchants for the REST API tests: each with a plan, a subscriber whose first invoice is paid,
and an API key; plus a TestClient on the app with the test engine."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import sqlalchemy as sa
from starlette.testclient import TestClient

from portal_app import db
from portal_app.api import build_api
from portal_app.api.v1 import throttle
from portal_app.billing.api_keys import create_api_key
from portal_app.billing.webhooks_out.endpoints import create_endpoint
from portal_app.models import utcnow
from portal_app.ratelimit import RateLimiter
from tests.builders import World, subscribed_world


@dataclasses.dataclass
class Tenant:
    world: World
    subscription_id: int
    invoice_id: int
    key: str
    key_id: int
    endpoint_id: int

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def ids(self) -> dict[str, int]:
        """This merchant's object ids by path parameter name."""
        return {
            "plan_id": self.world.plan_id,
            "subscriber_id": self.world.subscriber_id,
            "subscription_id": self.subscription_id,
            "invoice_id": self.invoice_id,
            "endpoint_id": self.endpoint_id,
        }


def make_tenant(engine: sa.Engine, gateway, *, slug: str, prefix: str) -> Tenant:
    # Started three days ago: the period is current, so a cancellation at its end can be undone.
    start = utcnow().replace(microsecond=0) - timedelta(days=3)
    world, started = subscribed_world(engine, gateway, slug=slug, prefix=prefix, start_at=start)
    with db.session_scope(engine) as session:
        view, secret = create_api_key(session, merchant_id=world.merchant_id, name="test", actor="user:1")
        endpoint, _ = create_endpoint(
            session, merchant_id=world.merchant_id, url=f"http://127.0.0.1:9/{slug}", actor="user:1"
        )
    return Tenant(world, started.subscription_id, started.invoice_id, secret, view.id, endpoint.id)


def api_client(engine: sa.Engine, monkeypatch, *, limit: int = 10_000) -> TestClient:
    """A client on build_api() with the test engine and a fresh per-key rate limit of `limit`."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(throttle, "api_key_limiter", RateLimiter("api-key-test", limit=limit, window_seconds=10))
    return TestClient(build_api(), follow_redirects=False)
