"""Customer email content: per kind, its text from the i18n catalogue, in plain text and inline-styled HTML.

Context values may be Money (formatted in the email's locale), date/datetime (long date in the
email's locale) or already formatted strings. Templates are plain text; the HTML part escapes
every paragraph, so user data (names, reasons) can never become markup. Card numbers never
appear: only brand and last 4 digits, and anything resembling a full card number is masked.
"""

from __future__ import annotations

import dataclasses
import html
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date, format_skeleton

from portal_app.billing.card_numbers import mask_card_numbers
from portal_app.billing.money import Money
from portal_app.i18n import babel_locale, decline_reason, translate
from portal_app.i18n import language as supported_language

# Keys each kind needs beyond merchant_name (send_email fills merchant_name and support_email from
# the merchant). Optional everywhere: subscriber_name (greeting), support_email (footer).
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {
    "invitation": ("portal_url",),
    "receipt": ("amount", "invoice_number"),
    "payment_failed": ("amount", "invoice_number", "portal_url"),
    "card_expiring": ("brand", "last4", "portal_url"),
    "cancellation": ("access_ends", "portal_url"),
    "new_link": ("portal_url",),
}
# Optional keys per kind, read when present.
OPTIONAL_CONTEXT: dict[str, tuple[str, ...]] = {
    "invitation": ("plan_name", "add_card"),  # add_card: registered without a card (Stripe, REST API)
    "receipt": ("portal_url",),
    "payment_failed": ("decline_code", "reason", "next_retry_at", "final"),
    "card_expiring": ("exp", "exp_month", "exp_year"),  # exp "MM/YYYY", or month and year
    "cancellation": ("plan_name", "immediate"),
    "new_link": (),
}
EMAIL_KINDS = tuple(REQUIRED_CONTEXT)

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

EMAIL = "email"  # msgctxt of the emails' texts ("usted" in Spanish)


@dataclasses.dataclass
class _Email:
    """One email's content as plain text pieces, before the text and HTML layouts."""

    subject: str
    paragraphs: list[str]
    facts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    button: str = ""
    url: str = ""


class _Values:
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


def _portal_url(v: _Values) -> str:
    """The portal link as given (never masked: it must keep working), if it is an http(s) URL."""
    url = str(v.context["portal_url"]).strip()
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        raise ValueError("portal_url must be an http(s) URL")
    return url


def _brand(raw: str) -> str:
    return CARD_BRANDS.get(raw.strip().lower(), raw.strip().title() or "Card")


# --------------------------------------------------------------------------- builders


def _invitation(v: _Values) -> _Email:
    lang, merchant = v.lang, v["merchant_name"]
    paragraphs = [
        translate(lang, "email", "%(merchant)s has set up a billing portal for you.", merchant=merchant),
        translate(
            lang,
            "email",
            "There you can see your plan, update your card, download invoices and manage your subscription. "
            "Keep this link private: it opens your account.",
        ),
    ]
    if v.has("plan_name"):
        paragraphs.insert(1, translate(lang, "email", "Your plan: %(plan)s.", plan=v["plan_name"]))
    if v.context.get("add_card") is True:
        paragraphs.insert(
            -1,
            translate(
                lang,
                "email",
                "To start your subscription, add your card in the portal: your first invoice is paid as soon as you do.",
            ),
        )
    return _Email(
        subject=translate(lang, "email", "Your billing portal at %(merchant)s", merchant=merchant),
        paragraphs=paragraphs,
        button=translate(lang, "email", "Open your billing portal"),
        url=_portal_url(v),
    )


def _receipt(v: _Values) -> _Email:
    lang, amount, number = v.lang, v["amount"], v["invoice_number"]
    has_link = v.has("portal_url")
    paragraphs = [
        translate(
            lang,
            "email",
            "Thank you! We received your payment of %(amount)s for invoice %(number)s.",
            amount=amount,
            number=number,
        )
    ]
    if has_link:
        paragraphs.append(translate(lang, "email", "The receipt (PDF) is available in your billing portal."))
    return _Email(
        subject=translate(
            lang,
            "email",
            "Receipt from %(merchant)s: %(amount)s for invoice %(number)s",
            merchant=v["merchant_name"],
            amount=amount,
            number=number,
        ),
        paragraphs=paragraphs,
        facts=[(translate(lang, "email", "Invoice"), number), (translate(lang, "email", "Amount"), amount)],
        button=translate(lang, "email", "View your invoices") if has_link else "",
        url=_portal_url(v) if has_link else "",
    )


