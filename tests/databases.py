"""A fresh, empty database for tests that migrate one themselves (the e2e servers, migration tests)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic.config import Config

from alembic import command
from portal_app import db

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")


@contextlib.contextmanager
def fresh_database_url(kind: str, work: Path, *, prefix: str = "portal_test_") -> Iterator[str]:
    """The URL of a new SQLite file in `work`, or of a PostgreSQL database created on TEST_DATABASE_URL's
    server for the block and dropped after it ("postgres")."""
    if kind == "sqlite":
        yield f"sqlite:///{work / 'fresh.db'}"
        return
    name = prefix + uuid.uuid4().hex[:10]
    admin = sa.create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.engine.make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def migrate(url: str) -> None:
    """`alembic upgrade head` on `url`, as `reflex db migrate` does (no ini file: env.py then leaves the
    test run's logging alone)."""
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
