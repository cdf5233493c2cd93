"""Fixed-window rate limits keyed by client, in Redis when configured (shared by all workers),
else in this process."""

from __future__ import annotations

import threading
import time

from portal_app.settings import get_settings


class RateLimiter:
    def __init__(self, name: str, *, limit: int, window_seconds: int):
        self.name, self.limit, self.window = name, limit, window_seconds
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, int], int] = {}
        self._redis = None
        if url := get_settings().reflex_redis_url:
            import redis

            self._redis = redis.Redis.from_url(url)

    def hit(self, key: str) -> bool:
        """Count one event for key; False once the key is over its limit in this window."""
        window = int(time.time() // self.window)
        if self._redis is not None:
            rkey = f"portal:rl:{self.name}:{key}:{window}"
            pipe = self._redis.pipeline()
            pipe.incr(rkey)
            pipe.expire(rkey, self.window * 2)
            count = pipe.execute()[0]
            return count <= self.limit
        with self._lock:
            if len(self._hits) > 10_000:  # drop old windows so memory stays bounded
                self._hits = {k: v for k, v in self._hits.items() if k[1] == window}
            count = self._hits.get((key, window), 0) + 1
            self._hits[(key, window)] = count
            return count <= self.limit

    def blocked(self, key: str) -> bool:
        """True if key is already over the limit (without counting a new event)."""
        window = int(time.time() // self.window)
        if self._redis is not None:
            value = self._redis.get(f"portal:rl:{self.name}:{key}:{window}")
            return int(value or 0) >= self.limit
        with self._lock:
            return self._hits.get((key, window), 0) >= self.limit
