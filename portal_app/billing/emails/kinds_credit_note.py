"""The email of a refund: a credit note was issued for (part of) an invoice the subscriber paid."""

from __future__ import annotations

from portal_app.billing.emails.kind import EmailKind
from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values, portal_url_of
from portal_app.i18n import translate


def _credit_note_issued(v: Values) -> EmailContent:
    lang, amount, number, note = v.lang, v["amount"], v["invoice_number"], v["credit_note_number"]
    has_link = v.has("portal_url")
    paragraphs = [
        translate(
            lang,
            "email",
            "We refunded %(amount)s of invoice %(number)s to the card that paid it.",
            amount=amount,
            number=number,
        ),
        translate(
            lang,
            "email",
            "Depending on your bank, the money can take 5 to 10 business days to appear on your statement.",
        ),
    ]
    if has_link:
        paragraphs.append(translate(lang, "email", "The credit note (PDF) is available in your billing portal."))
    return EmailContent(
        subject=translate(
            lang,
            "email",
            "%(merchant)s refunded %(amount)s (credit note %(note)s)",
            merchant=v["merchant_name"],
            amount=amount,
            note=note,
        ),
        paragraphs=paragraphs,
        facts=[
            (translate(lang, "email", "Credit note"), note),
            (translate(lang, "email", "Invoice"), number),
            (translate(lang, "email", "Amount refunded"), amount),
        ],
        button=translate(lang, "email", "View your invoices") if has_link else "",
        url=portal_url_of(v) if has_link else "",
    )


KINDS: dict[str, EmailKind] = {
    "credit_note_issued": EmailKind(
        ("amount", "invoice_number", "credit_note_number"), ("portal_url",), _credit_note_issued
    ),
}