def _payment_failed(v: _Values) -> _Email:
    lang, amount, number = v.lang, v["amount"], v["invoice_number"]
    if v.has("decline_code") or not v.has("reason"):
        reason = decline_reason(v["decline_code"], lang)
    else:
        reason = v["reason"]
    if v.context.get("final"):
        next_step = translate(
            lang,
            "email",
            "This was our last automatic attempt. Please update your card to pay the invoice and keep "
            "your subscription.",
        )
    elif v.has("next_retry_at"):
        next_step = translate(
            lang,
            "email",
            "We will try again on %(date)s. To avoid an interruption, you can update your card now; "
            "we retry right away when you do.",
            date=v["next_retry_at"],
        )
    else:
        next_step = translate(
            lang, "email", "Please update your card in your billing portal; we retry right away when you do."
        )
    intro = translate(
        lang, "email", "We could not collect %(amount)s for invoice %(number)s.", amount=amount, number=number
    )
    return _Email(
        subject=translate(
            lang, "email", "%(merchant)s: your payment of %(amount)s failed", merchant=v["merchant_name"], amount=amount
        ),
        paragraphs=[intro, reason, next_step],
        facts=[(translate(lang, "email", "Invoice"), number), (translate(lang, "email", "Amount"), amount)],
        button=translate(lang, "email", "Update your card"),
        url=_portal_url(v),
    )


def _card_expiring(v: _Values) -> _Email:
    lang, last4 = v.lang, v["last4"]
    if not re.fullmatch(r"\d{4}", last4):
        raise ValueError("last4 must be exactly the last 4 digits of the card")
    if v.has("exp_month") and v.has("exp_year"):
        month, year = int(v["exp_month"]), int(v["exp_year"])
    elif re.fullmatch(r"\d{1,2}/\d{4}", v["exp"]):
        month, year = (int(part) for part in v["exp"].split("/"))
    else:
        raise KeyError("card_expiring needs 'exp' (MM/YYYY) or 'exp_month' and 'exp_year'")
    expiry = f"{month:02d}/{year}"
    month_name = format_skeleton("yMMMM", date(year, month, 1), locale=v.locale)  # "March 2026"
    brand = _brand(v["brand"])
    return _Email(
        subject=translate(
            lang,
            "email",
            "%(merchant)s: your %(brand)s card ending in %(last4)s expires soon",
            merchant=v["merchant_name"],
            brand=brand,
            last4=last4,
        ),
        paragraphs=[
            translate(
                lang,
                "email",
                "Your %(brand)s card ending in %(last4)s expires at the end of %(exp)s.",
                brand=brand,
                last4=last4,
                exp=month_name,
            ),
            translate(
                lang,
                "email",
                "To keep your subscription running without interruption, please add a new card in your "
                "billing portal before then.",
            ),
        ],
        facts=[
            (translate(lang, "email", "Card"), f"{brand} •••• {last4}"),
            (translate(lang, "email", "Expires"), expiry),
        ],
        button=translate(lang, "email", "Update your card"),
        url=_portal_url(v),
    )


def _cancellation(v: _Values) -> _Email:
    lang, ends = v.lang, v["access_ends"]
    if v.has("plan_name"):
        intro = translate(lang, "email", "Your %(plan)s subscription has been canceled.", plan=v["plan_name"])
    else:
        intro = translate(lang, "email", "Your subscription has been canceled.")
    # Undo is possible only while access continues, i.e. for a cancellation at period end.
    if v.context.get("immediate"):
        next_step = translate(
            lang,
            "email",
            "Your access ended on %(date)s. Your invoices stay available in your billing portal.",
            date=ends,
        )
    else:
        next_step = translate(
            lang,
            "email",
            "You keep access until %(date)s. Changed your mind? You can undo the cancellation in your "
            "billing portal until then.",
            date=ends,
        )
    facts = [(translate(lang, "email", "Plan"), v["plan_name"])] if v.has("plan_name") else []
    return _Email(
        subject=translate(
            lang, "email", "%(merchant)s: your subscription has been canceled", merchant=v["merchant_name"]
        ),
        paragraphs=[intro, next_step],
        facts=facts + [(translate(lang, "email", "Access until"), ends)],
        button=translate(lang, "email", "Open your billing portal"),
        url=_portal_url(v),
    )


def _new_link(v: _Values) -> _Email:
    lang, merchant = v.lang, v["merchant_name"]
    return _Email(
        subject=translate(lang, "email", "%(merchant)s: your new billing portal link", merchant=merchant),
        paragraphs=[
            translate(
                lang, "email", "You asked for a new link to your billing portal at %(merchant)s.", merchant=merchant
            ),
            translate(
                lang,
                "email",
                "Use the button below to open it. If you did not ask for this, you can ignore this email.",
            ),
        ],
        button=translate(lang, "email", "Open your billing portal"),
        url=_portal_url(v),
    )


_BUILDERS: dict[str, Callable[[_Values], _Email]] = {
    "invitation": _invitation,
    "receipt": _receipt,
    "payment_failed": _payment_failed,
    "card_expiring": _card_expiring,
    "cancellation": _cancellation,
    "new_link": _new_link,
}


