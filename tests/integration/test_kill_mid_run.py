"""kill -9 of a billing run between the gateway call and the commit, then a restart: one charge per invoice.

The run is a real `python -m portal_app.billing run` process on the simulated gateway, slowed down right
after the gateway answered so the kill lands before the outcome is recorded. The simulated gateway keeps
its charges in its own file (SIMULATED_GATEWAY_PATH), as a processor outlives our processes, so the
restarted run finds the charge under its key instead of charging again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from portal_app import db
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.statuses import AttemptStatus, InvoiceStatus
from portal_app.models import Invoice, PaymentAttempt, Subscriber
from tests.builders import JAN31, rows, subscribed_world
from tests.databases import migrate

ROOT = Path(__file__).resolve().parents[2]
FEB28 = JAN31.replace(month=2, day=28)

# The CLI's billing run, with the gateway slowed down after it charged (and before we record).
SLOW_RUN = """
import sys, time
from portal_app.billing.gateways import simulated
real_charge = simulated.SimulatedGateway.charge
def charge_then_hang(self, **request):
    result = real_charge(self, **request)
    print("CHARGED", request["idempotency_key"], flush=True)
    time.sleep(300)
    return result
simulated.SimulatedGateway.charge = charge_then_hang
from portal_app.billing.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _env(database: Path, store: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "GATEWAY", "STRIPE_"))}
    env.update(
        DATABASE_URL=f"sqlite:///{database}",
        SIMULATED_GATEWAY_PATH=str(store),
        GATEWAY="simulated",
        ENVIRONMENT="test",
        PYTHONPATH=str(ROOT),
    )
    return env


def test_kill_9_between_gateway_and_commit_then_restart_charges_each_invoice_once(tmp_path):
    database, store = tmp_path / "portal.db", tmp_path / "gateway.db"
    migrate(f"sqlite:///{database}")  # the CLI works on migrated databases only
    engine = db.make_engine(f"sqlite:///{database}")
    gateway = SimulatedGateway(store_path=str(store))
    gateway.reset()
    worlds = [subscribed_world(engine, gateway, slug=f"m{i}", prefix=f"M{i}")[0] for i in range(3)]
    customers = [s.gateway_customer_id for s in rows(engine, Subscriber)]
    assert gateway.succeeded_charge_count() == 3  # the first invoices

    run = subprocess.Popen(
        [sys.executable, "-c", SLOW_RUN, "run", "--now", (FEB28 + timedelta(minutes=1)).isoformat()],
        cwd=tmp_path,
        env=_env(database, store),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while "CHARGED" not in line and time.monotonic() < deadline:
            line = run.stdout.readline()
            assert line or run.poll() is None, "the billing run ended before charging"
        assert "CHARGED" in line
        os.kill(run.pid, signal.SIGKILL)  # between the gateway's answer and our commit
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
        run.stdout.close()

    # The gateway charged one renewal; our database recorded nothing: three attempts pending.
    assert gateway.succeeded_charge_count() == 4
    attempts = rows(engine, PaymentAttempt, PaymentAttempt.trigger == "renewal", PaymentAttempt.id > 3)
    assert [a.status for a in attempts] == [AttemptStatus.PENDING] * 3

    # Restart: a plain run once the pending attempts are past their grace period.
    restart = subprocess.run(
        [sys.executable, "-m", "portal_app.billing", "run", "--now", (FEB28 + timedelta(minutes=20)).isoformat()],
        cwd=tmp_path,
        env=_env(database, store),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert restart.returncode == 0, restart.stderr[-2000:]

    # Exactly one charge per invoice, counted where the gateway keeps them (a fresh reader of its file).
    persisted = SimulatedGateway(store_path=str(store))
    for customer in customers:
        charges = persisted.charges_for(customer)
        assert len(charges) == 2, charges  # the first invoice and the renewal
        assert len({c.description for c in charges}) == 2
    assert persisted.succeeded_charge_count() == 6
    assert not rows(engine, PaymentAttempt, PaymentAttempt.status.in_([AttemptStatus.PENDING, AttemptStatus.UNKNOWN]))
    assert {i.status for i in rows(engine, Invoice)} == {InvoiceStatus.PAID}
    assert len(worlds) == 3
    engine.dispose()
    gateway.reset()
