"""Credit notes without a database: the tax split of partial refunds (a property over any sequence of
parts), the number format, and the credit note PDF in English and in formal Spanish."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_app.billing.credit_notes import format_credit_note_number, render_credit_note_pdf, split_credit
from portal_app.models import CreditNote
from tests.builders import FINALIZED, make_invoice
from tests.language_leaks import english_leaks, informal_spanish

DATA = ("Acme Cloud Servicios S.L.", "Acme Cloud", "Zoë Ñúñez", "ACME-CN-2026-000007", "ACME-2026-000001")


def _pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout
    return re.sub(r"[\u00a0\u2009\u202f]", " ", out.decode())


@st.composite
def invoices_and_parts(draw):
    subtotal = draw(st.integers(min_value=0, max_value=10**7))
    tax = draw(st.integers(min_value=0 if subtotal else 1, max_value=10**6))
    total = subtotal + tax
    cuts = sorted(draw(st.lists(st.integers(min_value=1, max_value=total), max_size=6, unique=True)))
    points = [c for c in cuts if c < total] + [total]
    parts = [b - a for a, b in zip([0, *points[:-1]], points, strict=True)]
    return subtotal, tax, parts


@given(invoices_and_parts())
def test_partial_credits_split_exactly_and_never_exceed_the_invoice(case):
    subtotal, tax, parts = case
    credited, sums = 0, [0, 0]
    for part in parts:
        s, t = split_credit(part, invoice_subtotal=subtotal, invoice_tax=tax, credited_before=credited)
        assert s + t == part and s >= 0 and t >= 0
        credited += part
        sums = [sums[0] + s, sums[1] + t]
        assert sums[0] <= subtotal and sums[1] <= tax
    assert sums == [subtotal, tax]  # the whole invoice credited: exactly its subtotal and tax


@pytest.mark.parametrize(
    "amount,before", [(0, 0), (-1, 0), (3510, 0), (10, 3500), (1, -1)], ids=["zero", "negative", "over", "over2", "bad"]
)
def test_split_refuses_what_the_invoice_cannot_credit(amount, before):
    with pytest.raises(ValueError):
        split_credit(amount, invoice_subtotal=2900, invoice_tax=609, credited_before=before)


def test_number_format():
    assert format_credit_note_number("ACME", 2026, 7) == "ACME-CN-2026-000007"


def _note(invoice, total: int, reason: str = "") -> CreditNote:
    subtotal, tax = split_credit(
        total, invoice_subtotal=invoice.subtotal_minor, invoice_tax=invoice.tax_minor, credited_before=0
    )
    return CreditNote(
        id=3,
        merchant_id=invoice.merchant_id,
        subscriber_id=invoice.subscriber_id,
        invoice_id=invoice.id,
        number="ACME-CN-2026-000007",
        currency=invoice.currency,
        subtotal_minor=subtotal,
        tax_minor=tax,
        total_minor=total,
        reason=reason,
        issued_at=FINALIZED + timedelta(days=5),
    )


def test_english_credit_note_names_itself_its_invoice_and_the_split():
    invoice, _lines, merchant = make_invoice(n_lines=1)  # 29.00 + 21 % = 35.09 EUR: 10.00 is 8.27 + 1.73 tax
    data = render_credit_note_pdf(_note(invoice, 1000, "Service outage"), invoice, merchant)
    text = _pdf_text(data)
    for row in (
        "Credit note",
        "ACME-CN-2026-000007",
        "Credit for invoice",
        "ACME-2026-000001",
        "Refund of invoice ACME-2026-000001",
        "Tax (21%)",
        "€8.27",
        "€1.73",
        "€10.00",
        "REFUNDED",
        "Reason: Service outage",
        "Zoë Ñúñez",
        "Acme Cloud Servicios S.L.",
    ):
        assert row in text, row
    assert data == render_credit_note_pdf(_note(invoice, 1000, "Service outage"), invoice, merchant)  # reproducible


def test_spanish_credit_note_reads_as_formal_spanish():
    invoice, _lines, merchant = make_invoice(n_lines=1, language="es")
    text = _pdf_text(render_credit_note_pdf(_note(invoice, 3509), invoice, merchant))
    assert "Nota de crédito" in text and "REEMBOLSADO" in text and "Importe reembolsado" in text
    assert english_leaks(text, allow=DATA) == []
    assert informal_spanish(text) == []


def test_a_note_that_does_not_add_up_or_belongs_elsewhere_is_not_rendered():
    invoice, _lines, merchant = make_invoice(n_lines=1)
    broken = _note(invoice, 1000)
    broken.tax_minor += 1
    with pytest.raises(ValueError):
        render_credit_note_pdf(broken, invoice, merchant)
    foreign = _note(invoice, 1000)
    foreign.invoice_id = invoice.id + 1
    with pytest.raises(ValueError):
        render_credit_note_pdf(foreign, invoice, merchant)
