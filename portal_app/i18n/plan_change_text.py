"""The portal's "Change plan" texts (billing/plan_changes.py behind them), msgctxt "portal", formal
Spanish; and the words for a plan change refusal by its code."""

from __future__ import annotations

from portal_app.i18n import language, translate
from portal_app.i18n.catalogue import NC_, translation
from portal_app.i18n.portal_text import PORTAL

PLAN_CHANGE_TEXT: dict[str, str] = {
    "change_plan": NC_("portal", "Change plan"),
    "change_title": NC_("portal", "Change your plan"),
    "change_intro": NC_("portal", "You are on %(plan)s. Choose a plan to see what you pay."),
    "choose_plan": NC_("portal", "Available plans"),
    "review_change": NC_("portal", "Review change"),
    "pay_today": NC_("portal", "You pay %(amount)s today"),
    "credit_today": NC_("portal", "%(amount)s credit"),
    "nothing_today": NC_("portal", "Nothing to pay today"),
    "credit_note": NC_("portal", "The credit is taken off your next invoices. Nothing is charged today."),
    "charge_note": NC_("portal", "Your plan changes now and your card is charged for the rest of this period."),
    "scheduled_note": NC_(
        "portal",
        "Your plan changes to %(plan)s on %(date)s. You keep %(current)s until then; nothing is charged today.",
    ),
    "next_renewal": NC_("portal", "Next renewal: %(date)s, %(amount)s"),
    "line_unused": NC_("portal", "Unused time on %(plan)s"),
    "line_remaining": NC_("portal", "Remaining time on %(plan)s"),
    "confirm_change": NC_("portal", "Confirm change"),
    "back": NC_("portal", "Back"),
    "keep_plan": NC_("portal", "Keep current plan"),
    "pending_line": NC_("portal", "Changes to %(plan)s on %(date)s"),
    "undo_change": NC_("portal", "Undo plan change"),
    "toast_changed": NC_("portal", "Your plan is now %(plan)s."),
    "toast_scheduled": NC_("portal", "Your plan changes to %(plan)s on %(date)s."),
    "toast_change_undone": NC_("portal", "The plan change was undone."),
    "toast_charge_failed": NC_(
        "portal", "Your plan is now %(plan)s, but the payment of %(amount)s failed. Please update your card."
    ),
    "price_day": NC_("portal", "%(price)s per day"),
    "price_week": NC_("portal", "%(price)s per week"),
    "price_month": NC_("portal", "%(price)s per month"),
    "price_year": NC_("portal", "%(price)s per year"),
    "price_days": NC_("portal", "%(price)s every %(count)s days"),
    "price_weeks": NC_("portal", "%(price)s every %(count)s weeks"),
    "price_months": NC_("portal", "%(price)s every %(count)s months"),
    "price_years": NC_("portal", "%(price)s every %(count)s years"),
}

# A refusal's words by its code (plan_change_preview.PlanChangeRefused, plan_changes).
REFUSAL_TEXT: dict[str, str] = {
    "subscription_ended": NC_("portal", "Your subscription has ended."),
    "subscription_ending": NC_("portal", "Your subscription is set to end. Undo the cancellation to change plans."),
    "payment_due": NC_("portal", "Please pay the open invoice before changing plans."),
    "not_active": NC_("portal", "Plans can be changed once your subscription is active."),
    "renewal_due": NC_("portal", "Your renewal is being processed. Please try again in a few minutes."),
    "same_plan": NC_("portal", "You are already on this plan."),
    "already_scheduled": NC_("portal", "This change is already scheduled."),
    "not_offered": NC_("portal", "This plan is not available to switch to."),
    "currency_mismatch": NC_("portal", "This plan is not available to switch to."),
    "nothing_scheduled": NC_("portal", "There is no plan change to undo."),
    "": NC_("portal", "Your plan could not be changed. Please try again."),
}


def plan_change_t(lang: str | None, key: str, **values) -> str:
    return translate(lang, PORTAL, PLAN_CHANGE_TEXT[key], **values)


def plan_change_text(lang: str | None) -> dict[str, str]:
    """Every static "Change plan" label in one language (unformatted)."""
    texts = translation(language(lang))
    return {key: texts.pgettext(PORTAL, message) for key, message in PLAN_CHANGE_TEXT.items()}


def refusal_words(code: str, lang: str | None) -> str:
    return translate(lang, PORTAL, REFUSAL_TEXT.get(code, REFUSAL_TEXT[""]))


def price_words(price: str, interval: str, count: int, lang: str | None) -> str:
    """ "$49.00 per month", "290,00 US$ al año"... (price already formatted)."""
    if count == 1:
        return plan_change_t(lang, f"price_{interval}", price=price)
    return plan_change_t(lang, f"price_{interval}s", price=price, count=count)
