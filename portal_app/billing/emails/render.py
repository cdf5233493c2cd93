"""Customer email content: templates (English, Spanish), plain text and inline-styled HTML layouts.

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

from portal_app.billing.money import Money
from portal_app.billing.text import language_and_locale, luhn_valid

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
    "invitation": ("plan_name",),
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

# Why a payment failed, by Stripe decline code, in words a customer understands. Lost, stolen and
# fraud codes deliberately read like any unusable card: the email must not accuse anyone.
DECLINE_REASONS: dict[str, dict[str, str]] = {
    "en": {
        "": "Your bank declined the payment.",
        "insufficient_funds": "Your bank declined the payment for insufficient funds.",
        "expired_card": "Your card has expired.",
        "incorrect_cvc": "Your card's security code was rejected.",
        "invalid_cvc": "Your card's security code was rejected.",
        "incorrect_number": "The card number was rejected.",
        "invalid_expiry": "The card's expiry date is invalid.",
        "unusable": "This card can no longer be used.",
        "authentication_required": "Your bank asks you to confirm this payment.",
        "authentication_failed": "Your bank could not confirm the payment.",
        "resource_missing": "Your saved card is no longer available.",
        "no_payment_method": "There is no card on file.",
        "processing_error": "The payment could not be processed.",
        "card_velocity_exceeded": "Your card has reached its spending limit.",
        "card_not_supported": "Your card does not support this payment.",
        "test_mode_live_card": "A real card was used in test mode.",
    },
    "es": {
        "": "Su banco rechazó el pago.",
        "insufficient_funds": "Su banco rechazó el pago por fondos insuficientes.",
        "expired_card": "Su tarjeta ha caducado.",
        "incorrect_cvc": "Se rechazó el código de seguridad de su tarjeta.",
        "invalid_cvc": "Se rechazó el código de seguridad de su tarjeta.",
        "incorrect_number": "Se rechazó el número de la tarjeta.",
        "invalid_expiry": "La fecha de caducidad de la tarjeta no es válida.",
        "unusable": "Esta tarjeta ya no se puede usar.",
        "authentication_required": "Su banco le pide que confirme este pago.",
        "authentication_failed": "Su banco no pudo confirmar el pago.",
        "resource_missing": "Su tarjeta guardada ya no está disponible.",
        "no_payment_method": "No hay ninguna tarjeta registrada.",
        "processing_error": "No se pudo procesar el pago.",
        "card_velocity_exceeded": "Su tarjeta ha alcanzado su límite de gasto.",
        "card_not_supported": "Su tarjeta no admite este pago.",
        "test_mode_live_card": "Se usó una tarjeta real en modo de prueba.",
    },
}
_DECLINE_ALIASES = {
    "lost_card": "unusable",
    "stolen_card": "unusable",
    "pickup_card": "unusable",
    "restricted_card": "unusable",
    "fraudulent": "unusable",
    "do_not_try_again": "unusable",
    "withdrawal_count_limit_exceeded": "card_velocity_exceeded",
    "currency_not_supported": "card_not_supported",
}

# Shared phrases per language.
COMMON: dict[str, dict[str, str]] = {
    "en": {
        "greeting_name": "Hi {name},",
        "greeting": "Hello,",
        "signoff": "— {merchant}",
        "footer_support": "Questions? Write to {email}.",
        "footer": "You receive this email because you have a subscription with {merchant}.",
        "link_hint": "If the button does not work, copy this link into your browser:",
        "amount": "Amount",
        "invoice": "Invoice",
        "card": "Card",
        "expires": "Expires",
        "access_until": "Access until",
        "plan": "Plan",
    },
    "es": {
        "greeting_name": "Hola, {name}:",
        "greeting": "Hola:",
        "signoff": "— {merchant}",
        "footer_support": "¿Preguntas? Escríbanos a {email}.",
        "footer": "Recibe este correo porque tiene una suscripción con {merchant}.",
        "link_hint": "Si el botón no funciona, copie este enlace en su navegador:",
        "amount": "Importe",
        "invoice": "Factura",
        "card": "Tarjeta",
        "expires": "Caduca",
        "access_until": "Acceso hasta",
        "plan": "Plan",
    },
}

# Per kind and language: the subject and the sentences the builders below assemble.
TEXTS: dict[str, dict[str, dict[str, str]]] = {
    "invitation": {
        "en": {
            "subject": "Your billing portal at {merchant}",
            "intro": "{merchant} has set up a billing portal for you.",
            "body": "There you can see your plan, update your card, download invoices and "
            "manage your subscription. Keep this link private: it opens your account.",
            "plan": "Your plan: {plan}.",
            "button": "Open your billing portal",
        },
        "es": {
            "subject": "Su portal de facturación de {merchant}",
            "intro": "{merchant} ha creado un portal de facturación para usted.",
            "body": "Allí puede ver su plan, actualizar su tarjeta, descargar facturas y "
            "gestionar su suscripción. No comparta este enlace: abre su cuenta.",
            "plan": "Su plan: {plan}.",
            "button": "Abrir el portal de facturación",
        },
    },
    "receipt": {
        "en": {
            "subject": "Receipt from {merchant}: {amount} for invoice {number}",
            "intro": "Thank you! We received your payment of {amount} for invoice {number}.",
            "body": "The receipt (PDF) is available in your billing portal.",
            "button": "View your invoices",
        },
        "es": {
            "subject": "Recibo de {merchant}: {amount} por la factura {number}",
            "intro": "¡Gracias! Hemos recibido su pago de {amount} por la factura {number}.",
            "body": "El recibo (PDF) está disponible en su portal de facturación.",
            "button": "Ver sus facturas",
        },
    },
    "payment_failed": {
        "en": {
            "subject": "{merchant}: your payment of {amount} failed",
            "intro": "We could not collect {amount} for invoice {number}.",
            "retry": "We will try again on {date}. To avoid an interruption, you can update "
            "your card now; we retry right away when you do.",
            "final": "This was our last automatic attempt. Please update your card to pay the "
            "invoice and keep your subscription.",
            "update": "Please update your card in your billing portal; we retry right away when you do.",
            "button": "Update your card",
        },
        "es": {
            "subject": "{merchant}: no pudimos cobrar su pago de {amount}",
            "intro": "No pudimos cobrar {amount} de la factura {number}.",
            "retry": "Lo volveremos a intentar el {date}. Para evitar una interrupción, puede "
            "actualizar su tarjeta ahora; en cuanto lo haga, reintentamos el cobro.",
            "final": "Este fue nuestro último intento automático. Actualice su tarjeta para "
            "pagar la factura y mantener su suscripción.",
            "update": "Actualice su tarjeta en su portal de facturación; en cuanto lo haga, reintentamos el cobro.",
            "button": "Actualizar su tarjeta",
        },
    },
    "card_expiring": {
        "en": {
            "subject": "{merchant}: your {brand} card ending in {last4} expires soon",
            "intro": "Your {brand} card ending in {last4} expires at the end of {exp}.",
            "body": "To keep your subscription running without interruption, please add a new "
            "card in your billing portal before then.",
            "button": "Update your card",
        },
        "es": {
            "subject": "{merchant}: su tarjeta {brand} terminada en {last4} caduca pronto",
            "intro": "Su tarjeta {brand} terminada en {last4} caduca a finales de {exp}.",
            "body": "Para que su suscripción continúe sin interrupciones, añada una nueva "
            "tarjeta en su portal de facturación antes de esa fecha.",
            "button": "Actualizar su tarjeta",
        },
    },
    "cancellation": {
        "en": {
            "subject": "{merchant}: your subscription has been canceled",
            "intro_plan": "Your {plan} subscription has been canceled.",
            "intro": "Your subscription has been canceled.",
            "until": "You keep access until {date}. Changed your mind? You can undo the "
            "cancellation in your billing portal until then.",
            "ended": "Your access ended on {date}. Your invoices stay available in your billing portal.",
            "button": "Open your billing portal",
        },
        "es": {
            "subject": "{merchant}: su suscripción ha sido cancelada",
            "intro_plan": "Su suscripción a {plan} ha sido cancelada.",
            "intro": "Su suscripción ha sido cancelada.",
            "until": "Mantiene el acceso hasta el {date}. ¿Ha cambiado de opinión? Puede "
            "deshacer la cancelación en su portal de facturación hasta esa fecha.",
            "ended": "Su acceso terminó el {date}. Sus facturas siguen disponibles en su portal de facturación.",
            "button": "Abrir el portal de facturación",
        },
    },
    "new_link": {
        "en": {
            "subject": "{merchant}: your new billing portal link",
            "intro": "You asked for a new link to your billing portal at {merchant}.",
            "body": "Use the button below to open it. If you did not ask for this, you can ignore this email.",
            "button": "Open your billing portal",
        },
        "es": {
            "subject": "{merchant}: su nuevo enlace al portal de facturación",
            "intro": "Ha solicitado un nuevo enlace a su portal de facturación de {merchant}.",
            "body": "Use el botón de abajo para abrirlo. Si no lo ha solicitado, puede ignorar este correo.",
            "button": "Abrir el portal de facturación",
        },
    },
}


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


# 13 to 19 digits, optionally grouped by spaces or dashes: the shape of a card number.
_CARD_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def mask_card_numbers(text: str) -> str:
    """Replace anything that looks like a full card number with '•••• 1234'."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return f"•••• {digits[-4:]}" if luhn_valid(digits) else match.group()

    return _CARD_NUMBER.sub(mask, text)


