"""The emails of pausing (billing/pauses.py): a pause confirmed, a subscription resumed."""

from __future__ import annotations

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, portal_url_of
from portal_app.i18n import translate


def _paused(v: Values) -> EmailContent:
    lang = v.lang
    return EmailContent(
        subject=translate(lang, "email", "%(merchant)s: your subscription will pause", merchant=v["merchant_name"]),
        paragraphs=[
            translate(
                lang,
                "email",
                "Your %(plan)s subscription pauses on %(start)s and resumes on %(resume)s.",
                plan=v["plan_name"],
                start=v["pause_starts"],
                resume=v["resume_at"],
            ),
            translate(
                lang,
                "email",
                "Nothing is charged while it is paused. On %(resume)s we charge %(amount)s and your subscription "
                "continues. You can resume earlier in your billing portal.",
                resume=v["resume_at"],
                amount=v["amount"],
            ),
        ],
        facts=[
            (translate(lang, "email", "Pauses on"), v["pause_starts"]),
            (translate(lang, "email", "Resumes on"), v["resume_at"]),
        ],
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


def _resumed(v: Values) -> EmailContent:
    lang = v.lang
    return EmailContent(
        subject=translate(
            lang, "email", "%(merchant)s: your subscription is active again", merchant=v["merchant_name"]
        ),
        paragraphs=[
            translate(lang, "email", "Your %(plan)s subscription has resumed.", plan=v["plan_name"]),
            translate(
                lang,
                "email",
                "Your new billing period starts today; the next renewal is on %(date)s.",
                date=v["next_renewal"],
            ),
        ],
        facts=[
            (translate(lang, "email", "Plan"), v["plan_name"]),
            (translate(lang, "email", "Next renewal"), v["next_renewal"]),
        ],
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


KINDS: dict[str, EmailKind] = {
    "subscription_paused": EmailKind(("plan_name", "pause_starts", "resume_at", "amount", "portal_url"), (), _paused),
    "subscription_resumed": EmailKind(("plan_name", "next_renewal", "portal_url"), ("amount",), _resumed),
}
