"""The emails of billing's everyday life: invitation, receipt, failed payment, expiring card,
cancellation, new link. Each kind: the context keys it needs, those it reads when present, its builder."""

from __future__ import annotations

import re
from datetime import date

from babel.dates import format_skeleton

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, card_brand, portal_url_of
from portal_app.i18n import decline_reason, translate


def _invitation(v: Values) -> EmailContent:
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
    return EmailContent(
        subject=translate(lang, "email", "Your billing portal at %(merchant)s", merchant=merchant),
        paragraphs=paragraphs,
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


def _receipt(v: Values) -> EmailContent:
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
    return EmailContent(
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
        url=portal_url_of(v) if has_link else "",
    )


def _payment_failed(v: Values) -> EmailContent:
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
    return EmailContent(
        subject=translate(
            lang, "email", "%(merchant)s: your payment of %(amount)s failed", merchant=v["merchant_name"], amount=amount
        ),
        paragraphs=[intro, reason, next_step],
        facts=[(translate(lang, "email", "Invoice"), number), (translate(lang, "email", "Amount"), amount)],
        button=translate(lang, "email", "Update your card"),
        url=portal_url_of(v),
    )


def _card_expiring(v: Values) -> EmailContent:
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
    brand = card_brand(v["brand"])
    return EmailContent(
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
        url=portal_url_of(v),
    )


def _cancellation(v: Values) -> EmailContent:
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
    return EmailContent(
        subject=translate(
            lang, "email", "%(merchant)s: your subscription has been canceled", merchant=v["merchant_name"]
        ),
        paragraphs=[intro, next_step],
        facts=facts + [(translate(lang, "email", "Access until"), ends)],
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


def _new_link(v: Values) -> EmailContent:
    lang, merchant = v.lang, v["merchant_name"]
    return EmailContent(
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
        url=portal_url_of(v),
    )


KINDS: dict[str, EmailKind] = {
    "invitation": EmailKind(
        ("portal_url",), ("plan_name", "add_card"), _invitation
    ),  # add_card: registered without a card (Stripe, REST API)
    "receipt": EmailKind(("amount", "invoice_number"), ("portal_url",), _receipt),
    "payment_failed": EmailKind(
        ("amount", "invoice_number", "portal_url"),
        ("decline_code", "reason", "next_retry_at", "final"),
        _payment_failed,
    ),
    # exp "MM/YYYY", or month and year
    "card_expiring": EmailKind(("brand", "last4", "portal_url"), ("exp", "exp_month", "exp_year"), _card_expiring),
    "cancellation": EmailKind(("access_ends", "portal_url"), ("plan_name", "immediate"), _cancellation),
    "new_link": EmailKind(("portal_url",), (), _new_link),
}
