"""Finds English in text that should be Spanish, and the informal "tú" where we speak "usted".

Used by every test that renders a view, an email or a PDF in Spanish (the portal and signup pages in
the browser, the invalid-link page, emails, PDFs): `english_leaks(text, allow=...)` returns the
English it found, `informal_spanish(text)` the "tú" forms. `allow` takes the data on the page that is
legitimately English (a plan called "Basic Monthly", a merchant name, an email address).

Two nets:
- every English msgid of the catalogue whose Spanish differs (so "Total" or "Plan" never count),
  split at its %(placeholders)s into fragments of at least two words;
- a list of everyday English UI words that are not Spanish, for text that never reached the
  catalogue at all (a hard-coded label).
"""

from __future__ import annotations

import functools
import re

from babel.messages.pofile import read_po

from portal_app.i18n.catalogue import po_path

ENGLISH_WORDS = frozenset(
    [
        "the",
        "your",
        "you",
        "and",
        "with",
        "this",
        "that",
        "are",
        "is",
        "was",
        "were",
        "will",
        "please",
        "loading",
        "download",
        "downloads",
        "update",
        "updated",
        "save",
        "saved",
        "edit",
        "cancel",
        "canceled",
        "cancelled",
        "canceling",
        "subscription",
        "subscriptions",
        "invoice",
        "invoices",
        "payment",
        "payments",
        "card",
        "cards",
        "next",
        "amount",
        "paid",
        "unpaid",
        "due",
        "failed",
        "declined",
        "expires",
        "expired",
        "ending",
        "link",
        "valid",
        "invalid",
        "send",
        "new",
        "back",
        "return",
        "close",
        "open",
        "show",
        "more",
        "less",
        "history",
        "details",
        "billing",
        "address",
        "language",
        "month",
        "year",
        "week",
        "day",
        "today",
        "hello",
        "thanks",
        "thank",
        "receipt",
        "charge",
        "charged",
        "renews",
        "renewal",
        "retry",
        "try",
        "again",
        "contact",
        "support",
        "email",
        "our",
        "we",
        "us",
        "help",
        "sign",
        "out",
        "name",
        "number",
        "security",
        "code",
        "expiry",
        "verify",
        "approve",
        "bank",
    ]
)
# Informal Spanish: pronouns and the tú forms of the verbs our texts use.
INFORMAL = re.compile(
    r"\b(tú|tu|tus|te|ti|contigo|puedes|tienes|quieres|eres|estás|has|necesitas|"
    r"actualiza|descarga|cancela|guarda|introduce|escribe|elige|revisa|intenta|vuelve|pulsa|haz|"
    r"ponte|comprueba|usa|añade|confirma|aprueba|sigue|recibirás|podrás)\b",
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]")
_WORD = re.compile(r"[A-Za-zÀ-ÿ]+")


@functools.cache
def _catalogue_fragments() -> tuple[str, ...]:
    with po_path("es").open("rb") as source:
        catalog = read_po(source, locale="es")
    fragments: set[str] = set()
    for message in catalog:
        if not message.id or not message.string or message.string == message.id:
            continue
        for fragment in _PLACEHOLDER.split(str(message.id)):
            fragment = fragment.strip(" .,:;!?()·—-")
            if len(fragment.split()) >= 2:
                fragments.add(fragment)
    return tuple(sorted(fragments, key=len, reverse=True))


def _without(text: str, allow: tuple[str, ...]) -> str:
    for data in sorted(allow, key=len, reverse=True):
        if data:
            text = text.replace(data, " ")
    text = _PLACEHOLDER.sub(" ", text)  # an unformatted template's %(name)s
    return re.sub(r"\S+@\S+", " ", text)  # email addresses are data


def english_leaks(text: str, allow: tuple[str, ...] = ()) -> list[str]:
    """The English fragments and words found in `text` (empty when it reads as Spanish)."""
    text = _without(text, allow)
    found = [fragment for fragment in _catalogue_fragments() if fragment in text]
    found += sorted({word for word in _WORD.findall(text) if word.lower() in ENGLISH_WORDS})
    return found


def informal_spanish(text: str, allow: tuple[str, ...] = ()) -> list[str]:
    """The "tú" forms found in `text` (we address customers as "usted")."""
    return sorted({match.group(0) for match in INFORMAL.finditer(_without(text, allow))})
