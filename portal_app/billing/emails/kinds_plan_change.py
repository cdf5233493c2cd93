"""The plan change email: "plan_changed", sent when a subscriber's plan changes now or is scheduled
to change at the period end (billing/plan_changes.py)."""

from __future__ import annotations

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, portal_url_of
from portal_app.i18n import translate


def _plan_changed(v: Values) -> EmailContent:
    lang, plan, previous = v.lang, v["plan_name"], v["previous_plan"]
    if v.context.get("scheduled"):
        intro = translate(
            lang,
            "email",
            "Your plan changes from %(previous)s to %(plan)s on %(date)s. Until then nothing changes. "
            "You can undo this in your billing portal.",
            previous=previous,
            plan=plan,
            date=v["effective"],
        )
    else:
        intro = translate(
            lang, "email", "Your plan has changed from %(previous)s to %(plan)s.", previous=previous, plan=plan
        )
    paragraphs = [intro]
    if v.has("amount_due") and v.has("invoice_number"):
        paragraphs.append(
            translate(
                lang,
                "email",
                "We charge %(amount)s today for the rest of the current period (invoice %(number)s).",
                amount=v["amount_due"],
                number=v["invoice_number"],
            )
        )
    if v.has("credit"):
        paragraphs.append(
            translate(
                lang,
                "email",
                "The unused time on your previous plan leaves you %(amount)s of credit, taken off your next invoices.",
                amount=v["credit"],
            )
        )
    paragraphs.append(
        translate(
            lang,
            "email",
            "Your next renewal is on %(date)s for %(amount)s.",
            date=v["next_renewal"],
            amount=v["next_amount"],
        )
    )
    facts = [(translate(lang, "email", "Plan"), plan)]
    if v.has("amount_due"):
        facts.append((translate(lang, "email", "Charged today"), v["amount_due"]))
    facts.append((translate(lang, "email", "Next renewal"), v["next_renewal"]))
    return EmailContent(
        subject=translate(
            lang, "email", "%(merchant)s: your plan is changing to %(plan)s", merchant=v["merchant_name"], plan=plan
        )
        if v.context.get("scheduled")
        else translate(
            lang, "email", "%(merchant)s: your plan is now %(plan)s", merchant=v["merchant_name"], plan=plan
        ),
        paragraphs=paragraphs,
        facts=facts,
        button=translate(lang, "email", "Open your billing portal"),
        url=portal_url_of(v),
    )


KINDS: dict[str, EmailKind] = {
    "plan_changed": EmailKind(
        ("plan_name", "previous_plan", "effective", "next_renewal", "next_amount", "portal_url"),
        ("scheduled", "amount_due", "invoice_number", "credit"),
        _plan_changed,
    ),
}
