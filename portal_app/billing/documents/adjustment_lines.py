"""The invoice lines a renewal adds beside the plan's period (renewal_terms.py): a retention discount
("Discount (15% off)", "Discount") and credit ("Credit applied"), read back from their stored English
text into the invoice's language ("Descuento (15 %)", "Descuento", "Crédito aplicado")."""

from __future__ import annotations

import re
from decimal import Decimal

from babel.numbers import format_percent

from portal_app.billing.renewal_terms import CREDIT_LINE, DISCOUNT_AMOUNT_LINE, DISCOUNT_PERCENT_LINE
from portal_app.i18n import language, translate
from portal_app.i18n.catalogue import NC_

INVOICE = "invoice"  # msgctxt of the PDFs' texts (documents/invoice_view.py)
_PERCENT_LINE = re.compile(
    "^" + re.escape(DISCOUNT_PERCENT_LINE).replace(re.escape("{value}"), r"(?P<value>[0-9]{1,3})") + "$"
)
_FIXED = {
    DISCOUNT_AMOUNT_LINE: NC_("invoice", "Discount"),
    CREDIT_LINE: NC_("invoice", "Credit applied"),
}
_PERCENT = NC_("invoice", "Discount (%(percent)s off)")


def adjustment_description(description: str, locale: str) -> str | None:
    """The line's text in the invoice's language, or None when it is not a discount or credit line."""
    lang = language(locale)
    if description in _FIXED:
        return translate(lang, INVOICE, _FIXED[description])
    match = _PERCENT_LINE.match(description)
    if match is None:
        return None
    percent = format_percent(Decimal(match["value"]) / 100, locale=locale)
    return translate(lang, INVOICE, _PERCENT, percent=percent)
