"""The invalid-link page's text, and every page's document title, by key and English msgid.

Two msgctxts: "invalid link" (the page a broken, replaced or ended portal link lands on) and
"page title" (document.title of the portal, the invalid-link page and the signup page). Spanish is
formal ("usted"), as in emails: the reader may be anyone holding an old link."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

INVALID = "invalid link"
PAGE_TITLE = "page title"

INVALID_TEXT: dict[str, str] = {
    "title_generic": NC_("invalid link", "This link is no longer valid"),
    "body_generic": NC_(
        "invalid link",
        "The link you used is incomplete or no longer works. Enter the email address of your subscription "
        "to receive its current link.",
    ),
    "title_revoked": NC_("invalid link", "This link was replaced by a newer one"),
    "body_revoked": NC_(
        "invalid link",
        "%(merchant)s has issued a newer link to your subscription, so this one stopped working. Use the link "
        "in the most recent email from %(merchant)s, or enter your email address to receive it again.",
    ),
    "title_deleted": NC_("invalid link", "This subscription was removed"),
    "body_deleted": NC_(
        "invalid link",
        "%(merchant)s has removed this subscription, so its page is no longer available. "
        "Only %(merchant)s can answer questions about it.",
    ),
    "title_ended": NC_("invalid link", "Your session has ended"),
    "body_ended": NC_(
        "invalid link",
        "For your security, this page stopped working: the session expired or its link was replaced. "
        "Open the link in your most recent email, or enter your email address to receive the current link.",
    ),
    "contact": NC_("invalid link", "Questions? Contact %(merchant)s:"),
    "email_label": NC_("invalid link", "Email address"),
    "send_link": NC_("invalid link", "Send me a new link"),
    "answer_sent": NC_(
        "invalid link",
        "If this email address belongs to an active subscription, we have sent its link to it. Please check "
        "your inbox.",
    ),
    "answer_invalid": NC_("invalid link", "Please enter the email address your subscription uses."),
    "answer_limited": NC_("invalid link", "Too many requests from here. Please try again in an hour."),
    "answer_unavailable": NC_(
        "invalid link", "We can't reach our records right now. Nothing was sent. Please try again in a minute."
    ),
    "logo_alt": NC_("invalid link", "%(merchant)s logo"),
}

PAGE_TITLES: dict[str, str] = {
    "portal": NC_("page title", "Your subscription"),
    "invalid": NC_("page title", "Link not valid"),
    "signup": NC_("page title", "Subscribe"),
}
