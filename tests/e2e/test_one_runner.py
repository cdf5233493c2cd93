"""One billing runner at a time across the cluster, with the real server: PostgreSQL + Redis, two
backend workers (GRANIAN_WORKERS=2), each running the in-app billing loop every 2 seconds.

The scale-out browser server keeps its runner off (its demo data must stay put for the page tests),
so this starts its own backend (`reflex run --env prod --backend-only`, no frontend build) on a
fresh database with 2000 subscriptions due now whose cards expire within the notice window. A run
over them takes several ticks, so the other worker's loop meets the runner lock (its DEBUG line
"billing tick skipped" is the proof that two runners were there and one was turned away), and the
outcome is exactly once: one invoice, one charge and one receipt per subscription, one expiry
notice per card.
"""

from __future__ import annotations

import os
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing.card_expiry import CARD_EXPIRY_NOTICE
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.payments.cards import expiry_instant
from portal_app.models import EmailMessage, Invoice, PaymentAttempt
from tests.bulk_seed import seed_due_subscriptions
from tests.databases import fresh_database_url, migrate

from .conftest import ARTIFACTS, ROOT, TEST_DATABASE_URL, TEST_REDIS_URL, free_port, stop_server, wait_healthy

pytestmark = pytest.mark.e2e

N = 2000
SKIPPED = "billing tick skipped: another runner holds the billing runner lock"


def _expiring_month(now: datetime) -> tuple[int, int]:
    """A card expiry (year, month) inside the notice window from now (the server's now is later,
    so it is inside the server's window too)."""
    for month_start in (now, now.replace(day=1) + timedelta(days=32)):
        if now < expiry_instant(month_start.month, month_start.year) <= now + CARD_EXPIRY_NOTICE:
            return month_start.year, month_start.month
    pytest.fail(f"no card expiry month falls within {CARD_EXPIRY_NOTICE} of {now}")


def _count(engine: sa.Engine, stmt) -> int:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


@pytest.mark.skipif(not (TEST_DATABASE_URL and TEST_REDIS_URL), reason="needs TEST_DATABASE_URL and TEST_REDIS_URL")
def test_two_workers_run_billing_one_at_a_time_and_every_notice_goes_out_once(tmp_path):
    now = datetime.now(UTC)
    store = tmp_path / "simulated_gateway.db"
    with fresh_database_url("postgres", tmp_path, prefix="portal_e2e_runner_") as database_url:
        migrate(database_url)
        engine = db.make_engine(database_url)
        gateway = SimulatedGateway(store_path=str(store))
        seed_due_subscriptions(engine, gateway, N, now=now - timedelta(minutes=1), exp=_expiring_month(now))
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REFLEX_REDIS_URL": TEST_REDIS_URL,
            "SIMULATED_GATEWAY_PATH": str(store),
            "PUBLIC_URL": f"http://localhost:{port}",
            "GRANIAN_WORKERS": "2",
            "BILLING_TICK_SECONDS": "2",
            "LOG_LEVEL": "DEBUG",
            "REFLEX_TELEMETRY_ENABLED": "false",
            "REFLEX_CHECK_LATEST_VERSION": "false",
            "PATH": f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
        }
        ARTIFACTS.mkdir(exist_ok=True)
        log = ARTIFACTS / "e2e-server-one-runner.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                [str(ROOT / ".venv/bin/reflex"), "run", "--env", "prod", "--backend-only", "--backend-port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_healthy(f"http://localhost:{port}/api/health", proc, log)
            receipts = sa.select(sa.func.count()).where(EmailMessage.kind == "receipt")
            deadline = time.monotonic() + 600
            while _count(engine, receipts) < N:
                assert proc.poll() is None, log.read_text()[-4000:]
                assert time.monotonic() < deadline, f"billing did not finish:\n{log.read_text()[-4000:]}"
                time.sleep(1)
            time.sleep(6)  # three more ticks of each worker: nothing more may happen
            server_log = log.read_text()
        finally:
            stop_server(proc)
        assert SKIPPED in server_log, "the second worker never met the runner lock:\n" + server_log[-4000:]
        worked = [line for line in server_log.splitlines() if "billing run:" in line and "renewed" in line]
        assert sum(f"renewed {N}," in line for line in worked) + sum("renewed 0," in line for line in worked) == len(
            worked
        ), worked  # no run shared the renewals with another
        with engine.connect() as conn:
            per_subscription = conn.execute(
                sa.select(Invoice.subscription_id, sa.func.count()).group_by(Invoice.subscription_id)
            ).all()
            assert len(per_subscription) == N and {c for _, c in per_subscription} == {1}
            assert conn.execute(sa.select(sa.func.count()).select_from(PaymentAttempt)).scalar_one() == N
            for kind in ("receipt", "card_expiring"):
                rows = conn.execute(
                    sa.select(sa.func.count(), sa.func.count(sa.distinct(EmailMessage.subscriber_id))).where(
                        EmailMessage.kind == kind
                    )
                ).one()
                assert tuple(rows) == (N, N), kind
        assert gateway.succeeded_charge_count() == N
        engine.dispose()
