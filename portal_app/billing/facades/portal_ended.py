"""Where a browser whose portal session ended goes: the invalid-link page, branded for the session's
merchant and in its subscriber's language, and worded for why ("deleted" when the subscription was
removed, else "ended"). The one rule is billing/sessions.ended_portal_session, shared with the
download routes; this facade only keeps a database outage from turning a redirect into an error.
Only the browser holding that session's cookie secret can ask, and the answer is public facts."""

from __future__ import annotations

import logging

from portal_app.billing import sessions

log = logging.getLogger(__name__)


def ended_session(cookie_header: str) -> tuple[str, str, str]:
    """(reason, merchant slug, language) of the portal session in this Cookie header, live or not;
    ("ended", "", "") when there is none (no cookie, unknown secret, the database unreachable)."""
    try:
        return sessions.ended_portal_session(cookie_header or "")
    except Exception as exc:  # noqa: BLE001 - branding is a nicety: the plain invalid page still answers
        log.warning("ended portal session lookup failed: %s", exc.__class__.__name__)
        return "ended", "", ""
