"""Customer text in English and Spanish from the gettext catalogues, plus babel formatting.

The catalogue is locale/<lang>/LC_MESSAGES/messages.po: English msgids with `%(name)s` placeholders,
and a msgctxt per audience ("portal", "email", "invoice", "decline"...), all formal ("usted") in Spanish.
`make messages-update` extracts the msgids from the code (babel.cfg) into both .po files,
`make messages-compile` builds the .mo files (catalogue.py compiles a missing one in memory).
Plain gettext and babel: importable from billing/, imports nothing of the app but money.
"""

from __future__ import annotations

from datetime import datetime

from babel import Locale, UnknownLocaleError
from babel.dates import format_date

from portal_app.billing.money import Money
from portal_app.i18n.audit import AUDIT, AUDIT_TITLES
from portal_app.i18n.card_form_text import CARD_FORM, CARD_FORM_TEXT
from portal_app.i18n.catalogue import translation
from portal_app.i18n.declines import (
    CARD_DECLINED,
    CARD_ERROR,
    CARD_ERRORS,
    CHECK_BANK,
    DECLINE,
    DECLINE_MESSAGES,
    DECLINE_REASON,
    DECLINE_REASONS,
    REASON_ALIASES,
)
from portal_app.i18n.invalid_text import INVALID, INVALID_TEXT, PAGE_TITLE, PAGE_TITLES
from portal_app.i18n.payments import DECLINE_OUTCOMES, PAYMENT, PAYMENT_OUTCOMES
from portal_app.i18n.portal_text import PORTAL, PORTAL_TEXT
from portal_app.i18n.refusals import FALLBACK as REFUSAL_FALLBACK
from portal_app.i18n.refusals import REFUSAL, match_refusal
from portal_app.i18n.signup_text import SIGNUP, SIGNUP_TEXT

# Every customer-facing text (portal, emails, PDFs) exists in these languages.
LANGUAGES = {"en": "English", "es": "Español"}
SUPPORTED_LANGUAGES = tuple(LANGUAGES)


def language(code: str | None) -> str:
    """The supported language of a stored preference: 'es-MX' and 'es_MX' -> 'es', unknown -> 'en'."""
    lang = (code or "en").replace("-", "_").split("_")[0].lower()
    return lang if lang in LANGUAGES else "en"


def babel_locale(code: str | None) -> str:
    """The locale dates and amounts are formatted in: 'es-MX' -> 'es_MX'; text follows language()."""
    lang, requested = language(code), (code or "").replace("-", "_")
    if requested.split("_")[0].lower() != lang:  # unsupported or empty: English throughout
        return lang
    try:
        return str(Locale.parse(requested))
    except (ValueError, UnknownLocaleError):
        return lang


def translate(lang: str | None, context: str, message: str, **values) -> str:
    """message (an English msgid of that msgctxt) in lang, with its %(name)s placeholders filled."""
    text = translation(language(lang)).pgettext(context, message)
    return text % values if values else text


def t(lang: str | None, key: str, **values) -> str:
    """A portal UI text by its key (PORTAL_TEXT), e.g. t("es", "hello", name="Ana")."""
    return translate(lang, PORTAL, PORTAL_TEXT[key], **values)


def all_text(lang: str | None) -> dict[str, str]:
    """Every portal UI text for one language, unformatted (the portal state holds this for static labels)."""
    texts = translation(language(lang))
    return {key: texts.pgettext(PORTAL, message) for key, message in PORTAL_TEXT.items()} | _card_form(texts)


def signup_t(lang: str | None, key: str, **values) -> str:
    """A signup page text by its key (SIGNUP_TEXT), formal register in Spanish."""
    return translate(lang, SIGNUP, SIGNUP_TEXT[key], **values)


def signup_text(lang: str | None) -> dict[str, str]:
    """Every signup page text for one language, unformatted (the page's static labels)."""
    texts = translation(language(lang))
    return {key: texts.pgettext(SIGNUP, message) for key, message in SIGNUP_TEXT.items()} | _card_form(texts)


