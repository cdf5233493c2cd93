"""The words of the portal's pause and trial facts (PortalState.lifecycle), from facades/portal_pause:
plain strings for the page, "" where nothing applies."""

from __future__ import annotations

from portal_app import i18n
from portal_app.billing.facades import portal_pause


def lifecycle_fields(merchant_id: int, subscriber_id: int, lang: str) -> dict[str, str]:
    view = portal_pause.lifecycle_view(merchant_id=merchant_id, subscriber_id=subscriber_id)
    fields = {"can_pause": "", "first": "", "last": "", "range": "", "status_line": "", "action": "", "trial": ""}
    fields |= {"trial_then": "", "note": ""}
    if view.can_pause and view.first_resume_day and view.last_resume_day:
        first, last = view.first_resume_day, view.last_resume_day
        fields |= {
            "can_pause": "1",
            "first": first.isoformat(),
            "last": last.isoformat(),
            "note": i18n.t(lang, "pause_note", date=i18n.fmt_date(view.pause_from, lang)),
            "range": i18n.t(lang, "pause_range", first=i18n.fmt_date(first, lang), last=i18n.fmt_date(last, lang)),
        }
    if view.paused and view.resume_at:
        fields |= {"status_line": i18n.t(lang, "paused_until", date=i18n.fmt_date(view.resume_at, lang))}
        fields["action"] = "resume"
    elif view.pauses_at and view.resume_at:
        start, resume = i18n.fmt_date(view.pauses_at, lang), i18n.fmt_date(view.resume_at, lang)
        fields |= {"status_line": i18n.t(lang, "pauses_on", start=start, resume=resume), "action": "undo"}
    if view.trial_end:
        day = i18n.fmt_date(view.trial_end, lang)
        fields["trial"] = i18n.t(lang, "trial_ends", date=day)
        if view.first_charge is not None:
            fields["trial_then"] = i18n.t(lang, "trial_then", amount=i18n.fmt_money(view.first_charge, lang), date=day)
    return fields
