"""The email of step-up verification: the six-digit code that confirms a change in the portal. The
code is in the body only (never the subject, which mail clients show in notifications)."""

from __future__ import annotations

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values
from portal_app.i18n import translate


def _step_up_code(v: Values) -> EmailContent:
    lang = v.lang
    return EmailContent(
        subject=translate(lang, "email", "%(merchant)s: your verification code", merchant=v["merchant_name"]),
        paragraphs=[
            translate(lang, "email", "Your verification code is %(code)s.", code=v["code"]),
            translate(
                lang,
                "email",
                "Enter it in your billing portal to confirm the change. It is valid for %(minutes)s minutes. "
                "If you did not ask for it, you can ignore this email; nothing changes without the code.",
                minutes=v["minutes"] if v.has("minutes") else "10",
            ),
        ],
        facts=[(translate(lang, "email", "Code"), v["code"])],
    )


KINDS: dict[str, EmailKind] = {"step_up_code": EmailKind(("code",), ("minutes",), _step_up_code)}
