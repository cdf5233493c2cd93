"""Benchmark: how fast `python -m portal_app.billing run` stops on SIGTERM (SQLite file, simulated gateway).

Seeds N renewals due at once, starts the CLI, sends SIGTERM as soon as the first batch is being
charged and times signal -> exit. The floor, measured in the same run on the same disk, is one batch:
an in-process run_billing over BATCH_SIZE renewals. The stop waits for the batch in hand, so the
target is <= 2x the floor (and, on this machine, well under the 5 s a container gets before SIGKILL).
Prints `RATIO name value target t` lines; never asserts timings.

    .venv/bin/python bench/graceful_stop.py                # 20k renewals, 3 rounds
    .venv/bin/python bench/graceful_stop.py --size 50000 --rounds 1
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ENVIRONMENT", "test")

import sqlalchemy as sa

from portal_app import db
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.runs import BATCH_SIZE, run_billing
from portal_app.models import PaymentAttempt
from tests.bulk_seed import seed_due_subscriptions
from tests.databases import migrate

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(datetime.now(UTC).year + 1, 3, 10, 12, tzinfo=UTC)


def _database(directory: str, name: str, n: int) -> tuple[str, SimulatedGateway, sa.Engine]:
    url = f"sqlite:///{directory}/{name}.db"
    migrate(url)
    gateway = SimulatedGateway(store_path=f"{directory}/{name}-gateway.db")
    gateway.reset()
    engine = db.make_engine(url)
    seed_due_subscriptions(engine, gateway, n, now=NOW)
    return url, gateway, engine


def one_batch_seconds(directory: str) -> float:
    """The floor: one billing run of exactly one batch, in process."""
    _, gateway, engine = _database(directory, "floor", BATCH_SIZE)
    started = time.perf_counter()
    summary = run_billing(engine, now=NOW, gateway=gateway)
    seconds = time.perf_counter() - started
    if summary.renewed != BATCH_SIZE:
        raise SystemExit(f"floor run did not renew one batch: {summary.as_text()}")
    engine.dispose()
    return seconds


def stop_seconds(directory: str, n: int) -> tuple[float, str]:
    """Seconds from SIGTERM (sent once charging started) to the CLI's exit, and its summary line."""
    url, _, engine = _database(directory, "run", n)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REFLEX_REDIS_URL", "SMTP_"))}
    env.update(DATABASE_URL=url, SIMULATED_GATEWAY_PATH=f"{directory}/run-gateway.db", GATEWAY="simulated")
    env["PYTHONPATH"] = str(ROOT)
    run = subprocess.Popen(
        [sys.executable, "-m", "portal_app.billing", "run", "--now", NOW.isoformat()],
        env=env,
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    with engine.connect() as conn:
        while conn.execute(sa.select(sa.func.count()).select_from(PaymentAttempt)).scalar_one() == 0:
            if run.poll() is not None:
                raise SystemExit("the run ended before charging")
            time.sleep(0.01)
            conn.rollback()
    sent = time.perf_counter()
    run.send_signal(signal.SIGTERM)
    out, _ = run.communicate(timeout=600)
    seconds = time.perf_counter() - sent
    engine.dispose()
    if run.returncode != 0 or "stopped early" not in out:
        raise SystemExit(f"the run did not stop cleanly (exit {run.returncode}): {out}")
    return seconds, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stops, floors = [], []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="graceful-stop-") as directory:
            floors.append(one_batch_seconds(directory))
            stop, text = stop_seconds(directory, args.size)
            stops.append(stop)
        print(f"  round {r + 1}/{args.rounds}: stop {stop:.2f}s, one batch {floors[-1]:.2f}s  [{text}]", flush=True)
    stop_m, floor_m = statistics.median(stops), statistics.median(floors)
    print(f"RATIO sigterm_stop_vs_one_batch {stop_m / floor_m:.2f} target 2.0 t {stop_m:.2f}s", flush=True)
    print(f"RATIO sigterm_stop_vs_5s_budget {stop_m / 5:.2f} target 1.0 t {stop_m:.2f}s", flush=True)


if __name__ == "__main__":
    main()
