"""Small helpers shared by emails, PDFs and the simulated gateway: languages and card digits."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

# The languages every customer-facing text (portal, emails, PDFs) exists in.
SUPPORTED_LANGUAGES = ("en", "es")


def language_and_locale(language: str) -> tuple[str, str]:
    """("es", "es_MX") for "es-MX": texts by language, dates and amounts by the full locale;
    anything unsupported reads as English."""
    lang = (language or "en").replace("-", "_").split("_")[0].lower()
    if lang not in SUPPORTED_LANGUAGES:
        return "en", "en"
    try:
        return lang, str(Locale.parse(language.replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return lang, lang


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0