def _card_form(texts) -> dict[str, str]:
    """The Stripe card form's fallback messages (its `messages` prop), in the page's text dict."""
    return {key: texts.pgettext(CARD_FORM, message) for key, message in CARD_FORM_TEXT.items()}


def invalid_t(lang: str | None, key: str, **values) -> str:
    """An invalid-link page text by its key (INVALID_TEXT), formal register in Spanish."""
    return translate(lang, INVALID, INVALID_TEXT[key], **values)


def invalid_text(lang: str | None) -> dict[str, str]:
    """Every invalid-link page text for one language, unformatted (the page's static labels)."""
    texts = translation(language(lang))
    return {key: texts.pgettext(INVALID, message) for key, message in INVALID_TEXT.items()}


def page_titles(page: str) -> dict[str, str]:
    """A page's document title in every language ({"en": ..., "es": ...}): the page picks its own."""
    return {lang: translate(lang, PAGE_TITLE, PAGE_TITLES[page]) for lang in LANGUAGES}


def accept_language(header: str | None) -> str:
    """The first supported language of an Accept-Language header by weight ("" when none is)."""
    ranked = []
    for position, part in enumerate((header or "")[:500].split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().replace("-", "_").split("_")[0].lower()
        if code in LANGUAGES and weight > 0:
            ranked.append((-weight, position, code))
    return min(ranked)[2] if ranked else ""


def refusal_text(message: str, lang: str | None = "en") -> str:
    """A domain refusal (a BillingError's English message) for the customer in `lang`: the one path
    every page takes to show one. Unlisted messages read as a generic refusal outside English."""
    found = match_refusal(message)
    if found is None:
        return message if language(lang) == "en" else translate(lang, REFUSAL, REFUSAL_FALLBACK)
    msgid, values = found
    return translate(lang, REFUSAL, msgid, **values)


def decline_message(code: str | None, lang: str | None = "en") -> str:
    """What the portal tells the customer for a decline code (unknown codes read as a plain bank decline)."""
    return translate(lang, DECLINE, DECLINE_MESSAGES.get(code or "", CHECK_BANK))


def payment_message(
    outcome: str, lang: str | None = "en", *, decline_code: str = "", amount: str = "", number: str = ""
) -> str:
    """The portal's answer to a charge try: outcome is a PaymentOutcome value; amount already formatted."""
    if outcome in DECLINE_OUTCOMES:
        return decline_message(decline_code, lang)
    return translate(lang, PAYMENT, PAYMENT_OUTCOMES[outcome], amount=amount, number=number)


def decline_reason(code: str | None, lang: str | None = "en") -> str:
    """Why a payment failed, as a payment_failed email says it (generic for unknown codes)."""
    code = REASON_ALIASES.get(code or "", code or "")
    return translate(lang, DECLINE_REASON, DECLINE_REASONS.get(code, DECLINE_REASONS[""]))


def card_error(code: str | None, lang: str | None = "en") -> str:
    """The gateway's message for a declined card, worded like Stripe's (unknown codes: 'card was declined')."""
    return translate(lang, CARD_ERROR, CARD_ERRORS.get(code or "", CARD_DECLINED))


def audit_title(kind: str, lang: str | None = "en") -> str:
    """The timeline title of an audit event kind; an unknown kind reads as its words ('plan_changed' -> 'Plan changed')."""
    if kind not in AUDIT_TITLES:
        return kind.replace("_", " ").capitalize()
    return translate(lang, AUDIT, AUDIT_TITLES[kind])


def fmt_date(value: datetime | None, lang: str | None) -> str:
    return format_date(value, format="long", locale=language(lang)) if value else ""


def fmt_short_date(value: datetime | None, lang: str | None) -> str:
    return format_date(value, format="medium", locale=language(lang)) if value else ""


def fmt_money(value: Money | None, lang: str | None) -> str:
    return value.format(language(lang)) if value is not None else ""
