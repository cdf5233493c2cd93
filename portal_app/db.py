"""Engine and session helpers for the billing engine (no Reflex here)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session, create_engine

from portal_app import models  # noqa: F401 - registers every table on SQLModel.metadata
from portal_app.billing import (
    invoice_guard,  # noqa: F401 - finalized invoices: triggers on create_all, ORM check
    search_index,  # noqa: F401 - the subscribers' trigram index, on create_all too
)
from portal_app.settings import get_settings


def make_engine(url: str) -> sa.Engine:
    """An engine tuned for concurrent writers: SQLite waits on locks instead of failing."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # Let SQLAlchemy emit BEGIN itself so that BEGIN IMMEDIATE below takes the write lock.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@functools.cache
def get_engine() -> sa.Engine:
    return make_engine(get_settings().database_url)


def is_postgres(session_or_engine: Session | sa.Engine) -> bool:
    bind = session_or_engine.get_bind() if isinstance(session_or_engine, Session) else session_or_engine
    return bind.dialect.name == "postgresql"


def new_session(engine: sa.Engine | None = None) -> Session:
    """The one session factory: objects stay readable after commit (results outlive transactions)."""
    return Session(engine or get_engine(), expire_on_commit=False)


@contextlib.contextmanager
def session_scope(engine: sa.Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with new_session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping() -> bool:
    """True when the database answers a trivial query (health checks report, they never raise)."""
    try:
        with get_engine().connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True


MIGRATIONS = Path(__file__).resolve().parents[1] / "alembic"


def schema_is_current(engine: sa.Engine | None = None) -> bool:
    """Whether the database is migrated to the newest alembic revision. Only migrations create tables
    (`reflex db migrate`); the app's commands refuse a database that is not at the head."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with (engine or get_engine()).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head
