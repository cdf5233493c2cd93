"""Benchmark: one billing run with N subscriptions due at once (SQLite file, simulated gateway).

Prints the wall time of run_billing and its ratio to a raw SQLAlchemy Core insert of N invoice rows
into the same schema on the same disk (the floor for "write N invoices"). Target ratio <= 3x; the
run also writes the invoice lines, payment attempts, claims, outcomes, period advances and receipt
emails. Never asserts timings.

    .venv/bin/python bench/billing_run.py                  # 1 round at 100k, 3 rounds at 10k
    .venv/bin/python bench/billing_run.py --sizes 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ENVIRONMENT", "test")

import sqlalchemy as sa
from sqlmodel import SQLModel

from portal_app import db
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.invoices import billing_snapshot
from portal_app.billing.runs import run_billing
from portal_app.models import (
    Invoice,
    Merchant,
    Subscriber,
)
from tests.bulk_seed import seed_due_subscriptions

UTC = UTC
# A live run: `now` is the wall clock, and every subscription's first period ends right then.
NOW = datetime.now(UTC).replace(microsecond=0)


def _fresh_engine(directory: str, name: str) -> sa.Engine:
    engine = db.make_engine(f"sqlite:///{directory}/{name}.db")
    SQLModel.metadata.create_all(engine)
    return engine


def _seed(engine: sa.Engine, n: int, gateway: SimulatedGateway) -> None:
    """N subscribers with a gateway customer and a saved Visa, each with a subscription due at NOW."""
    seed_due_subscriptions(engine, gateway, n, now=NOW, slug="bench")


def _raw_invoice_insert(engine: sa.Engine, n: int) -> float:
    """Seconds for one Core executemany INSERT of n invoice rows like the run's (same schema)."""
    with engine.begin() as conn:
        merchant_id = conn.execute(
            sa.insert(Merchant.__table__)
            .values(name="Raw", slug="raw", invoice_prefix="RAW")
            .returning(Merchant.__table__.c.id)
        ).scalar_one()
        subscriber_id = conn.execute(
            sa.insert(Subscriber.__table__)
            .values(merchant_id=merchant_id, name="Raw", email="raw@example.com")
            .returning(Subscriber.__table__.c.id)
        ).scalar_one()
    merchant = Merchant(id=merchant_id, name="Raw", slug="raw", invoice_prefix="RAW")
    subscriber = Subscriber(id=subscriber_id, merchant_id=merchant_id, name="Raw", email="raw@example.com")
    snapshot = billing_snapshot(merchant, subscriber)
    rows = [
        {
            "merchant_id": merchant_id,
            "subscriber_id": subscriber_id,
            "subscription_id": None,
            "number": f"RAW-2026-{i + 1:06d}",
            "status": "open",
            "currency": "USD",
            "subtotal_minor": 2900,
            "tax_minor": 0,
            "total_minor": 2900,
            "tax_rate_bp": 0,
            "period_start": NOW,
            "period_end": NOW + timedelta(days=30),
            **snapshot,
            "created_at": NOW,
            "finalized_at": NOW,
            "due_at": NOW,
        }
        for i in range(n)
    ]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.insert(Invoice.__table__), rows)
    return time.perf_counter() - started


def one_round(n: int) -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory(prefix="billing-bench-") as directory:
        # The gateway's charge file of its own in the temporary folder: never the demo's data/.
        gateway = SimulatedGateway(store_path=f"{directory}/simulated_gateway.db")
        gateway.reset()
        engine = _fresh_engine(directory, "run")
        _seed(engine, n, gateway)
        started = time.perf_counter()
        summary = run_billing(engine, now=NOW, gateway=gateway)
        run_seconds = time.perf_counter() - started
        engine.dispose()
        if summary.renewed != n or summary.charges_succeeded != n:
            raise SystemExit(f"run did not renew and charge everything: {summary.as_text()}")
        raw_engine = _fresh_engine(directory, "raw")
        raw_seconds = _raw_invoice_insert(raw_engine, n)
        raw_engine.dispose()
        gateway.reset()
    return run_seconds, raw_seconds, summary.as_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 10_000])
    parser.add_argument(
        "--rounds", type=int, nargs="*", default=None, help="rounds per size (default: 1 for >= 50k, else 3)"
    )
    args = parser.parse_args()
    rounds = args.rounds or [1 if n >= 50_000 else 3 for n in args.sizes]
    if len(rounds) == 1 and len(args.sizes) > 1:
        rounds = rounds * len(args.sizes)
    for n, count in zip(args.sizes, rounds):
        runs, raws = [], []
        for r in range(count):
            run_s, raw_s, text = one_round(n)
            runs.append(run_s)
            raws.append(raw_s)
            print(
                f"  n={n:>7} round {r + 1}/{count}: run {run_s:7.2f}s  raw insert {raw_s:6.2f}s  "
                f"ratio {run_s / raw_s:5.2f}x   [{text}]",
                flush=True,
            )
        run_m, raw_m = statistics.median(runs), statistics.median(raws)
        print(
            f"n={n}: median run_billing {run_m:.2f}s ({n / run_m:,.0f} subscriptions/s), "
            f"median raw invoice insert {raw_m:.2f}s, ratio {run_m / raw_m:.2f}x (target <= 3x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
