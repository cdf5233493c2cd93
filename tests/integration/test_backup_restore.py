"""Backups restore: the procedure of README "Backups and restore", run on a seeded, migrated database.

SQLite: `sqlite3 <file> ".backup <copy>"` (SQLite's online backup: a consistent copy while the app has
the file open, write-ahead log included) of the database and of the simulated gateway's charge file.
PostgreSQL: `pg_dump -Fc` and `pg_restore` into a new database. Each restored copy must hold the same
rows (merchants, subscribers, numbered invoices, attempts), be at the newest migration, open the
portal links issued before the backup (with the same SECRET_KEY, and only with it), take a billing
run from the CLI, and on PostgreSQL still refuse changes to finalized invoices (the triggers)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlmodel import select

from portal_app import db
from portal_app.billing.demo import seed_demo
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.portal_links import issue_portal_link, resolve_portal_token
from portal_app.models import Invoice, PaymentAttempt, Subscriber, utcnow
from portal_app.settings import get_settings
from tests.builders import table_snapshot
from tests.checkout import ROOT
from tests.databases import TEST_DATABASE_URL, fresh_database_url, migrate

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REFUSED = (sa.exc.IntegrityError, sa.exc.DatabaseError)


def _seed(url: str, gateway_path) -> tuple[sa.Engine, str]:
    """A migrated database with the demo data, and a portal link issued before the backup."""
    migrate(url)
    engine = db.make_engine(url)
    assert seed_demo(engine, now=utcnow(), gateway=SimulatedGateway(store_path=str(gateway_path)))
    with db.session_scope(engine) as session:
        subscriber = session.exec(select(Subscriber).order_by(Subscriber.id)).first()
        token = issue_portal_link(session, subscriber)
    return engine, token


def _check_restored(original: sa.Engine, url: str, token: str, gateway_path) -> None:
    restored = db.make_engine(url)
    try:
        assert table_snapshot(restored) == table_snapshot(original)
        with db.session_scope(restored) as session:
            invoices = session.exec(select(Invoice)).all()
            assert [i for i in invoices if i.number], "no numbered invoice survived"
            assert session.exec(select(PaymentAttempt)).all(), "no payment attempt survived"
            assert resolve_portal_token(session, token) is not None
        assert db.schema_is_current(restored)
    finally:
        restored.dispose()
    run = subprocess.run(
        [sys.executable, "-m", "portal_app.billing", "run"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": url,
            "SIMULATED_GATEWAY_PATH": str(gateway_path),
            "SECRET_KEY": get_settings().secret_key,
        },
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Billing run at" in run.stdout


def test_a_portal_link_needs_the_secret_key_it_was_issued_under(tmp_path, monkeypatch):
    """Why SECRET_KEY (data/secret_key in development) belongs in every backup: a restore under
    another key keeps the rows but opens no portal link issued before it."""
    engine, token = _seed(f"sqlite:///{tmp_path / 'portal.db'}", tmp_path / "gw.db")
    try:
        monkeypatch.setattr(get_settings(), "secret_key", "another-secret-key-" + "y" * 40)
        with db.session_scope(engine) as session:
            assert resolve_portal_token(session, token) is None
    finally:
        engine.dispose()


@pytest.mark.skipif(
    shutil.which("sqlite3") is None, reason="the sqlite3 command is not installed (apt-get install sqlite3)"
)
def test_sqlite_online_backup_restores(tmp_path):
    live, backup, restored = (tmp_path / name for name in ("data", "backup", "restored"))
    for folder in (live, backup, restored):
        folder.mkdir()
    engine, token = _seed(f"sqlite:///{live / 'portal.db'}", live / "simulated_gateway.db")
    try:
        # The app is running: its connection is open and recent commits sit in the write-ahead log,
        # which a copy of portal.db alone would miss.
        with engine.connect() as open_connection:
            open_connection.execute(sa.text("SELECT 1"))
            assert (live / "portal.db-wal").stat().st_size > 0
            for name in ("portal.db", "simulated_gateway.db"):
                subprocess.run(["sqlite3", str(live / name), f".backup '{backup / name}'"], check=True, timeout=60)
        for name in ("portal.db", "simulated_gateway.db"):
            shutil.copy2(backup / name, restored / name)
        assert not (restored / "portal.db-wal").exists()
        _check_restored(engine, f"sqlite:///{restored / 'portal.db'}", token, restored / "simulated_gateway.db")
    finally:
        engine.dispose()


def _libpq(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_skip_reason() -> str | None:
    if not TEST_DATABASE_URL.startswith("postgresql"):
        return "TEST_DATABASE_URL is not a PostgreSQL URL"
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        return "pg_dump/pg_restore are not installed (apt-get install postgresql-client)"
    try:
        engine = sa.create_engine(TEST_DATABASE_URL)
        with engine.connect() as conn:
            server = conn.execute(sa.text("SHOW server_version_num")).scalar_one()
        engine.dispose()
    except sa.exc.OperationalError:
        return "PostgreSQL at TEST_DATABASE_URL is not reachable"
    client = subprocess.run(["pg_dump", "--version"], capture_output=True, text=True).stdout.split()[-1]
    if int(client.split(".")[0]) < int(server) // 10000:
        return f"pg_dump {client} is older than the server ({server}): it would refuse to dump"
    return None


def test_postgres_dump_restores_with_the_invoice_guard(tmp_path):
    if reason := _postgres_skip_reason():
        pytest.skip(reason)
    gateway_path = tmp_path / "simulated_gateway.db"
    with fresh_database_url("postgres", tmp_path, prefix="portal_backup_") as source_url:
        engine, token = _seed(source_url, gateway_path)
        try:
            dump = tmp_path / "portal.dump"
            subprocess.run(
                ["pg_dump", "-Fc", "--no-owner", "-f", str(dump), _libpq(source_url)], check=True, timeout=120
            )
            with fresh_database_url("postgres", tmp_path, prefix="portal_restore_") as target_url:
                subprocess.run(
                    ["pg_restore", "--no-owner", "--exit-on-error", "-d", _libpq(target_url), str(dump)],
                    check=True,
                    timeout=120,
                )
                _check_restored(engine, target_url, token, gateway_path)
                _assert_finalized_invoices_refuse_changes(target_url)
        finally:
            engine.dispose()


def _assert_finalized_invoices_refuse_changes(url: str) -> None:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            invoice_id, total = conn.execute(
                sa.text("SELECT id, total_minor FROM invoice WHERE status <> 'draft' ORDER BY id LIMIT 1")
            ).one()
        with pytest.raises(REFUSED), engine.begin() as conn:
            conn.execute(sa.text("UPDATE invoice SET total_minor = total_minor + 1 WHERE id = :id"), {"id": invoice_id})
        with engine.connect() as conn:
            assert (
                conn.execute(sa.text("SELECT total_minor FROM invoice WHERE id = :id"), {"id": invoice_id}).scalar_one()
                == total
            )
    finally:
        engine.dispose()
