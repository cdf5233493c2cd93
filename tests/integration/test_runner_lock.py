"""The billing runner lock, on each backend: PostgreSQL advisory lock, Redis token lock, flock.

A second acquirer is refused while the first holds it; it is free again after release (and after an
exception in the holding block); a holder killed with kill -9 does not keep it; a Redis lock is
renewed while held and deleted only by its owner.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing import cluster_lock
from portal_app.billing.cluster_lock import FileLock, PostgresAdvisoryLock, RedisLock, hold_runner_lock, runner_lock
from portal_app.settings import Settings
from tests.databases import TEST_DATABASE_URL

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parents[2]
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REDIS_TTL = 1.5


def _redis_reachable() -> bool:
    if not TEST_REDIS_URL:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


@contextlib.contextmanager
def _pg_schema() -> Iterator[str]:
    """TEST_DATABASE_URL on a schema of its own: the advisory lock key is per schema."""
    schema = "lock_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["file", "postgres", "redis"])
def backend(request, tmp_path) -> Iterator[tuple[Callable[[], cluster_lock.RunnerLock], str]]:
    """(a factory of independent locks on one resource, Python code that builds one in a subprocess)."""
    if request.param == "file":
        path = tmp_path / "portal.db.billing-run.lock"
        yield (lambda: FileLock(path)), f"FileLock({str(path)!r})"
    elif request.param == "postgres":
        if not TEST_DATABASE_URL:
            pytest.skip("TEST_DATABASE_URL not set")
        with _pg_schema() as schema:
            engine = sa.create_engine(TEST_DATABASE_URL, connect_args={"options": f"-csearch_path={schema}"})
            code = (
                f"PostgresAdvisoryLock(sa.create_engine({TEST_DATABASE_URL!r}, "
                f"connect_args={{'options': '-csearch_path={schema}'}}))"
            )
            yield (lambda: PostgresAdvisoryLock(engine)), code
            engine.dispose()
    else:
        if not _redis_reachable():
            pytest.skip("TEST_REDIS_URL not set or Redis not reachable")
        key = "test:billing-lock:" + uuid.uuid4().hex
        yield (
            (lambda: RedisLock(TEST_REDIS_URL, key, ttl_seconds=REDIS_TTL)),
            (f"RedisLock({TEST_REDIS_URL!r}, {key!r}, ttl_seconds={REDIS_TTL})"),
        )


HOLDER = """
import sys, time
import sqlalchemy as sa
from portal_app.billing.cluster_lock import FileLock, PostgresAdvisoryLock, RedisLock
lock = {code}
assert lock.acquire()
print("HELD", flush=True)
time.sleep(600)
"""


def test_a_second_acquirer_is_refused_until_the_first_releases(backend):
    make, _ = backend
    first, second = make(), make()
    assert first.acquire()
    assert not second.acquire()
    assert not make().acquire()
    first.release()
    assert second.acquire()
    assert not first.acquire()
    second.release()


def test_a_holder_killed_with_kill_9_does_not_keep_the_lock(backend, tmp_path):
    make, code = backend
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(code=code)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "HELD"
        # Held past several Redis TTLs: the holder keeps renewing it while it lives.
        time.sleep(REDIS_TTL * 2.5)
        assert not make().acquire()
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(30)
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.stdout.close()
    deadline = time.monotonic() + REDIS_TTL + 10  # advisory lock and flock: at once; Redis: within its TTL
    lock = make()
    while not lock.acquire():
        assert time.monotonic() < deadline, "the killed holder still holds the lock"
        time.sleep(0.1)
    lock.release()


def test_redis_lock_is_deleted_only_by_its_owner_and_a_taken_over_lock_is_reported_lost():
    if not _redis_reachable():
        pytest.skip("TEST_REDIS_URL not set or Redis not reachable")
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL)
    key = "test:billing-lock:" + uuid.uuid4().hex
    first = RedisLock(TEST_REDIS_URL, key, ttl_seconds=REDIS_TTL)
    assert first.acquire()
    client.delete(key)  # as if the key had expired while its holder was stalled
    second = RedisLock(TEST_REDIS_URL, key, ttl_seconds=REDIS_TTL)
    assert second.acquire()
    assert first.lost.wait(REDIS_TTL * 2)  # its renewal found another owner: its run stops
    first.release()
    assert client.get(key) == second.token.encode()  # the old owner did not delete the new owner's lock
    second.release()
    assert client.get(key) is None
    client.close()


def test_the_backend_follows_the_deployment(tmp_path):
    sqlite_engine = db.make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    plain = Settings(secret_key="k" * 40, _env_file=None)
    with_redis = Settings(secret_key="k" * 40, _env_file=None, REFLEX_REDIS_URL="redis://127.0.0.1:6379/0")
    lock = runner_lock(sqlite_engine, settings=plain)
    assert isinstance(lock, FileLock) and lock.path == tmp_path / "portal.db.billing-run.lock"
    assert isinstance(runner_lock(sqlite_engine, settings=with_redis), RedisLock)
    pg_engine = sa.create_engine("postgresql+psycopg://u:secret@db.example/portal")
    assert isinstance(runner_lock(pg_engine, settings=with_redis), PostgresAdvisoryLock)
    # Replicas sharing a database share the Redis key; the password is not part of it.
    assert cluster_lock.redis_key_for(pg_engine.url) == cluster_lock.redis_key_for(
        sa.engine.make_url("postgresql+psycopg://u:other@db.example/portal")
    )
    sqlite_engine.dispose()


def test_hold_runner_lock_yields_none_to_a_second_runner(tmp_path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    settings = Settings(secret_key="k" * 40, _env_file=None)
    with hold_runner_lock(engine, settings=settings) as first:
        assert first is not None and first.held
        with hold_runner_lock(engine, settings=settings) as second:
            assert second is None
    with pytest.raises(RuntimeError), hold_runner_lock(engine, settings=settings) as again:
        assert again is not None
        raise RuntimeError("the run failed")
    with hold_runner_lock(engine, settings=settings) as after_failure:
        assert after_failure is not None  # released on the way out of the failed block
    engine.dispose()
