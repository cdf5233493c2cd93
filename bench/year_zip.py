"""Benchmark: a subscriber's year ZIP of N stored invoice PDFs (default 1,000) against its floor.

The floor, measured in the same run on the same SQLite file: one query of the year's PDF bytes and
zipfile writing them stored. The measured path is what the portal's download calls
(invoice_queries.year_zip_for_subscriber: scoping, names, dates, reproducible entries). Prints
median milliseconds of both and `RATIO year_zip_vs_floor <x> target 1.5`. Never asserts timings.

    .venv/bin/python bench/year_zip.py [--invoices 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-" + "x" * 40)
os.environ.setdefault("ENVIRONMENT", "test")

import sqlalchemy as sa
from sqlmodel import Session, SQLModel

from portal_app import db
from portal_app.billing.invoice_queries import year_zip_for_subscriber
from portal_app.models import Invoice, Merchant, Subscriber

YEAR = 2026
TARGET = 1.5


def _seed(engine: sa.Engine, count: int) -> tuple[int, int]:
    """One merchant and subscriber with `count` paid invoices of YEAR, each with ~18 KB of stored PDF."""
    now = datetime(YEAR, 1, 1, 9, tzinfo=UTC)
    with engine.begin() as conn:
        merchant_id = conn.execute(
            sa.insert(Merchant.__table__).values(name="Bench", slug="bench", invoice_prefix="B", created_at=now)
        ).inserted_primary_key[0]
        subscriber_id = conn.execute(
            sa.insert(Subscriber.__table__).values(
                merchant_id=merchant_id, name="Zoë Bench", email="zoe@example.com", search_text="zoe", created_at=now
            )
        ).inserted_primary_key[0]
        step = timedelta(minutes=(365 * 24 * 60 - 60) // count)
        rows = [
            {
                "merchant_id": merchant_id,
                "subscriber_id": subscriber_id,
                "number": f"B-{YEAR}-{n + 1:06d}",
                "status": "paid",
                "currency": "USD",
                "subtotal_minor": 2900,
                "total_minor": 2900,
                "created_at": now + step * n,
                "finalized_at": now + step * n,
                "paid_at": now + step * n,
                # Incompressible like fpdf2's deflated streams, different per invoice.
                "pdf_bytes": b"%PDF-1.3\n" + os.urandom(18_000) + b"\n%%EOF\n",
            }
            for n in range(count)
        ]
        conn.execute(sa.insert(Invoice.__table__), rows)
    return merchant_id, subscriber_id


def _floor(engine: sa.Engine, merchant_id: int, subscriber_id: int) -> bytes:
    """One query of the bytes, zipfile storing them: what a year ZIP cannot go below."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Invoice.number, Invoice.pdf_bytes)
            .where(Invoice.merchant_id == merchant_id, Invoice.subscriber_id == subscriber_id)
            .order_by(Invoice.finalized_at, Invoice.id)
        ).all()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for number, data in rows:
            archive.writestr(f"{number}.pdf", data)
    return buffer.getvalue()


def _measured(engine: sa.Engine, merchant_id: int, subscriber_id: int) -> bytes:
    with Session(engine) as session:
        return year_zip_for_subscriber(session, subscriber_id, merchant_id, YEAR)[1]


def _median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="year-zip-bench-")
    engine = db.make_engine(f"sqlite:///{workdir}/bench.db")
    SQLModel.metadata.create_all(engine)
    merchant_id, subscriber_id = _seed(engine, args.invoices)
    size = len(_measured(engine, merchant_id, subscriber_id))  # warm: page cache, imports
    _floor(engine, merchant_id, subscriber_id)
    # Interleaved rounds so that machine noise hits both alike.
    floor_ms, measured_ms = [], []
    for _ in range(args.rounds):
        floor_ms.append(_median_ms(lambda: _floor(engine, merchant_id, subscriber_id), 1))
        measured_ms.append(_median_ms(lambda: _measured(engine, merchant_id, subscriber_id), 1))
    floor, measured = statistics.median(floor_ms), statistics.median(measured_ms)
    print(f"{args.invoices} stored PDFs, ZIP of {size / 1024:.0f} KiB")
    print(f"floor (one query + zipfile stored): {floor:.1f} ms")
    print(f"year_zip_for_subscriber:           {measured:.1f} ms")
    print(f"RATIO year_zip_vs_floor {measured / floor:.2f} target {TARGET}")


if __name__ == "__main__":
    main()
