"""The portal's texts for pausing and trials (pages/portal/pause.py), joined into PORTAL_TEXT."""

from __future__ import annotations

from portal_app.i18n.catalogue import NC_

LIFECYCLE_TEXT: dict[str, str] = {
    "pause_subscription": NC_("portal", "Pause subscription"),
    "pause_title": NC_("portal", "Pause your subscription?"),
    "pause_note": NC_(
        "portal",
        "Your subscription pauses at the end of the current period, on %(date)s. Nothing is charged while it is paused.",
    ),
    "resume_on": NC_("portal", "Resume on"),
    "pause_range": NC_("portal", "Choose a date between %(first)s and %(last)s."),
    "confirm_pause": NC_("portal", "Pause"),
    "keep_running": NC_("portal", "Keep it running"),
    "paused_until": NC_("portal", "Paused until %(date)s"),
    "pauses_on": NC_("portal", "Pauses on %(start)s, resumes %(resume)s"),
    "resume_now": NC_("portal", "Resume now"),
    "undo_pause": NC_("portal", "Don't pause"),
    "toast_paused": NC_("portal", "Your subscription pauses on %(date)s."),
    "toast_resumed": NC_("portal", "Your subscription is active again."),
    "toast_pause_undone": NC_("portal", "Your subscription will not pause."),
    "resume_payment_failed": NC_(
        "portal", "Your subscription has resumed, but the payment didn't go through. Please update your card."
    ),
    "trial_ends": NC_("portal", "Trial ends %(date)s"),
    "trial_then": NC_("portal", "Then %(amount)s on %(date)s"),
}
