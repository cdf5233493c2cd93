"""Rate limits: per process by default, shared through Redis when REFLEX_REDIS_URL is set."""

from __future__ import annotations

import os
import uuid

import pytest

from portal_app import ratelimit
from portal_app.settings import Settings


def _limiter(monkeypatch, redis_url: str, name: str, limit: int = 3, clock=None):
    monkeypatch.setattr(
        ratelimit, "get_settings", lambda: Settings(secret_key="k" * 40, reflex_redis_url=redis_url, _env_file=None)
    )
    extra = {"clock": clock} if clock else {}
    return ratelimit.RateLimiter(name, limit=limit, window_seconds=60, **extra)


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def _backends():
    yield "memory", ""
    if os.environ.get("TEST_REDIS_URL"):
        yield "redis", os.environ["TEST_REDIS_URL"]


@pytest.mark.parametrize(("backend", "redis_url"), list(_backends()))
def test_a_burst_across_a_window_boundary_still_counts_as_one_window(monkeypatch, backend, redis_url):
    """A fixed window let a client spend its limit at 11:59:59 and again at 12:00:00; the sliding
    estimate carries the previous window's hits over, fading out over the next window."""
    clock = Clock(1_000_020 * 60 - 1.0)  # one second before a window boundary
    limiter = _limiter(monkeypatch, redis_url, "boundary-" + uuid.uuid4().hex[:8], limit=10, clock=clock)
    assert all(limiter.hit("ip") for _ in range(8))
    clock.now += 2  # a new fixed window has begun
    assert limiter.hit("ip") and limiter.hit("ip")  # 10 in the last minute: still allowed
    assert not limiter.hit("ip") and limiter.blocked("ip")  # the 11th is refused
    clock.now += 45  # 3/4 of the way through: the earlier hits have mostly faded out
    assert not limiter.blocked("ip")
    assert limiter.hit("ip")
    assert limiter.blocked("other-ip") is False


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
