"""Invoice PDFs: content, languages, logo, statuses, determinism and the yearly ZIP.

Invoices are built in memory (no database); text is read back with poppler's pdftotext.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fontTools import ttLib
from fpdf import FPDF
from PIL import Image

from portal_app.billing.documents.archive import invoice_pdf_filename, year_zip
from portal_app.billing.documents.fonts import FONT_DIR, FONT_FAMILY, FontBank, extra_pages
from portal_app.billing.documents.renderer import InvoiceRenderer, render_invoice_pdf
from portal_app.billing.money import Money
from tests.builders import FINALIZED, jpeg_logo, make_invoice, png_logo

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def pdf_text(data: bytes) -> str:
    """Text of a PDF via pdftotext, with the various no-break/thin spaces read as plain spaces."""
    out = subprocess.run(
        ["pdftotext", "-layout", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()
    return re.sub(r"[\u00a0\u2009\u202f]", " ", out)


def pdf_images(data: bytes) -> int:
    """Number of images (not counting soft masks) that pdfimages finds."""
    out = subprocess.run(["pdfimages", "-list", "-"], input=data, capture_output=True, check=True)
    rows = out.stdout.decode().splitlines()[2:]
    return sum(1 for row in rows if row.split()[2] == "image")


def pdf_pages(data: bytes) -> int:
    out = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def plain(text: str) -> str:
    return re.sub(r"[\u00a0\u2009\u202f]", " ", text)


def test_bundled_font_and_license_are_present():
    for name in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE"):
        assert (FONT_DIR / name).is_file()
    assert "Bitstream" in (FONT_DIR / "LICENSE").read_text()


def test_english_receipt_shows_number_total_status_and_dates():
    invoice, lines, merchant = make_invoice(status="paid", language="en")
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))

    assert "Receipt" in text
    assert "ACME-2026-000001" in text
    assert "PAID" in text
    assert plain(Money(invoice.total_minor, "EUR").format("en")) in text  # €105.27
    assert "€105.27" in text
    assert "Tax (21%)" in text
    assert "January 31, 2026" in text  # issue and paid date
    assert "February 14, 2026" in text  # due date
    assert "Service period" in text and "Paid on" in text
    assert "Pro plan — seat 3" in text
    assert "Bill to".upper() in text and "Calle Mayor 1" in text and "Tax ID: ESB12345678" in text
    assert "Questions? Contact help@acme.example" in text
    assert "Page 1 of 1" in text


@pytest.mark.parametrize(
    "name", ["Zoë Ñúñez", "Ελένη Παπαδοπούλου", "Дмитрий Иванов", "Łukasz Żółć", "Nguyễn Thị Minh", "Հայկ Պետրոսյան"]
)
def test_unicode_names_render(name):
    invoice, lines, merchant = make_invoice(billing_name=name)
    lines[0].description = f"Seat for {name}"
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert name in text
    assert f"Seat for {name}" in text


def test_spanish_invoice_uses_spanish_labels_money_and_dates():
    invoice, lines, merchant = make_invoice(status="open", language="es")
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))

    assert "Factura" in text and "Receipt" not in text
    assert "PENDIENTE" in text
    for label in (
        "Número de factura",
        "Fecha de emisión",
        "Fecha de vencimiento",
        "Periodo de servicio",
        "FACTURAR A",
        "Descripción",
        "Precio unitario",
        "Importe",
        "Subtotal",
        "Total",
        "Importe pendiente",
        "Identificación fiscal: ESB12345678",
    ):
        assert label in text, label
    assert "105,27 €" in text
    assert "Impuestos (21 %)" in text
    assert "31 de enero de 2026" in text and "14 de febrero de 2026" in text
    assert "Página 1 de 1" in text
    assert "¿Tiene alguna pregunta? Escríbanos a help@acme.example" in text


def test_regional_language_tag_uses_spanish_texts():
    invoice, lines, merchant = make_invoice(status="paid", language="es-MX")
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert "Recibo" in text and "PAGADO" in text


def test_unsupported_language_falls_back_to_english():
    invoice, lines, merchant = make_invoice(status="open", language="fr")
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert "Invoice" in text and "OPEN" in text and "€105.27" in text


@pytest.mark.parametrize(
    ("status", "language", "title", "word"),
    [
        ("paid", "en", "Receipt", "PAID"),
        ("open", "en", "Invoice", "OPEN"),
        ("void", "en", "Invoice", "VOID"),
        ("uncollectible", "en", "Invoice", "UNCOLLECTIBLE"),
        ("paid", "es", "Recibo", "PAGADO"),
        ("open", "es", "Factura", "PENDIENTE"),
        ("void", "es", "Factura", "ANULADA"),
        ("uncollectible", "es", "Factura", "INCOBRABLE"),
    ],
)
def test_status_is_printed(status, language, title, word):
    invoice, lines, merchant = make_invoice(status=status, language=language)
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert title in text
    assert word in text


def test_paid_date_only_on_paid_invoices():
    paid = pdf_text(render_invoice_pdf(*make_invoice(status="paid")))
    open_ = pdf_text(render_invoice_pdf(*make_invoice(status="open")))
    assert "Paid on" in paid and "Amount paid" in paid
    assert "Paid on" not in open_ and "Amount due" in open_


@pytest.mark.parametrize("logo", [png_logo(), jpeg_logo()], ids=["png", "jpeg"])
def test_logo_is_embedded_when_present(logo):
    with_logo = render_invoice_pdf(*make_invoice(logo=logo))
    without = render_invoice_pdf(*make_invoice(logo=None))
    assert pdf_images(with_logo) == 1
    assert pdf_images(without) == 0
    assert "Acme Cloud" in pdf_text(with_logo)


def test_large_logo_is_scaled_down():
    out = io.BytesIO()
    Image.new("RGB", (4000, 1200), (10, 120, 60)).save(out, "PNG")
    invoice, lines, merchant = make_invoice(logo=out.getvalue())
    listing = (
        subprocess.run(
            ["pdfimages", "-list", "-"],
            input=render_invoice_pdf(invoice, lines, merchant),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .splitlines()[2]
    )
    width = int(listing.split()[3])
    assert width <= 709  # the 60 mm logo box at 300 dpi


def test_unreadable_logo_is_skipped_not_fatal():
    data = render_invoice_pdf(*make_invoice(logo=b"\x89PNG not really"))
    assert pdf_images(data) == 0
    assert "ACME-2026-000001" in pdf_text(data)


def test_draft_is_refused():
    invoice, lines, merchant = make_invoice(status="draft")
    with pytest.raises(ValueError, match="draft"):
        render_invoice_pdf(invoice, lines, merchant)


@pytest.mark.parametrize("field", ["number", "finalized_at"])
def test_unfinalized_invoice_is_refused(field):
    invoice, lines, merchant = make_invoice(status="open")
    setattr(invoice, field, None)
    with pytest.raises(ValueError, match="not finalized"):
        render_invoice_pdf(invoice, lines, merchant)


def test_inconsistent_input_is_refused():
    invoice, lines, merchant = make_invoice()
    lines[1].invoice_id = 999
    with pytest.raises(ValueError, match="another invoice"):
        render_invoice_pdf(invoice, lines, merchant)
    invoice, lines, merchant = make_invoice()
    merchant.id = 2
    with pytest.raises(ValueError, match="another merchant"):
        render_invoice_pdf(invoice, lines, merchant)


def test_same_input_gives_identical_bytes():
    args = make_invoice(logo=png_logo(), billing_name="Ελένη Дмитрий Zoë")
    first = render_invoice_pdf(*args)
    assert render_invoice_pdf(*args) == first
    assert InvoiceRenderer().render(*args) == first  # a renderer with its own font cache
    assert b"D:20260131093000Z" in first  # creation date = finalized_at


def test_identical_bytes_in_another_process():
    """Hash seeds and font caches differ between processes; the bytes must not."""
    script = (
        "import sys, hashlib\n"
        "from tests.builders import make_invoice, png_logo\n"
        "from portal_app.billing.documents.renderer import render_invoice_pdf\n"
        "data = render_invoice_pdf(*make_invoice(logo=png_logo(), billing_name='Ελένη Дмитрий Zoë'))\n"
        "print(hashlib.sha256(data).hexdigest())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(PROJECT_ROOT)}
    out = (
        subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, env=env, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    here = render_invoice_pdf(*make_invoice(logo=png_logo(), billing_name="Ελένη Дмитрий Zoë"))
    assert out == hashlib.sha256(here).hexdigest()


@pytest.mark.concurrency
def test_concurrent_renders_match_serial_ones():
    """Renderers share parsed fonts and logos between threads; documents must not leak into each other."""
    names = ["Zoë Ñúñez", "Ελένη", "Дмитрий", "Łukasz", "Հայկ", "François"]
    jobs = [
        make_invoice(billing_name=name, number=f"ACME-2026-{i:06d}", invoice_id=i + 1, logo=png_logo())
        for i, name in enumerate(names * 2)
    ]
    serial = [render_invoice_pdf(*job) for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda job: render_invoice_pdf(*job), jobs))
    assert parallel == serial


def test_long_invoice_breaks_pages_and_repeats_the_heading():
    invoice, lines, merchant = make_invoice(n_lines=60, status="open")
    lines[5].description = "A very long description " * 12
    data = render_invoice_pdf(invoice, lines, merchant)
    pages = pdf_pages(data)
    assert pages >= 2
    text = pdf_text(data)
    assert f"Page {pages} of {pages}" in text
    page_texts = [page for page in text.split("\f") if page.strip()]
    assert len(page_texts) == pages
    for page in page_texts:  # every page with rows repeats the heading (the totals may end alone)
        assert ("Pro plan — seat" in page) == ("Description" in page)
    assert sum("Description" in page for page in page_texts) >= 2
    assert "Pro plan — seat 60" in text
    assert "€2,105.40" in text  # 60 × €29.00 + 21 % tax


def test_extra_pages_selects_font_cut():
    assert extra_pages(["Zoë Ñúñez €1,234.56 – 31 ene\u2009–\u200928 feb"]) == frozenset()
    assert extra_pages(["Ελένη"]) == {0x3AD >> 7}
    assert extra_pages(["Дмитрий", "\n"]) == {0x414 >> 7}


def test_invoice_pdf_filename():
    invoice, _, _ = make_invoice(number="ACME-2026-000042")
    assert invoice_pdf_filename(invoice) == "ACME-2026-000042.pdf"
    invoice.number = "A/B 1"
    assert invoice_pdf_filename(invoice) == "A_B_1.pdf"


def test_year_zip_holds_each_pdf_and_is_deterministic():
    files = []
    for i in range(1, 4):
        invoice, lines, merchant = make_invoice(number=f"ACME-2026-{i:06d}", invoice_id=i)
        files.append((invoice_pdf_filename(invoice), render_invoice_pdf(invoice, lines, merchant)))

    archive = year_zip(files)
    assert year_zip(files) == archive
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        assert zf.testzip() is None
        assert zf.namelist() == ["ACME-2026-000001.pdf", "ACME-2026-000002.pdf", "ACME-2026-000003.pdf"]
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)  # no date given
            data = zf.read(info)
            assert data.startswith(b"%PDF-")
            assert info.filename.removesuffix(".pdf") in pdf_text(data)


def test_year_zip_rejects_bad_names():
    with pytest.raises(ValueError):
        year_zip([("a.pdf", b"x"), ("a.pdf", b"y")])
    with pytest.raises(ValueError):
        year_zip([("../evil.pdf", b"x")])


def test_font_copy_behaves_like_fpdf2_add_font(tmp_path):
    """Guard for fpdf2 upgrades: the per-document font copy must write the same PDF as add_font()
    loading the same cut (both without bounding-box recalculation, which the cut already did)."""
    faces = FontBank().faces_for(["Zoë Ελένη"])

    def document(use_copy: bool) -> bytes:
        pdf = FPDF()
        pdf.set_creation_date(FINALIZED)
        for style, face in faces.items():
            if use_copy:
                face.install(pdf)
            else:
                path = tmp_path / f"cut{style or 'R'}.ttf"
                path.write_bytes(face.font_bytes)
                pdf.add_font(FONT_FAMILY, style, path)
                pdf.fonts[FONT_FAMILY + style].ttfont = ttLib.TTFont(
                    path, recalcTimestamp=False, recalcBBoxes=False, lazy=True
                )
        pdf.add_page()
        pdf.set_font(FONT_FAMILY, "", 12)
        pdf.cell(0, 10, "Zoë Ελένη €1.234,56")
        pdf.set_font(FONT_FAMILY, "B", 12)
        pdf.cell(0, 10, "Total")
        return bytes(pdf.output())

    assert document(use_copy=True) == document(use_copy=False)


def test_year_zip_dates_each_entry_and_stays_reproducible():
    dated = [
        ("a.pdf", b"%PDF-a", datetime(2026, 3, 14, 15, 9, 27, tzinfo=UTC)),
        ("b.pdf", b"%PDF-b", datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))),
        ("c.pdf", b"%PDF-c", None),
    ]
    archive = year_zip(dated)
    assert year_zip(dated) == archive
    with zipfile.ZipFile(io.BytesIO(archive)) as zf:
        dates = [info.date_time for info in zf.infolist()]
    # UTC wall time (ZIP has no zone) in ZIP's 2-second steps; no date: the ZIP epoch.
    assert dates == [(2026, 3, 14, 15, 9, 26), (2027, 1, 1, 4, 30, 0), (1980, 1, 1, 0, 0, 0)]
    with pytest.raises(ValueError, match="timezone"):
        year_zip([("a.pdf", b"x", datetime(2026, 1, 1))])


def test_pdf_fonts_stay_out_of_the_public_web_build():
    # Reflex copies assets/ into the browser's build: the PDF fonts (1.4 MB) belong beside the renderer.
    assets = Path(__file__).resolve().parents[2] / "assets"
    assert not [p.name for p in assets.rglob("*") if p.suffix.lower() in (".ttf", ".otf", ".woff", ".woff2")]
