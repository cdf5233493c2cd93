"""Customer email content: per kind, its text from the i18n catalogue, in plain text and inline-styled HTML.

Context values may be Money (formatted in the email's locale), date/datetime (long date in the
email's locale) or already formatted strings. Templates are plain text; the HTML part escapes
every paragraph, so user data (names, reasons) can never become markup. Card numbers never
appear: only brand and last 4 digits, and anything resembling a full card number is masked.
The kinds live in kinds_*.py modules (kind.EmailKind), joined here.
"""

from __future__ import annotations

import re
from typing import Any

from portal_app.billing import brand
from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.kinds_billing import KINDS as BILLING_KINDS
from portal_app.billing.emails.kinds_credit_note import KINDS as CREDIT_NOTE_KINDS
from portal_app.billing.emails.kinds_pause import KINDS as PAUSE_KINDS
from portal_app.billing.emails.kinds_plan_change import KINDS as PLAN_CHANGE_KINDS
from portal_app.billing.emails.kinds_retention import KINDS as RETENTION_KINDS
from portal_app.billing.emails.kinds_step_up import KINDS as STEP_UP_KINDS
from portal_app.billing.emails.kinds_trial import KINDS as TRIAL_KINDS
from portal_app.billing.emails.layout import Frame, html_layout, text_layout
from portal_app.billing.emails.logo import EmailLogo
from portal_app.billing.emails.values import Values
from portal_app.billing.errors import BillingError
from portal_app.i18n import babel_locale, translate
from portal_app.i18n import language as supported_language

# Every kind of email (send_email fills merchant_name and support_email from the merchant; optional
# everywhere: subscriber_name for the greeting, support_email for the footer).
KINDS: dict[str, EmailKind] = {
    **BILLING_KINDS,
    **PLAN_CHANGE_KINDS,
    **PAUSE_KINDS,
    **TRIAL_KINDS,
    **RETENTION_KINDS,
    **STEP_UP_KINDS,
    **CREDIT_NOTE_KINDS,
}
EMAIL_KINDS = tuple(KINDS)
REQUIRED_CONTEXT: dict[str, tuple[str, ...]] = {name: kind.required for name, kind in KINDS.items()}
OPTIONAL_CONTEXT: dict[str, tuple[str, ...]] = {name: kind.optional for name, kind in KINDS.items()}


def render_email(
    kind: str, language: str, context: dict[str, Any], *, brand_color: str = "", logo: EmailLogo | None = None
) -> tuple[str, str, str]:
    """(subject, plain text, HTML) for one email kind in "en" or "es" (others fall back to "en").

    context needs merchant_name plus REQUIRED_CONTEXT[kind]; KeyError names a missing key. The HTML
    wears the merchant's look: brand_color (Merchant.brand_color, "" = the house colour) on the
    button and links, and the logo (emails/logo.py) as an inline image that delivery attaches.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown email kind {kind!r}; expected one of {', '.join(EMAIL_KINDS)}")
    missing = [k for k in ("merchant_name", *KINDS[kind].required) if context.get(k) in (None, "")]
    if missing:
        raise KeyError(f"{kind} email needs context keys: {', '.join(missing)}")
    lang = supported_language(language)
    values = Values(context, lang, babel_locale(language))
    email = KINDS[kind].build(values)
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
    support_email = values["support_email"].strip() if values.has("support_email") else ""
    if support_email:
        footer.insert(0, translate(lang, "email", "Questions? Write to %(email)s.", email=support_email))
    frame = Frame(
        greeting=greeting,
        signoff=signoff,
        footer=footer,
        merchant_name=merchant_name,
        lang=lang,
        link_hint=translate(lang, "email", "If the button does not work, copy this link into your browser:"),
        color=_color(brand_color),
        logo=logo,
        support_email=support_email,
    )
    return email.subject, text_layout(email, frame), html_layout(email, frame)


def _color(stored: str) -> str:
    """The brand colour to paint with; the house colour when unset or not a valid colour."""
    try:
        return brand.parse_color(brand.effective_color(stored or ""))
    except BillingError:
        return brand.DEFAULT_COLOR
