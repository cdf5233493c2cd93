"""The invalid-link page's facade: which merchant and case the page explains, in which language,
and the "send me a new link" request. Public (no session): every input comes from the query string
or the request headers and is validated here; nothing it answers is a secret (a merchant's public
name, logo and support address, which its signup page shows too)."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re

from sqlmodel import select

from portal_app import i18n, routes
from portal_app.billing import notify
from portal_app.billing.brand import effective_color
from portal_app.billing.facades.outage import calm_on_database_outage
from portal_app.db import session_scope
from portal_app.models import Merchant

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}$")
# Reasons that speak of one subscriber's link: shown only with its (known) merchant, never alone.
_MERCHANT_REASONS = ("revoked", "deleted")


@dataclasses.dataclass(frozen=True)
class InvalidLinkView:
    """What the page shows: reason "" is the generic case (no merchant known)."""

    reason: str
    language: str
    merchant_name: str = ""
    merchant_slug: str = ""
    support_email: str = ""
    logo_version: str = ""  # "" = no logo
    brand_color: str = ""  # "#RRGGBB" (white text on it reads at 4.5:1), "" = no merchant


def _merchant(slug: object) -> Merchant | None:
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        return None
    with session_scope() as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == slug)).first()
        if merchant is not None:
            session.expunge(merchant)
        return merchant


def _language(requested: object, merchant: Merchant | None, accept_language: object) -> str:
    """?lang when supported, else the merchant's default language, else the browser's, else English."""
    if isinstance(requested, str) and requested in i18n.LANGUAGES:
        return requested
    if merchant is not None and merchant.default_language:
        return i18n.language(merchant.default_language)
    return i18n.accept_language(accept_language if isinstance(accept_language, str) else "") or "en"


def _signed(reason: str, slug: str, signature: object) -> bool:
    expected = routes.invalid_link_signature(reason, slug)
    return isinstance(signature, str) and hmac.compare_digest(signature.encode(), expected.encode())


@calm_on_database_outage
def invalid_link_view(
    *, reason: object, merchant_slug: object, lang: object, accept_language: object, signature: object = ""
) -> InvalidLinkView:
    """The case to explain from the page's query (?reason, ?m, ?lang) and the browser's languages.
    An unknown slug or reason reads as the generic page; "ended" needs no merchant, "revoked" and
    "deleted" do (without one they are the generic page)."""
    merchant = _merchant(merchant_slug) if merchant_slug else None
    if merchant_slug and merchant is None:
        return InvalidLinkView(reason="", language=_language(lang, None, accept_language))
    known = reason if isinstance(reason, str) and reason in routes.INVALID_REASONS else ""
    if known in _MERCHANT_REASONS and merchant is None:
        known = ""
    if merchant is not None and not _signed(known, merchant.slug, signature):
        known = ""  # a crafted URL: the merchant's look, but no claim about anyone's subscription
    language = _language(lang, merchant, accept_language)
    if merchant is None:
        return InvalidLinkView(reason=known, language=language)
    return InvalidLinkView(
        reason=known,
        language=language,
        merchant_name=merchant.name,
        merchant_slug=merchant.slug,
        support_email=merchant.support_email,
        logo_version=hashlib.sha256(merchant.logo_png).hexdigest()[:12] if merchant.logo_png else "",
        brand_color=effective_color(merchant.brand_color),
    )


def logo_url(view: InvalidLinkView) -> str:
    return routes.merchant_logo_url(view.merchant_slug, view.logo_version) if view.logo_version else ""


@calm_on_database_outage
def request_new_link(*, email: str) -> None:
    """Email each active subscriber with this address their current portal link (the page answers
    the same whether or not anything was sent)."""
    with session_scope() as session:
        notify.send_new_link(session, email=email)
