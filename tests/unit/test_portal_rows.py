"""The portal's invoice rows (pages/portal/rows.py): grouped by year newest first, a visible limit,
Pay now only on open invoices; and the sentence split around its linked words."""

from __future__ import annotations

from datetime import datetime

from portal_app.billing.facades.portal import InvoiceRow
from portal_app.billing.money import Money
from portal_app.pages.portal.rows import around, invoice_rows


def _row(i: int, year: int, month: int, status: str = "paid") -> InvoiceRow:
    return InvoiceRow(i, f"FIT-{i:04d}", datetime(year, month, 1), Money(2900, "USD"), status)


def test_rows_are_newest_first_with_one_heading_per_year_and_a_limit():
    rows = [_row(i, 2025 + (i > 12), (i - 1) % 12 + 1) for i in range(1, 21)]
    shown, more = invoice_rows(rows, {2026: 8, 2025: 12}, "en", limit=10)
    assert more and len(shown) == 10
    assert [r["number"] for r in shown[:2]] == ["FIT-0020", "FIT-0019"]
    heads = [(r["year"], r["year_label"]) for r in shown if r["year_head"]]
    assert heads == [("2026", "Download all (8): the 2026 invoices"), ("2025", "Download all (12): the 2025 invoices")]
    assert all(r["year_url"] == "" for r in shown if not r["year_head"])
    everything, more = invoice_rows(rows, {2026: 8, 2025: 12}, "en", limit=100)
    assert not more and len(everything) == 20


def test_only_open_invoices_offer_pay_now():
    shown, _ = invoice_rows([_row(1, 2026, 1, "open"), _row(2, 2026, 2)], {2026: 2}, "es", limit=6)
    assert {r["number"]: r["payable"] for r in shown} == {"FIT-0001": "1", "FIT-0002": ""}
    assert shown[1]["pay_aria"] == "Pagar ahora: factura FIT-0001"


def test_around_splits_at_the_linked_words():
    assert around("Questions? Contact Acme Fitness", "Acme Fitness") == ("Questions? Contact ", "Acme Fitness", "")
    assert around("Please contact Acme to make changes.", "Acme") == ("Please contact ", "Acme", " to make changes.")
    assert around("No name here", "Acme") == ("No name here", "", "")
    assert around("Text", "") == ("Text", "", "")