# --------------------------------------------------------------------------- layouts


def _text_layout(email: _Email, greeting: str, signoff: str, footer: list[str]) -> str:
    parts = [greeting, *email.paragraphs]
    if email.facts:
        parts.append("\n".join(f"{label}: {value}" for label, value in email.facts))
    if email.url:
        parts.append(f"{email.button}:\n{email.url}")
    parts.append(signoff)
    parts.append("--\n" + "\n".join(footer))
    return "\n\n".join(parts) + "\n"


_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"


def _html_layout(email: _Email, greeting: str, signoff: str, footer: list[str], merchant_name: str, lang: str) -> str:
    """Simple inline-styled HTML (mail clients ignore style sheets); every text is escaped."""
    e = html.escape
    p_style = f"margin:0 0 16px;{_FONT}font-size:15px;line-height:1.5;color:#18181b;"
    rows = "".join(
        f'<tr><td style="{_FONT}padding:4px 16px 4px 0;color:#71717a;font-size:14px;">{e(label)}</td>'
        f'<td style="{_FONT}padding:4px 0;color:#18181b;font-size:14px;font-weight:600;">'
        f"{e(value)}</td></tr>"
        for label, value in email.facts
    )
    facts = (
        f'<table role="presentation" style="border-collapse:collapse;margin:0 0 20px;">{rows}</table>' if rows else ""
    )
    button = ""
    if email.url:
        url = e(email.url, quote=True)
        link_hint = translate(lang, "email", "If the button does not work, copy this link into your browser:")
        button = (
            f'<p style="margin:8px 0 24px;"><a href="{url}" style="{_FONT}display:inline-block;'
            "background:#18181b;color:#ffffff;text-decoration:none;font-size:15px;font-weight:600;"
            f'padding:12px 20px;border-radius:6px;">{e(email.button)}</a></p>'
            f'<p style="{p_style}font-size:13px;color:#71717a;">{e(link_hint)}<br>'
            f'<a href="{url}" style="color:#2563eb;word-break:break-all;">{e(email.url)}</a></p>'
        )
    paragraphs = "".join(f'<p style="{p_style}">{e(text)}</p>' for text in email.paragraphs)
    footer_html = "<br>".join(e(line) for line in footer)
    return (
        f'<!DOCTYPE html>\n<html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(email.subject)}</title></head>"
        '<body style="margin:0;padding:0;background:#f4f4f5;">'
        '<div style="max-width:560px;margin:0 auto;padding:32px 16px;">'
        '<div style="background:#ffffff;border-radius:8px;padding:32px;">'
        f'<p style="{_FONT}margin:0 0 24px;font-size:18px;font-weight:700;color:#18181b;">'
        f"{e(merchant_name)}</p>"
        f'<p style="{p_style}">{e(greeting)}</p>{paragraphs}{facts}{button}'
        f'<p style="{p_style}">{e(signoff)}</p>'
        "</div>"
        f'<p style="{_FONT}margin:16px 0 0;font-size:12px;line-height:1.5;color:#71717a;'
        f'text-align:center;">{footer_html}</p>'
        "</div></body></html>\n"
    )


def render_email(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for one email kind in "en" or "es" (others fall back to "en").

    context needs merchant_name plus REQUIRED_CONTEXT[kind]; KeyError names a missing key.
    """
    if kind not in _BUILDERS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(EMAIL_KINDS)}")
    missing = [k for k in ("merchant_name", *REQUIRED_CONTEXT[kind]) if context.get(k) in (None, "")]
    if missing:
        raise KeyError(f"{kind} email needs context keys: {', '.join(missing)}")
    lang = supported_language(language)
    values = _Values(context, lang, babel_locale(language))
    email = _BUILDERS[kind](values)
    # Subjects are headers: one line (no CR/LF from user data), within the column size.
    email.subject = re.sub(r"[\r\n\t\v\f]+", " ", email.subject).strip()[:300]

    merchant_name = values["merchant_name"]
    if values.has("subscriber_name"):
        greeting = translate(lang, "email", "Hi %(name)s,", name=values["subscriber_name"])
    else:
        greeting = translate(lang, "email", "Hello,")
    signoff = translate(lang, "email", "— %(merchant)s", merchant=merchant_name)
    footer = [
        translate(
            lang,
            "email",
            "You receive this email because you have a subscription with %(merchant)s.",
            merchant=merchant_name,
        )
    ]
    if values.has("support_email"):
        footer.insert(0, translate(lang, "email", "Questions? Write to %(email)s.", email=values["support_email"]))
    text = _text_layout(email, greeting, signoff, footer)
    body_html = _html_layout(email, greeting, signoff, footer, merchant_name, lang)
    return email.subject, text, body_html
