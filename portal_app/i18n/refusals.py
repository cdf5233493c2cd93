"""The domain's refusals (BillingError messages a subscriber can meet) in the customer's language.

The billing engine words its refusals in English for logs, the console and the API; a page showing
one to a subscriber passes it through refusal_text(), the one translation path. Each msgid is the
English message itself, with %(placeholders)s where the engine fills in a value; a message not listed
reads as a plain "could not be done" in Spanish rather than leaking English. msgctxt "refusal",
formal ("usted")."""

from __future__ import annotations

import functools
import re

from portal_app.i18n.catalogue import NC_

REFUSAL = "refusal"

REFUSALS: tuple[str, ...] = (
    # billing/subscriptions.py (cancel, undo)
    NC_("refusal", "This subscription has already ended."),
    NC_("refusal", "This subscription is already set to end at the end of the period."),
    NC_("refusal", "Please keep the reason under %(count)s characters."),
    NC_("refusal", "This plan can't be canceled online. Please contact %(merchant)s at %(email)s."),
    NC_("refusal", "This plan can't be canceled online. Please contact %(merchant)s."),
    NC_("refusal", "There is no cancellation to undo: the subscription is not set to end, or it has already ended."),
    NC_("refusal", "This subscription is already deleted."),
    NC_("refusal", "This plan is no longer offered."),
    NC_("refusal", "This card does not belong to the subscriber."),
    # billing/facades/portal_payments.py (Pay now)
    NC_("refusal", "Too many payment attempts. Please wait an hour, or use another card."),
    # billing/retention.py and billing/step_up.py (retention offers, emailed codes)
    NC_("refusal", "This offer is no longer available."),
    NC_("refusal", "Please confirm it is you: enter the code we emailed you."),
    NC_("refusal", "Please wait a little before asking for another code."),
    NC_("refusal", "That code is not right. Please check the email and try again."),
    NC_("refusal", "This code is no longer valid. Please ask for a new one."),
    # billing/subscribers.py (billing details, language)
    NC_("refusal", "Please enter text."),
    NC_("refusal", "Please keep this under %(count)s characters."),
    NC_("refusal", "Please remove control characters."),
    NC_("refusal", "Please use a single line."),
    NC_("refusal", "Unsupported language."),
    # billing/facades/portal.py and card_entry.py
    NC_("refusal", "Please choose one of the listed reasons."),
    NC_("refusal", "Invalid reason."),
    NC_("refusal", "There is no subscription to cancel."),
    NC_("refusal", "There is no subscription."),
    NC_("refusal", "Invalid billing details."),
    NC_("refusal", "No payment is waiting for confirmation."),
    NC_("refusal", "No card confirmation is waiting."),
    NC_("refusal", "Invalid card details."),
    NC_("refusal", "Card details are accepted only from the secure card form."),
    NC_("refusal", "Please enter the card in the card form."),
    NC_("refusal", "Invalid card reference."),
    NC_("refusal", "Stripe is not the configured gateway."),
    # billing/tenancy.py: a row of another merchant, or none
    NC_("refusal", "Subscription not found"),
    NC_("refusal", "Subscriber not found"),
    NC_("refusal", "Invoice not found"),
    NC_("refusal", "PaymentMethod not found"),
    NC_("refusal", "Plan not found"),
    # billing/pauses.py, billing/facades/portal_pause.py
    NC_("refusal", "Please choose a date."),
    NC_("refusal", "This plan can't be paused."),
    NC_("refusal", "Only an active subscription that is not ending can be paused."),
    NC_("refusal", "This period is being renewed; please try again in a few minutes."),
    NC_("refusal", "Please pay the open invoice before pausing."),
    NC_("refusal", "Please choose a resume date between %(first)s and %(last)s."),
    # billing/facades/outage.py
    NC_("refusal", "We can't reach our records right now. Please try again in a minute."),
)
FALLBACK = NC_("refusal", "This could not be done. Please reload the page and try again.")

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@functools.cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each msgid as a pattern over the English message it produces (placeholders match any text)."""
    out = []
    for msgid in REFUSALS:
        parts = _PLACEHOLDER.split(msgid)  # text, name, text, name, ..., text
        regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts))
        out.append((re.compile(regex), msgid))
    return tuple(out)


def match_refusal(message: str) -> tuple[str, dict[str, str]] | None:
    """(msgid, values) of the English refusal `message`, or None when it is not in the catalogue."""
    for pattern, msgid in _patterns():
        found = pattern.fullmatch(message or "")
        if found:
            return msgid, found.groupdict()
    return None
