"""The billing runner lock: one billing run at a time across every worker, replica and cron job.

Claims already make every charge happen once; the lock keeps runners from doing the same work side by
side (and notices keep their own keys, emails/notice_keys.py). Its backend follows the deployment:

- PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a connection held for the run.
  The key is derived from the schema, so deployments sharing one database in separate schemas do not
  block each other. The server drops it with the connection: a killed holder cannot keep it.
- Another database with REFLEX_REDIS_URL set (several app workers): a Redis key set with
  SET NX PX and a random token, renewed every third of its TTL while held and deleted only by its
  owner (compare-and-delete in Lua). A killed holder stops renewing; the key expires within the TTL.
- SQLite otherwise: fcntl.flock on `<database file>.billing-run.lock` (data/billing-run.lock for an
  in-memory database). The kernel drops it with the process. One host only, as SQLite is.

A runner that does not get the lock skips its turn: `acquire()` never waits.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from portal_app.settings import DATA_DIR, Settings, get_settings

log = logging.getLogger(__name__)

LOCK_NAME = "portal_app.billing.run"
REDIS_TTL_SECONDS = 30.0


class RunnerLock:
    """Try-once lock. `lost` is set if the lock was lost while held (Redis: not renewed in time);
    a runner that sees it stops after its current batch."""

    backend = ""

    def __init__(self) -> None:
        self.lost = threading.Event()
        self.held = False

    def acquire(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def describe(self) -> str:
        return self.backend


def _signed_64(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


class PostgresAdvisoryLock(RunnerLock):
    backend = "postgresql advisory lock"

    def __init__(self, engine: sa.Engine, name: str = LOCK_NAME) -> None:
        super().__init__()
        self.engine, self.name = engine, name
        self._conn: sa.Connection | None = None
        self._key: int | None = None

    def acquire(self) -> bool:
        # Autocommit: the lock belongs to the session, and no transaction stays open for the run.
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
            key = _signed_64(f"{self.name}:{schema}")
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar_one()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn, self._key, self.held = conn, key, True
        return True

    def release(self) -> None:
        conn, self._conn, self.held = self._conn, None, False
        if conn is None:
            return
        try:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key})
        except Exception:  # a broken connection took the lock with it
            log.warning("could not unlock the billing runner lock; dropping its connection", exc_info=True)
            conn.invalidate()  # never hand a connection that may still hold the lock back to the pool
        finally:
            conn.close()


# KEYS[1] = lock key, ARGV[1] = token, ARGV[2] = TTL in ms. Only the token's owner renews or deletes.
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisLock(RunnerLock):
    backend = "redis lock"

    def __init__(self, url: str, key: str, *, ttl_seconds: float = REDIS_TTL_SECONDS) -> None:
        import redis  # the Redis state manager's client (reflex depends on it)

        super().__init__()
        self.client = redis.Redis.from_url(url, socket_timeout=max(1.0, ttl_seconds / 6))
        self.key, self.ttl_ms = key, int(ttl_seconds * 1000)
        self.token = secrets.token_hex(16)
        self._stop_renewing = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self) -> bool:
        if not self.client.set(self.key, self.token, nx=True, px=self.ttl_ms):
            self.client.close()
            return False
        self.held = True
        self._stop_renewing.clear()
        self._renewer = threading.Thread(target=self._renew, name="billing-lock-renewer", daemon=True)
        self._renewer.start()
        return True

    def _renew(self) -> None:
        interval = self.ttl_ms / 3000
        renewed_at = time.monotonic()
        while not self._stop_renewing.wait(interval):
            try:
                if not self.client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    log.warning("the billing runner lock expired and was taken over; stopping this run")
                    self.lost.set()
                    return
                renewed_at = time.monotonic()
            except Exception:  # noqa: BLE001 - Redis unreachable: retry until the TTL is spent
                if time.monotonic() - renewed_at >= self.ttl_ms / 1000:
                    log.warning("could not renew the billing runner lock within its TTL; stopping this run")
                    self.lost.set()
                    return

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        self._stop_renewing.set()
        if self._renewer is not None:
            self._renewer.join()
        try:
            self.client.eval(_RELEASE, 1, self.key, self.token)
        except Exception:  # noqa: BLE001 - it expires within its TTL anyway
            log.warning("could not release the billing runner lock; it expires within %s s", self.ttl_ms // 1000)
        finally:
            self.client.close()


class FileLock(RunnerLock):
    backend = "file lock"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for whoever looks; never read back
        self._fd, self.held = fd, True
        return True

    def release(self) -> None:
        fd, self._fd, self.held = self._fd, None, False
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)  # the file stays: deleting a flock file races its next user
            os.close(fd)

    def describe(self) -> str:
        return f"{self.backend} {self.path}"


def lock_file_for(url: sa.URL) -> Path:
    """`<database file>.billing-run.lock` beside a SQLite file, else data/billing-run.lock."""
    database = url.database or ""
    if url.get_backend_name() == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return Path(database).resolve().with_name(Path(database).name + ".billing-run.lock")
    return DATA_DIR / "billing-run.lock"


def redis_key_for(url: sa.URL) -> str:
    """One key per database (password left out): replicas sharing a database share the lock."""
    identity = url.render_as_string(hide_password=True)
    return f"{LOCK_NAME}:{hashlib.sha256(identity.encode()).hexdigest()[:16]}"


def runner_lock(engine: sa.Engine, *, settings: Settings | None = None) -> RunnerLock:
    """The lock for this deployment (see the module docstring for the choice)."""
    if engine.dialect.name == "postgresql":
        return PostgresAdvisoryLock(engine)
    settings = settings or get_settings()
    if settings.reflex_redis_url:
        return RedisLock(settings.reflex_redis_url, redis_key_for(engine.url))
    return FileLock(lock_file_for(engine.url))


@contextlib.contextmanager
def hold_runner_lock(engine: sa.Engine, *, settings: Settings | None = None) -> Iterator[RunnerLock | None]:
    """The runner lock for the block, or None (at once, no waiting) when another runner holds it."""
    lock = runner_lock(engine, settings=settings)
    if not lock.acquire():
        yield None
        return
    try:
        yield lock
    finally:
        lock.release()
