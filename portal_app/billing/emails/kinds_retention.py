"""The email of retention offers: the subscriber took the offer and stays, with the discount and
for how many invoices it runs."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_percent

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, portal_url_of
from portal_app.i18n import translate


def _offer_accepted(v: Values) -> EmailContent:
    lang, merchant = v.lang, v["merchant_name"]
    cycles = int(v.context["cycles"])
    off = format_percent(Decimal(v["percent"]) / 100, locale=v.locale) if v.has("percent") else v["amount_off"]
    discount = translate(lang, "email", "%(off)s off", off=off)
    paragraphs = [
        translate(lang, "email", "Thank you for staying with %(merchant)s.", merchant=merchant),
        translate(
            lang,
            "email",
            "Your subscription continues, and your next %(count)s invoices are %(discount)s. "
            "After that, the plan's usual price applies again.",
            count=cycles,
            discount=discount,
        ),
    ]
    facts = [(translate(lang, "email", "Plan"), v["plan_name"])] if v.has("plan_name") else []
    facts.append((translate(lang, "email", "Discount"), discount))
    return EmailContent(
        subject=translate(lang, "email", "%(merchant)s: your discount is confirmed", merchant=merchant),
        paragraphs=paragraphs,
        facts=facts,
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


KINDS: dict[str, EmailKind] = {
    "retention_offer_accepted": EmailKind(
        ("cycles", "portal_url"), ("plan_name", "percent", "amount_off"), _offer_accepted
    ),
}
