"""Invoice PDF throughput on one core: median invoices/s over several rounds, against a floor measured
in the same run, interleaved: fpdf2 writing the same text cells in its core font (no font embedding,
no subsetting, no logo). Ends with `RATIO pdf_vs_floor <x> target 4` and
`RATIO pdf_invoices_per_second <n> target 120`.

Each invoice has a PNG logo, 5 lines and a Unicode customer name (accents, Greek, Cyrillic, Polish).
--extra-script adds an Armenian letter to every name: one more font page in each cut.
Prints numbers, never asserts wall time.

    .venv/bin/python bench/pdf.py [--invoices 200] [--rounds 5] [--extra-script]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw

from portal_app.billing.documents.archive import year_zip
from portal_app.billing.documents.renderer import InvoiceRenderer
from portal_app.models import Invoice, InvoiceLine, Merchant

TARGET_PER_SECOND = 120.0
TARGET_RATIO = 4.0
# One customer name per invoice, rotating through the font cuts (Latin-1, Greek, Cyrillic, Latin Ext.).
NAMES = ["Zoë Ñúñez", "Ελένη Παπαδοπούλου", "Дмитрий Иванов", "François Lefèvre", "Łukasz Żółć"]


def _logo_png() -> bytes:
    image = Image.new("RGBA", (480, 140), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 140, 140), 30, fill=(37, 99, 235, 255))
    draw.rectangle((170, 40, 470, 100), fill=(30, 41, 59, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def build_invoices(count: int, extra_name: str = "") -> list[tuple[Invoice, list[InvoiceLine], Merchant]]:
    merchant = Merchant(
        id=1,
        name="Acme Cloud S.L.",
        slug="acme",
        invoice_prefix="ACME",
        support_email="billing@acme.example",
        logo_png=_logo_png(),
    )
    start = datetime(2026, 1, 31, 9, 0, tzinfo=UTC)
    invoices = []
    for n in range(count):
        finalized = start + timedelta(days=n)
        lines = [
            InvoiceLine(
                id=n * 10 + i,
                invoice_id=n + 1,
                description=f"Pro plan — seat {i + 1}, monthly",
                quantity=i + 1,
                unit_amount_minor=2900,
                amount_minor=2900 * (i + 1),
                currency="EUR",
            )
            for i in range(5)
        ]
        subtotal = sum(line.amount_minor for line in lines)
        tax = (subtotal * 2100 + 5000) // 10000
        invoice = Invoice(
            id=n + 1,
            merchant_id=1,
            subscriber_id=1,
            number=f"ACME-2026-{n + 1:06d}",
            status="paid" if n % 2 else "open",
            currency="EUR",
            subtotal_minor=subtotal,
            tax_minor=tax,
            total_minor=subtotal + tax,
            tax_rate_bp=2100,
            period_start=finalized,
            period_end=finalized + timedelta(days=30),
            language="es" if n % 3 == 0 else "en",
            merchant_name=merchant.name,
            billing_name=NAMES[n % len(NAMES)] + extra_name,
            billing_email="customer@example.com",
            billing_address="Calle Mayor 1\n28013 Madrid\nEspaña",
            tax_id="ESB12345678",
            finalized_at=finalized,
            due_at=finalized + timedelta(days=14),
            paid_at=finalized + timedelta(minutes=1) if n % 2 else None,
        )
        invoices.append((invoice, lines, merchant))
    return invoices


def floor_pdf(invoice: Invoice, lines: list[InvoiceLine]) -> bytes:
    """The write floor: the invoice's words as fpdf2 cells in Helvetica (Latin-1 only, so non-Latin
    letters become '?'), one page, no embedded font."""
    from fpdf import FPDF

    def latin(text: str) -> str:
        return text.encode("latin-1", "replace").decode("latin-1")

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=10)
    for text in (
        invoice.merchant_name,
        invoice.number,
        latin(invoice.billing_name),
        invoice.billing_email,
        *latin(invoice.billing_address).splitlines(),
        invoice.tax_id,
    ):
        pdf.cell(0, 6, latin(text), new_x="LMARGIN", new_y="NEXT")
    for line in lines:
        pdf.cell(120, 6, latin(line.description))
        pdf.cell(0, 6, f"{line.amount_minor / 100:.2f}", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Total {invoice.total_minor / 100:.2f} {invoice.currency}", align="R")
    return bytes(pdf.output())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--extra-script",
        action="store_true",
        help="put an Armenian letter in every name (one more 128-code-point font page)",
    )
    args = parser.parse_args()

    renderer = InvoiceRenderer()
    invoices = build_invoices(args.invoices, " Հ" if args.extra_script else "")
    started = time.perf_counter()
    for invoice in invoices[: len(NAMES)]:  # parse each font cut once per process
        renderer.render(*invoice)
    print(f"warm-up (font cuts parsed once per process): {time.perf_counter() - started:.2f} s")

    rates, floor_rates = [], []
    for round_no in range(1, args.rounds + 1):
        started = time.perf_counter()
        for inv, lines, _m in invoices:
            floor_pdf(inv, lines)
        floor_rates.append(len(invoices) / (time.perf_counter() - started))
        started = time.perf_counter()
        files = [(f"{inv.number}.pdf", renderer.render(inv, lines, m)) for inv, lines, m in invoices]
        elapsed = time.perf_counter() - started
        rates.append(len(invoices) / elapsed)
        print(
            f"round {round_no}: {len(invoices)} invoices in {elapsed:.2f} s = {rates[-1]:.1f}/s (floor {floor_rates[-1]:.0f}/s)"
        )

    started = time.perf_counter()
    archive = year_zip(files)
    zip_seconds = time.perf_counter() - started
    median = statistics.median(rates)
    mean_kb = sum(len(data) for _, data in files) / len(files) / 1024
    print(f"year_zip of {len(files)} PDFs: {len(archive) / 1024:.0f} KiB in {zip_seconds:.3f} s")
    print(f"mean PDF size: {mean_kb:.1f} KiB")
    floor = statistics.median(floor_rates)
    print(f"median: {median:.1f} invoices/s; floor {floor:.0f}/s")
    print(f"RATIO pdf_vs_floor {floor / median:.2f} target {TARGET_RATIO:g}")
    print(f"RATIO pdf_invoices_per_second {median:.1f} target {TARGET_PER_SECOND:g}")


if __name__ == "__main__":
    main()