def _portal_url(v: _Values) -> str:
    """The portal link as given (never masked: it must keep working), if it is an http(s) URL."""
    url = str(v.context["portal_url"]).strip()
    if not url.startswith(("https://", "http://")) or any(ch.isspace() for ch in url):
        raise ValueError("portal_url must be an http(s) URL")
    return url


def _brand(raw: str) -> str:
    return CARD_BRANDS.get(raw.strip().lower(), raw.strip().title() or "Card")


def decline_reason(decline_code: str, language: str = "en") -> str:
    """A failed payment's reason in the customer's words (generic for unknown codes)."""
    lang, _ = language_and_locale(language)
    reasons = DECLINE_REASONS[lang]
    code = _DECLINE_ALIASES.get(decline_code or "", decline_code or "")
    return reasons.get(code, reasons[""])


# --------------------------------------------------------------------------- builders


def _invitation(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    paragraphs = [t["intro"].format(merchant=v["merchant_name"]), t["body"]]
    if v.has("plan_name"):
        paragraphs.insert(1, t["plan"].format(plan=v["plan_name"]))
    return _Email(
        subject=t["subject"].format(merchant=v["merchant_name"]),
        paragraphs=paragraphs,
        button=t["button"],
        url=_portal_url(v),
    )


def _receipt(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    amount, number = v["amount"], v["invoice_number"]
    has_link = v.has("portal_url")
    return _Email(
        subject=t["subject"].format(merchant=v["merchant_name"], amount=amount, number=number),
        paragraphs=[t["intro"].format(amount=amount, number=number)] + ([t["body"]] if has_link else []),
        facts=[(c["invoice"], number), (c["amount"], amount)],
        button=t["button"] if has_link else "",
        url=_portal_url(v) if has_link else "",
    )


def _payment_failed(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    amount, number = v["amount"], v["invoice_number"]
    if v.has("decline_code") or not v.has("reason"):
        reason = decline_reason(v["decline_code"], v.lang)
    else:
        reason = v["reason"]
    if v.context.get("final"):
        next_step = t["final"]
    elif v.has("next_retry_at"):
        next_step = t["retry"].format(date=v["next_retry_at"])
    else:
        next_step = t["update"]
    return _Email(
        subject=t["subject"].format(merchant=v["merchant_name"], amount=amount),
        paragraphs=[t["intro"].format(amount=amount, number=number), reason, next_step],
        facts=[(c["invoice"], number), (c["amount"], amount)],
        button=t["button"],
        url=_portal_url(v),
    )


def _card_expiring(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    last4 = v["last4"]
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
        subject=t["subject"].format(merchant=v["merchant_name"], brand=brand, last4=last4),
        paragraphs=[t["intro"].format(brand=brand, last4=last4, exp=month_name), t["body"]],
        facts=[(c["card"], f"{brand} •••• {last4}"), (c["expires"], expiry)],
        button=t["button"],
        url=_portal_url(v),
    )


def _cancellation(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    ends = v["access_ends"]
    intro = t["intro_plan"].format(plan=v["plan_name"]) if v.has("plan_name") else t["intro"]
    # Undo is possible only while access continues, i.e. for a cancellation at period end.
    next_step = t["ended" if v.context.get("immediate") else "until"].format(date=ends)
    facts = [(c["plan"], v["plan_name"])] if v.has("plan_name") else []
    return _Email(
        subject=t["subject"].format(merchant=v["merchant_name"]),
        paragraphs=[intro, next_step],
        facts=facts + [(c["access_until"], ends)],
        button=t["button"],
        url=_portal_url(v),
    )


def _new_link(t: dict[str, str], c: dict[str, str], v: _Values) -> _Email:
    return _Email(
        subject=t["subject"].format(merchant=v["merchant_name"]),
        paragraphs=[t["intro"].format(merchant=v["merchant_name"]), t["body"]],
        button=t["button"],
        url=_portal_url(v),
    )


_BUILDERS: dict[str, Callable[[dict[str, str], dict[str, str], _Values], _Email]] = {
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


def _html_layout(
    email: _Email, greeting: str, signoff: str, footer: list[str], c: dict[str, str], merchant_name: str, lang: str
) -> str:
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
        button = (
            f'<p style="margin:8px 0 24px;"><a href="{url}" style="{_FONT}display:inline-block;'
            "background:#18181b;color:#ffffff;text-decoration:none;font-size:15px;font-weight:600;"
            f'padding:12px 20px;border-radius:6px;">{e(email.button)}</a></p>'
            f'<p style="{p_style}font-size:13px;color:#71717a;">{e(c["link_hint"])}<br>'
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
    lang, locale = language_and_locale(language)
    values = _Values(context, lang, locale)
    common = COMMON[lang]
    email = _BUILDERS[kind](TEXTS[kind][lang], common, values)
    # Subjects are headers: one line (no CR/LF from user data), within the column size.
    email.subject = re.sub(r"[\r\n\t\v\f]+", " ", email.subject).strip()[:300]

    merchant_name = values["merchant_name"]
    greeting = (
        common["greeting_name"].format(name=values["subscriber_name"])
        if values.has("subscriber_name")
        else common["greeting"]
    )
    signoff = common["signoff"].format(merchant=merchant_name)
    footer = [common["footer"].format(merchant=merchant_name)]
    if values.has("support_email"):
        footer.insert(0, common["footer_support"].format(email=values["support_email"]))
    text = _text_layout(email, greeting, signoff, footer)
    body_html = _html_layout(email, greeting, signoff, footer, common, merchant_name, lang)
    return email.subject, text, body_html
