"""What a corporate buyer files: the seller (legal name, address, tax id, support email) and the buyer
(name, address, email, tax id) from the invoice's snapshot, a tax line even at 0 %, the brand colour;
and a Spanish invoice or receipt with no English and no "tú" in it (dates of line items included)."""

from __future__ import annotations

import re
import subprocess
import zlib

import pytest

from portal_app.billing import brand
from portal_app.billing.documents.invoice_view import accent_rgb, invoice_view, line_description
from portal_app.billing.documents.renderer import render_invoice_pdf
from portal_app.billing.invoices import period_description
from tests.builders import FINALIZED, make_invoice, png_logo
from tests.language_leaks import english_leaks, informal_spanish

# Data on the sample invoice that is not text of ours (names, plan lines, addresses).
DATA = ("Acme Cloud Servicios S.L.", "Acme Cloud", "Pro plan — seat", "Pro", "Zoë Ñúñez")


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return re.sub(r"[\u00a0\u2009\u202f]", " ", out.decode())


def period_lines(invoice, lines):
    lines[0].description = period_description("Pro", invoice.period_start, invoice.period_end)
    return lines


def test_english_invoice_names_seller_and_buyer_for_the_books():
    invoice, lines, merchant = make_invoice(status="open")
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    for row in (
        "FROM",
        "Acme Cloud Servicios S.L.",
        "Paseo de la Castellana 100",
        "28046 Madrid",
        "Tax ID: ESB87654321",
        "Email: help@acme.example",
        "BILL TO",
        "Zoë Ñúñez",
        "Calle Mayor 1",
        "Email: zoe@example.com",
        "Tax ID: ESB12345678",
    ):
        assert row in text, row
    # The seller block comes before the buyer block.
    assert text.index("Acme Cloud Servicios S.L.") < text.index("BILL TO") < text.index("Calle Mayor 1")


def test_the_seller_is_read_from_the_snapshot_not_the_merchant_of_today():
    invoice, lines, merchant = make_invoice(status="open")
    merchant.legal_name, merchant.address, merchant.tax_id = "Other Owner Ltd", "Elsewhere 9", "GB000"
    merchant.support_email, merchant.name = "new@other.example", "Renamed"
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert "Acme Cloud Servicios S.L." in text and "ESB87654321" in text and "help@acme.example" in text
    for today in ("Other Owner", "Elsewhere 9", "GB000", "new@other.example", "Renamed"):
        assert today not in text, today


def test_an_invoice_from_before_the_seller_snapshot_renders_with_the_name():
    invoice, lines, merchant = make_invoice(status="open", seller_snapshot=False)
    view = invoice_view(invoice, lines, merchant)
    assert view.seller == ["Acme Cloud"]
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert "FROM" in text and "Acme Cloud" in text and "ESB87654321" not in text


@pytest.mark.parametrize(
    ("language", "label", "amount"), [("en", "Tax (0%)", "€0.00"), ("es", "Impuestos (0 %)", "0,00 €")]
)
def test_a_tax_line_is_printed_even_without_tax(language, label, amount):
    invoice, lines, merchant = make_invoice(status="open", tax_rate_bp=0, language=language)
    text = pdf_text(render_invoice_pdf(invoice, lines, merchant))
    assert re.search(re.escape(label) + r" +" + re.escape(amount) + r"\n", text), text


def test_line_item_periods_are_printed_in_the_invoices_language():
    invoice, lines, merchant = make_invoice(status="open", language="es")
    assert period_description("Pro", invoice.period_start, invoice.period_end) == "Pro (2026-01-31 – 2026-02-28)"
    text = pdf_text(render_invoice_pdf(invoice, period_lines(invoice, lines), merchant))
    assert "2026-01-31" not in text and "2026-02-28" not in text
    assert re.search(r"Pro \(31 ene\s*–\s*28 feb 2026\)", text), text
    invoice.language = "en"
    text = pdf_text(render_invoice_pdf(invoice, period_lines(invoice, lines), merchant))
    assert re.search(r"Pro \(Jan 31\s*–\s*Feb 28, 2026\)", text), text
    assert line_description("Setup (not a period)", "es") == "Setup (not a period)"
    assert line_description("Pro (2026-13-40 – 2026-02-28)", "es") == "Pro (2026-13-40 – 2026-02-28)"


@pytest.mark.parametrize("status", ["paid", "open", "void", "uncollectible"])
@pytest.mark.parametrize("tax_rate_bp", [0, 2100])
def test_spanish_documents_have_no_english_and_speak_usted(status, tax_rate_bp):
    invoice, lines, merchant = make_invoice(status=status, language="es", tax_rate_bp=tax_rate_bp, logo=png_logo())
    text = pdf_text(render_invoice_pdf(invoice, period_lines(invoice, lines), merchant))
    assert english_leaks(text, allow=DATA) == []
    assert informal_spanish(text, allow=DATA) == []
    assert ("Recibo" if status == "paid" else "Factura") in text
    assert "EMISOR" in text and "FACTURAR A" in text and "Impuestos (" in text


def test_the_english_document_reads_english():
    invoice, lines, merchant = make_invoice(status="paid", language="en")
    text = pdf_text(render_invoice_pdf(invoice, period_lines(invoice, lines), merchant))
    assert english_leaks(text, allow=DATA)  # the detector sees English here: it would see it in Spanish
    for phrase in ("Receipt", "PAID", "FROM", "BILL TO", "Paid on January 31, 2026. Thank you!", "Amount paid"):
        assert phrase in text, phrase


def test_a_receipt_agrees_with_receipt_and_an_invoice_with_invoice_in_spanish():
    receipt = pdf_text(render_invoice_pdf(*make_invoice(status="paid", language="es")))
    assert "Recibo" in receipt and "PAGADO" in receipt and "PAGADA" not in receipt
    assert "Pagada" not in receipt and "Pago recibido el 31 de enero de 2026" in receipt
    assert "Fecha de pago" in receipt
    void = pdf_text(render_invoice_pdf(*make_invoice(status="void", language="es")))
    assert "Factura" in void and "ANULADA" in void


def _fill_colors(data: bytes) -> set[tuple[int, int, int]]:
    """The non-stroking RGB colours set in the PDF's page streams ("r g b rg"), as 0-255 values."""
    colors = set()
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for m in re.findall(rb"([\d.]+) ([\d.]+) ([\d.]+) rg", content):
            colors.add(tuple(round(float(v) * 255) for v in m))
    return colors


def test_the_brand_colour_paints_the_accents():
    purple = "#6E3FC3"
    assert accent_rgb(purple) == (0x6E, 0x3F, 0xC3)
    assert accent_rgb("") == brand.rgb(brand.DEFAULT_COLOR) and accent_rgb("nonsense") == accent_rgb("")
    branded = render_invoice_pdf(*make_invoice(brand_color=purple))
    house = render_invoice_pdf(*make_invoice())
    assert brand.rgb(purple) in _fill_colors(branded)
    assert brand.rgb(purple) not in _fill_colors(house)
    assert brand.rgb(brand.DEFAULT_COLOR) in _fill_colors(house)


def test_same_snapshot_same_bytes_with_the_seller_block():
    args = make_invoice(status="open", logo=png_logo())
    assert render_invoice_pdf(*args) == render_invoice_pdf(*args)
    assert b"D:20260131093000Z" in render_invoice_pdf(*args) and FINALIZED.year == 2026
