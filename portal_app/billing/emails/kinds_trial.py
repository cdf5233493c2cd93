"""The emails of trials (billing/trials.py): the reminder before the free period ends."""

from __future__ import annotations

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, portal_url_of
from portal_app.i18n import translate


def _trial_will_end(v: Values) -> EmailContent:
    lang = v.lang
    return EmailContent(
        subject=translate(
            lang,
            "email",
            "%(merchant)s: your free trial ends on %(date)s",
            merchant=v["merchant_name"],
            date=v["trial_end"],
        ),
        paragraphs=[
            translate(
                lang,
                "email",
                "Your free trial of %(plan)s ends on %(date)s.",
                plan=v["plan_name"],
                date=v["trial_end"],
            ),
            translate(
                lang,
                "email",
                "Then we charge %(amount)s to your card on file and your subscription continues. If you do not "
                "want to continue, you can cancel in your billing portal before then at no cost.",
                amount=v["amount"],
            ),
        ],
        facts=[
            (translate(lang, "email", "First charge"), v["amount"]),
            (translate(lang, "email", "On"), v["trial_end"]),
        ],
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


KINDS: dict[str, EmailKind] = {
    "trial_will_end": EmailKind(("plan_name", "trial_end", "amount", "portal_url"), (), _trial_will_end),
}
