"""Rate limits keyed by client, in Redis when configured (shared by all workers), else in this process.

A sliding-window counter: the count of the current fixed window plus the previous window's count
weighted by how much of it still lies inside the last `window` seconds. A plain fixed window lets a
client spend its limit at the end of one window and again at the start of the next (twice the limit
in a moment); this estimate does not, and it still costs one counter per window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from portal_app.settings import get_settings


class RateLimiter:
    def __init__(self, name: str, *, limit: int, window_seconds: int, clock: Callable[[], float] = time.time):
        self.name, self.limit, self.window = name, limit, window_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, int], int] = {}
        self._redis = None
        if url := get_settings().reflex_redis_url:
            import redis

            self._redis = redis.Redis.from_url(url)

    def _windows(self) -> tuple[int, float]:
        """The current window's number and the share of the previous window still in the last `window` s."""
        now = self._clock()
        window = int(now // self.window)
        return window, 1.0 - (now - window * self.window) / self.window

    def _rkey(self, key: str, window: int) -> str:
        return f"portal:rl:{self.name}:{key}:{window}"

    def _counts(self, key: str, window: int, *, add: int) -> tuple[int, int]:
        """(current window's count after adding `add`, previous window's count)."""
        if self._redis is not None:
            pipe = self._redis.pipeline()
            if add:
                pipe.incr(self._rkey(key, window), add)
                pipe.expire(self._rkey(key, window), self.window * 2)
            else:
                pipe.get(self._rkey(key, window))
            pipe.get(self._rkey(key, window - 1))
            results = pipe.execute()
            return int(results[0] or 0), int(results[-1] or 0)
        with self._lock:
            if len(self._hits) > 10_000:  # drop old windows so memory stays bounded
                self._hits = {k: v for k, v in self._hits.items() if k[1] >= window - 1}
            current = self._hits.get((key, window), 0) + add
            if add:
                self._hits[(key, window)] = current
            return current, self._hits.get((key, window - 1), 0)

    def hit(self, key: str) -> bool:
        """Count one event for key; False once the key is over its limit in the last `window` seconds."""
        window, previous_share = self._windows()
        current, previous = self._counts(key, window, add=1)
        return current + previous * previous_share <= self.limit

    def blocked(self, key: str) -> bool:
        """True if key is already at its limit (without counting a new event)."""
        window, previous_share = self._windows()
        current, previous = self._counts(key, window, add=0)
        return current + previous * previous_share >= self.limit
