"""The production server for the benchmarks that need one (portal_load.py, portal_events.py): `reflex run
--env prod` as `make run` serves it, on a fresh database seeded with the demo data, on a free port.

kind "disk": SQLite and Reflex's disk state manager, one worker (the embedded defaults).
kind "redis": PostgreSQL (a fresh database on `database_server`) and the Redis state manager at
`redis_url`, `workers` backend workers (the scale-out configuration)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")

from portal_app import db  # noqa: E402
from portal_app.billing import demo  # noqa: E402
from tests.e2e.conftest import free_port, stop_server, wait_healthy  # noqa: E402


@contextlib.contextmanager
def fresh_database(kind: str, work: Path, database_server: str = "") -> Iterator[str]:
    """A SQLite file in `work` ("disk"), or a PostgreSQL database created on database_server's server
    for the block and dropped after it ("redis")."""
    if kind == "disk":
        yield f"sqlite:///{work / 'bench.db'}"
        return
    name = "bench_portal_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(database_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(database_server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@contextlib.contextmanager
def running_server(
    work: Path, *, kind: str = "disk", database_server: str = "", redis_url: str = "", workers: int = 1
) -> Iterator[tuple[sa.Engine, str]]:
    """(engine of its database, base URL) of a production server with the demo data."""
    port = free_port()
    with fresh_database(kind, work, database_server) as database_url:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PUBLIC_URL": f"http://localhost:{port}",
            "BILLING_TICK_SECONDS": "0",
            "GRANIAN_WORKERS": str(workers),
            "PATH": f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
        }
        env.pop("REFLEX_REDIS_URL", None)
        if kind == "redis":
            env["REFLEX_REDIS_URL"] = redis_url
        reflex = str(ROOT / ".venv/bin/reflex")
        subprocess.run([reflex, "db", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True)
        engine = db.make_engine(database_url)
        demo.seed_demo(engine, now=datetime.now(UTC))
        log = work / f"server-{kind}.log"
        proc = subprocess.Popen(
            [reflex, "run", "--env", "prod", "--frontend-port", str(port), "--backend-port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(f"http://localhost:{port}/api/health", proc, log)
            yield engine, f"http://localhost:{port}"
        finally:
            stop_server(proc)
            engine.dispose()
