"""Real `python -m portal_app.billing run` processes: one runner per cluster, and SIGTERM stops cleanly.

Three runs started at once on one database: one takes the runner lock and does all the work, the
others say they skipped; every subscription is renewed once and every card warned once. A run sent
SIGTERM while charging ends after its current batch with exit code 0 and nothing half-claimed; the
next run finishes the rest, and every subscription is billed exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from portal_app import db
from portal_app.billing.cluster_lock import hold_runner_lock
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import EmailMessage, Invoice, PaymentAttempt, Subscription, utcnow
from portal_app.settings import Settings
from tests.bulk_seed import seed_due_subscriptions
from tests.databases import TEST_DATABASE_URL, fresh_database_url, migrate

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parents[2]
# A run in the future (so the cards are not expired to the tokenizer) on the 10th of a month, with
# every card expiring at the end of that month: inside the 30-day warning window.
NOW = datetime(utcnow().year + 1, 3, 10, 12, 0, tzinfo=UTC)
EXPIRY = (NOW.year, NOW.month)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path):
    if request.param == "postgres" and not TEST_DATABASE_URL:
        pytest.skip("TEST_DATABASE_URL not set")
    with fresh_database_url(request.param, tmp_path) as url:
        migrate(url)  # the CLI works on migrated databases only
        yield url


def _env(url: str, store: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "GATEWAY", "STRIPE_", "REFLEX_REDIS_URL", "SMTP_"))
    }
    env.update(
        DATABASE_URL=url,
        SIMULATED_GATEWAY_PATH=str(store),
        GATEWAY="simulated",
        ENVIRONMENT="test",
        PYTHONPATH=str(ROOT),
    )
    return env


def _runner(url: str, store: Path, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "portal_app.billing", "run", "--now", NOW.isoformat()],
        cwd=cwd,
        env=_env(url, store),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _count(engine: sa.Engine, stmt) -> int:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


def _assert_billed_exactly_once(engine: sa.Engine, n: int) -> None:
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(Subscription.period_index)).scalars()) == {1}
        per_sub = conn.execute(
            sa.select(Invoice.subscription_id, sa.func.count()).group_by(Invoice.subscription_id)
        ).all()
        assert len(per_sub) == n and {c for _, c in per_sub} == {1}
        assert set(conn.execute(sa.select(Invoice.status)).scalars()) == {"paid"}
        assert set(conn.execute(sa.select(PaymentAttempt.status)).scalars()) == {"succeeded"}
        assert (
            conn.execute(sa.select(sa.func.count()).where(Invoice.charging_attempt_id.is_not(None))).scalar_one() == 0
        )
        receipts = conn.execute(
            sa.select(sa.func.count(), sa.func.count(sa.distinct(EmailMessage.notice_key))).where(
                EmailMessage.kind == "receipt"
            )
        ).one()
        assert tuple(receipts) == (n, n)


def test_three_runners_at_once_one_does_the_work_and_each_card_is_warned_once(database_url, tmp_path):
    n = 3000
    store = tmp_path / "gateway.db"
    engine = db.make_engine(database_url)
    gateway = SimulatedGateway(store_path=str(store))
    gateway.reset()
    seed_due_subscriptions(engine, gateway, n, now=NOW, exp=EXPIRY)

    # The lock held elsewhere: a CLI runner says so and bills nothing (deterministic, whatever the load).
    with hold_runner_lock(engine, settings=Settings(secret_key="k" * 40, _env_file=None)) as held:
        assert held is not None
        refused = _runner(database_url, store, tmp_path)
        out, err = refused.communicate(timeout=600)
    assert refused.returncode == 0, err[-2000:]
    assert "skipped, another billing run holds the runner lock" in out, out
    assert gateway.succeeded_charge_count() == 0

    runners = [_runner(database_url, store, tmp_path) for _ in range(3)]
    outputs = []
    for runner in runners:
        out, err = runner.communicate(timeout=600)
        assert runner.returncode == 0, err[-2000:]
        outputs.append(out)

    worked = [o for o in outputs if f"renewed {n}," in o]
    skipped = [o for o in outputs if "skipped, another billing run holds the runner lock" in o]
    # Racing: whether a loser meets the lock or starts only after the winner released it (a slow
    # start on a loaded machine: then it finds nothing left), none may share the work (without the
    # lock, overlapping runners split the renewals between them). The refusal itself is shown above.
    late = [o for o in outputs if "renewed 0," in o]
    assert len(worked) == 1 and len(worked) + len(skipped) + len(late) == 3, outputs
    assert f"card-expiry emails {n}," in worked[0]
    with engine.connect() as conn:
        warned = conn.execute(
            sa.select(EmailMessage.subscriber_id, sa.func.count())
            .where(EmailMessage.kind == "card_expiring")
            .group_by(EmailMessage.subscriber_id)
        ).all()
    assert len(warned) == n and {c for _, c in warned} == {1}
    assert gateway.succeeded_charge_count() == n
    _assert_billed_exactly_once(engine, n)
    engine.dispose()
    gateway.reset()


def test_sigterm_stops_a_run_between_batches_and_the_next_run_finishes_the_rest(database_url, tmp_path):
    n = 8000
    store = tmp_path / "gateway.db"
    engine = db.make_engine(database_url)
    gateway = SimulatedGateway(store_path=str(store))
    gateway.reset()
    seed_due_subscriptions(engine, gateway, n, now=NOW)

    run = _runner(database_url, store, tmp_path)
    try:
        deadline = time.monotonic() + 300
        while _count(engine, sa.select(sa.func.count()).select_from(PaymentAttempt)) == 0:
            assert run.poll() is None, "the run ended before it charged anything"
            assert time.monotonic() < deadline, "the run never started charging"
            time.sleep(0.05)
        run.send_signal(signal.SIGTERM)  # it has claimed its first batch and is charging it
        out, err = run.communicate(timeout=600)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err[-2000:]
    assert "SIGTERM: stopping after the current batch." in err
    assert "stopped early, the next run does the rest" in out
    first = int(out.split("renewed ")[1].split(",")[0])
    assert 0 < first < n  # it stopped before the end...

    # ...and left nothing half-done: every attempt has its outcome, no claim is held, no invoice open.
    with engine.connect() as conn:
        assert set(conn.execute(sa.select(PaymentAttempt.status)).scalars()) == {"succeeded"}
        assert (
            conn.execute(sa.select(sa.func.count()).where(Invoice.charging_attempt_id.is_not(None))).scalar_one() == 0
        )
        assert set(conn.execute(sa.select(Invoice.status)).scalars()) == {"paid"}
        assert conn.execute(sa.select(sa.func.count()).select_from(Invoice)).scalar_one() == first
        assert conn.execute(sa.select(sa.func.count()).where(Subscription.period_index == 1)).scalar_one() == first
    assert gateway.succeeded_charge_count() == first

    rest = subprocess.run(
        [sys.executable, "-m", "portal_app.billing", "run", "--now", NOW.isoformat()],
        cwd=tmp_path,
        env=_env(database_url, store),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert f"renewed {n - first}," in rest.stdout and "stopped early" not in rest.stdout
    assert gateway.succeeded_charge_count() == n
    _assert_billed_exactly_once(engine, n)
    engine.dispose()
    gateway.reset()
