"""Discount and credit lines of renewal invoices read in the invoice's language on the PDF."""

from __future__ import annotations

import pytest

from portal_app.billing.documents.invoice_view import line_description
from portal_app.billing.money import Money
from portal_app.billing.renewal_terms import CREDIT_LINE, discount_line

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("stored", "locale", "shown"),
    [
        (discount_line("percent", 15, Money(2900, "USD")).description, "es", "Descuento (15\xa0%)"),
        (discount_line("percent", 15, Money(2900, "USD")).description, "en", "Discount (15% off)"),
        (discount_line("amount", 500, Money(2900, "USD")).description, "es", "Descuento"),
        (CREDIT_LINE, "es", "Crédito aplicado"),
        (CREDIT_LINE, "en", "Credit applied"),
        ("Setup fee", "es", "Setup fee"),
        ("Discount (1000% off)", "es", "Discount (1000% off)"),
    ],
)
def test_adjustment_lines_in_the_invoices_language(stored, locale, shown):
    assert line_description(stored, locale) == shown
