"""Shared fixtures: a fresh database per test, on SQLite and (when TEST_DATABASE_URL is set) on
PostgreSQL, and settings isolated from the developer's .env."""

from __future__ import annotations

import os
import pathlib
import tempfile
import uuid

import pytest
import sqlalchemy as sa

os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("ENVIRONMENT", "test")
os.environ.setdefault("BILLING_TICK_SECONDS", "0")
# The simulated gateway's charge file (it outlives processes, like a processor): never the developer's data/.
os.environ.setdefault(
    "SIMULATED_GATEWAY_PATH", str(pathlib.Path(tempfile.mkdtemp(prefix="simulated-gateway-")) / "charges.db")
)

from sqlmodel import Session, SQLModel

from portal_app import (
    db,
    models,  # noqa: F401
)
from portal_app.billing.gateways.simulated import SimulatedGateway

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


def _postgres_engine() -> tuple[sa.Engine, str]:
    """An engine on a schema of its own, so tests never see each other's rows."""
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(TEST_DATABASE_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        # pg_trgm (the search index) must live in public, not in the first test schema that asked for it:
        # dropping that schema would drop the extension and every other test schema's trigram index.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7242)")  # parallel test processes
        conn.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        if (
            conn.exec_driver_sql(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'pg_trgm'"
            ).scalar_one()
            != "public"
        ):
            conn.exec_driver_sql("ALTER EXTENSION pg_trgm SET SCHEMA public")
    admin.dispose()
    engine = sa.create_engine(
        TEST_DATABASE_URL,
        connect_args={"options": f"-csearch_path={schema}"},
        pool_size=60,
        max_overflow=20,
    )
    return engine, schema


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request, tmp_path):
    """The same test on SQLite and on PostgreSQL (skipped without TEST_DATABASE_URL)."""
    if request.param == "postgres":
        if not TEST_DATABASE_URL:
            pytest.skip("TEST_DATABASE_URL not set")
        engine, schema = _postgres_engine()
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()
        admin = sa.create_engine(TEST_DATABASE_URL)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()
    else:
        engine = db.make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        SQLModel.metadata.create_all(engine)
        yield engine
        engine.dispose()


@pytest.fixture
def engine(tmp_path):
    """A fresh SQLite database."""
    engine = db.make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    SQLModel.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def gateway():
    """The simulated gateway, reset around each test (its store is process-wide)."""
    gw = SimulatedGateway()
    gw.reset()
    yield gw
    gw.reset()


_LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(items):
    """Each test carries the marker of its layer (tests/unit, tests/integration, tests/e2e), so
    `pytest -m unit` (make unit) and `-m "not e2e"` select by layer without per-file markers."""
    tests_dir = pathlib.Path(__file__).parent
    for item in items:
        layer = item.path.relative_to(tests_dir).parts[0]  # never the checkout's own folder names
        if layer in _LAYERS:
            item.add_marker(getattr(pytest.mark, layer))
