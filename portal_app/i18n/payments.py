"""What the portal says after a charge try, by its outcome (declines read their code's message)."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

PAYMENT = "payment"  # msgctxt

PAYMENT_OUTCOMES: dict[str, str] = {
    "succeeded": NC_("payment", "Payment of %(amount)s received for invoice %(number)s. Thank you!"),
    "unknown": NC_(
        "payment",
        "We couldn't confirm this payment yet. We'll check with the payment processor shortly; "
        "you won't be charged twice.",
    ),
    "in_progress": NC_("payment", "A payment for this invoice is already in progress."),
    "in_review": NC_(
        "payment",
        "We're checking an earlier payment for invoice %(number)s with the payment processor, so it won't be "
        "charged again for now. We'll contact you if anything is needed.",
    ),
    "already_paid": NC_("payment", "This invoice is already paid."),
    "not_payable": NC_("payment", "This invoice can't be paid."),
}
# Outcomes whose text is the decline code's message.
DECLINE_OUTCOMES = frozenset({"declined", "requires_action"})
