"""What an email's builder reads: its context formatted for the email's locale (money, dates),
with anything resembling a card number masked; the portal link checked as a URL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date

from portal_app.billing.card_numbers import mask_card_numbers
from portal_app.billing.money import Money

EMAIL = "email"  # msgctxt of the emails' texts ("usted" in Spanish)

CARD_BRANDS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "amex": "American Express",
    "american_express": "American Express",
    "discover": "Discover",
    "diners": "Diners Club",
    "jcb": "JCB",
    "unionpay": "UnionPay",
}


class Values:
    """Context values formatted for one locale, with card numbers masked."""

    def __init__(self, context: dict[str, Any], lang: str, locale: str):
        self.context = context
        self.lang = lang
        self.locale = locale

    def has(self, key: str) -> bool:
        return self.context.get(key) not in (None, "")

    def __getitem__(self, key: str) -> str:
        value = self.context.get(key)
        if isinstance(value, Money):
            text = value.format(self.locale)
        elif isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            text = format_date(moment.astimezone(UTC).date(), "long", locale=self.locale)
        elif isinstance(value, date):
            text = format_date(value, "long", locale=self.locale)
        elif value is None:
            text = ""
        else:
            text = str(value)
        return mask_card_numbers(text)


def portal_url_of(v: Values) -> str:
    """The portal link as given (never masked: it must keep working), if it is an http(s) URL."""
    url = str(v.context["portal_url"]).strip()
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        raise ValueError("portal_url must be an http(s) URL")
    return url


def card_brand(raw: str) -> str:
    return CARD_BRANDS.get(raw.strip().lower(), raw.strip().title() or "Card")
