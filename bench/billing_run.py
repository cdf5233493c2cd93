"""Benchmark: one billing run with N subscriptions due at once (simulated gateway), on a SQLite
file or, with --database-url, on fresh PostgreSQL databases of that server.

Prints the wall time of run_billing and its ratio to the floor measured in the same round on the
same database server: SQLAlchemy Core executemany INSERTs of the N invoices, their N lines and N
payment attempts (what any run must write). Targets: <= 3x on SQLite, <= 4x on PostgreSQL; the run
also claims, records outcomes, advances periods and queues receipts. Never asserts timings.

    .venv/bin/python bench/billing_run.py                  # 1 round at 100k, 3 rounds at 10k
    .venv/bin/python bench/billing_run.py --sizes 20000 --rounds 5
    .venv/bin/python bench/billing_run.py --sizes 10000 --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
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
    InvoiceLine,
    Merchant,
    PaymentAttempt,
    Subscriber,
)
from tests.bulk_seed import seed_due_subscriptions

UTC = UTC
# A live run: `now` is the wall clock, and every subscription's first period ends right then.
NOW = datetime.now(UTC).replace(microsecond=0)


def _fresh_engine(directory: str, name: str, server_url: str = "") -> sa.Engine:
    """A new, empty database with the schema: a SQLite file in directory, or `bench_<name>` recreated
    on the PostgreSQL server of server_url."""
    if not server_url:
        engine = db.make_engine(f"sqlite:///{directory}/{name}.db")
    else:
        admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS bench_{name}")
            conn.exec_driver_sql(f"CREATE DATABASE bench_{name}")
        admin.dispose()
        engine = db.make_engine(
            sa.make_url(server_url).set(database=f"bench_{name}").render_as_string(hide_password=False)
        )
    SQLModel.metadata.create_all(engine)
    return engine


def _seed(engine: sa.Engine, n: int, gateway: SimulatedGateway) -> None:
    """N subscribers with a gateway customer and a saved Visa, each with a subscription due at NOW."""
    seed_due_subscriptions(engine, gateway, n, now=NOW, slug="bench")


def _raw_invoice_insert(engine: sa.Engine, n: int) -> float:
    """Seconds for Core executemany INSERTs of n invoices, n lines and n attempts like the run's (the
    invoices inserted as drafts and finalized by one UPDATE once their lines are in, as the guard
    wants)."""
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
            "status": "draft",  # finalized once its line is in, as the run does (invoice_guard.py)
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
        ids = conn.execute(sa.insert(Invoice.__table__).returning(Invoice.__table__.c.id), rows).scalars().all()
        line = {"description": "Monthly", "quantity": 1, "unit_amount_minor": 2900, "amount_minor": 2900}
        conn.execute(sa.insert(InvoiceLine.__table__), [{"invoice_id": i, "currency": "USD", **line} for i in ids])
        invoices = Invoice.__table__
        conn.execute(sa.update(invoices).where(invoices.c.merchant_id == merchant_id).values(status="open"))
        conn.execute(
            sa.insert(PaymentAttempt.__table__),
            [
                {
                    "merchant_id": merchant_id,
                    "invoice_id": i,
                    "amount_minor": 2900,
                    "currency": "USD",
                    "status": "succeeded",
                    "gateway": "simulated",
                    "created_at": NOW,
                }
                for i in ids
            ],
        )
    return time.perf_counter() - started


def one_round(n: int, server_url: str = "") -> tuple[float, float, str]:
    with tempfile.TemporaryDirectory(prefix="billing-bench-") as directory:
        # The gateway's charge file of its own in the temporary folder: never the demo's data/.
        gateway = SimulatedGateway(store_path=f"{directory}/simulated_gateway.db")
        gateway.reset()
        engine = _fresh_engine(directory, "run", server_url)
        _seed(engine, n, gateway)
        started = time.perf_counter()
        summary = run_billing(engine, now=NOW, gateway=gateway)
        run_seconds = time.perf_counter() - started
        engine.dispose()
        if summary.renewed != n or summary.charges_succeeded != n:
            raise SystemExit(f"run did not renew and charge everything: {summary.as_text()}")
        raw_engine = _fresh_engine(directory, "raw", server_url)
        raw_seconds = _raw_invoice_insert(raw_engine, n)
        raw_engine.dispose()
        gateway.reset()
    return run_seconds, raw_seconds, summary.as_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", "--n", type=int, nargs="*", default=[100_000, 10_000], help="due renewals per run")
    parser.add_argument(
        "--rounds", type=int, nargs="*", default=None, help="rounds per size (default: 1 for >= 50k, else 3)"
    )
    parser.add_argument("--database-url", default="", help="a PostgreSQL server (its bench_* databases are recreated)")
    args = parser.parse_args()
    target = 4 if args.database_url else 3
    rounds = args.rounds or [1 if n >= 50_000 else 3 for n in args.sizes]
    if len(rounds) == 1 and len(args.sizes) > 1:
        rounds = rounds * len(args.sizes)
    for n, count in zip(args.sizes, rounds):
        runs, raws = [], []
        for r in range(count):
            run_s, raw_s, text = one_round(n, args.database_url)
            runs.append(run_s)
            raws.append(raw_s)
            print(
                f"  n={n:>7} round {r + 1}/{count}: run {run_s:7.2f}s  floor {raw_s:6.2f}s  "
                f"ratio {run_s / raw_s:5.2f}x   [{text}]",
                flush=True,
            )
        run_m, raw_m = statistics.median(runs), statistics.median(raws)
        print(
            f"n={n}: median run_billing {run_m:.2f}s ({n / run_m:,.0f} subscriptions/s), "
            f"median floor (invoices + lines + attempts) {raw_m:.2f}s, ratio {run_m / raw_m:.2f}x (target <= {target}x)",
            flush=True,
        )
        engine_name = "postgresql" if args.database_url else "sqlite"
        print(f"RATIO billing_run_{engine_name}_{n} {run_m / raw_m:.2f} target {target}", flush=True)


if __name__ == "__main__":
    main()
