"""Rate limits: per process by default, shared through Redis when REFLEX_REDIS_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest

from portal_app import ratelimit
from portal_app.settings import Settings


def _limiter(monkeypatch, redis_url: str, name: str, limit: int = 3):
    monkeypatch.setattr(
        ratelimit, "get_settings", lambda: Settings(secret_key="k" * 40, reflex_redis_url=redis_url, _env_file=None)
    )
    return ratelimit.RateLimiter(name, limit=limit, window_seconds=60)


def test_in_process_limit(monkeypatch):
    limiter = _limiter(monkeypatch, "", "local")
    assert [limiter.hit("1.2.3.4") for _ in range(4)] == [True, True, True, False]
    assert limiter.blocked("1.2.3.4") and not limiter.blocked("5.6.7.8")


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL not set")
def test_redis_limit_is_shared_by_every_worker(monkeypatch):
    name = "test-" + uuid.uuid4().hex[:8]
    worker_a = _limiter(monkeypatch, os.environ["TEST_REDIS_URL"], name)
    worker_b = _limiter(monkeypatch, os.environ["TEST_REDIS_URL"], name)
    assert worker_a.hit("ip") and worker_b.hit("ip") and worker_a.hit("ip")
    assert not worker_b.hit("ip")
    assert worker_a.blocked("ip") and not worker_a.blocked("other-ip")
