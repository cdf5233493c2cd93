"""/console/settings: company name and logo (portal, emails, PDFs), invoice prefix, support email, language,
dunning, plan changes, the trial reminder, step-up verification, the team, the user's password and sessions.

The logo file, passwords and session cookies never pass through Reflex: the logo, password and "sign out
everywhere" forms are plain HTML forms posted to our HTTP routes (api/), which redirect back with a result code."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import business as business_facade
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.components.console_account import account_section
from portal_app.components.console_business import business_section
from portal_app.components.console_layout import TAP, labelled, once_loaded, section
from portal_app.components.console_logo import logo_section
from portal_app.components.layout import error_callout
from portal_app.pages.console.api_keys import api_keys_section
from portal_app.pages.console.base import ConsoleState, console_page, day, to_sign_in
from portal_app.pages.console.plan_changes import downgrade_timing_section
from portal_app.pages.console.step_up_setting import step_up_setting_section
from portal_app.pages.console.trial_reminder_field import trial_reminder_card

PASSWORD_ERRORS = {
    "current": "Your current password is not right.",
    "mismatch": "The two new passwords are not the same.",
    "weak": "Use a new password of 12 to 256 characters.",
    "throttled": "Too many attempts. Wait a few minutes and try again.",
}
NOTICES = {
    ("password", "changed"): "Password changed. Every other browser signed in to your account has been signed out.",
    ("logo", "updated"): "Logo updated.",
}


class ConsoleSettingsState(ConsoleState):
    form: dict[str, str] = {}
    form_key: int = 0
    settings_error: str = ""
    logo_url: str = ""
    logo_error: str = ""
    team: list[dict[str, str]] = []
    team_error: str = ""
    team_key: int = 0
    password_error: str = ""
    notice: str = ""
    business: dict[str, str] = {}
    business_key: int = 0
    business_error: str = ""
    business_error_field: str = ""
    swatch: str = ""  # the brand colour in use, or the one just refused
    swatch_refused: bool = False

    def _refresh(self, merchant_id: int) -> None:
        s = settings_facade.merchant_settings(merchant_id=merchant_id)
        self.form = {
            "name": s.name,
            "invoice_prefix": s.invoice_prefix,
            "support_email": s.support_email,
            "default_language": s.default_language,
            "dunning_schedule_days": s.dunning_schedule_days,
            "dunning_end_state": s.dunning_end_state,
        }
        self.merchant_name = s.name
        self.logo_url = routes.merchant_logo_url(s.slug, s.logo_version) if s.has_logo else ""
        self.team = [
            {"email": m.email, "name": m.name, "since": day(m.created_at)}
            for m in settings_facade.list_team(merchant_id=merchant_id)
        ]
        self.form_key += 1
        b = business_facade.business_details(merchant_id=merchant_id)
        self.business = {
            "legal_name": b.legal_name,
            "address": b.address,
            "tax_id": b.tax_id,
            "website_url": b.website_url,
            "brand_color": b.brand_color,
        }
        self.swatch, self.swatch_refused = b.shown_color, False
        self.business_key += 1

    @rx.event
    def load(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self.settings_error = self.team_error = ""
        # Results of the plain form posts (logo, password), reported as codes in the query string.
        query = self.router.url.query_parameters
        self.logo_error = settings_facade.logo_error_message(query.get("logo_error", ""))
        self.password_error = PASSWORD_ERRORS.get(query.get("password_error", ""), "")
        self.notice = next((text for (key, code), text in NOTICES.items() if query.get(key) == code), "")
        self._refresh(identity.merchant_id)

    @rx.event
    def save_settings(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            settings_facade.save_merchant_settings(
                merchant_id=identity.merchant_id, user_id=identity.user_id, form=form_data
            )
        except BillingError as err:
            self.settings_error = err.message
            return
        self.settings_error = ""
        self._refresh(identity.merchant_id)
        return rx.toast.success("Settings saved.")

    @rx.event
    def save_business(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            business_facade.save_business_details(
                merchant_id=identity.merchant_id, user_id=identity.user_id, form=form_data
            )
        except BillingError as err:
            self.business_error, self.business_error_field = err.message, err.field or ""
            refused = business_facade.readable_color(
                form_data.get("brand_color") if isinstance(form_data, dict) else ""
            )
            if err.field == "brand_color" and refused:
                self.swatch, self.swatch_refused = refused, True
            return
        self.business_error = self.business_error_field = ""
        self._refresh(identity.merchant_id)
        return rx.toast.success("Business details saved.")

    @rx.event
    def remove_logo(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        settings_facade.remove_logo(merchant_id=identity.merchant_id, user_id=identity.user_id)
        self.notice = ""  # not "Logo updated." any more
        self._refresh(identity.merchant_id)
        return rx.toast.success("Logo removed.")

    @rx.event
    def add_member(self, form_data: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            email = settings_facade.add_team_member(
                merchant_id=identity.merchant_id, user_id=identity.user_id, form=form_data
            )
        except BillingError as err:
            self.team_error = err.message
            return
        self.team_error = ""
        self.team_key += 1
        self._refresh(identity.merchant_id)
        return rx.toast.success(f"{email} can now sign in to this console.")


def _company_form() -> rx.Component:
    S = ConsoleSettingsState
    f = S.form
    return section(
        once_loaded(
            S.form_key,
            rx.form(
                rx.vstack(
                    labelled(
                        "Company name",
                        "set-name",
                        rx.input(
                            id="set-name",
                            name="name",
                            default_value=f["name"],
                            max_length=120,
                            required=True,
                            size="3",
                            width="100%",
                        ),
                        hint="Shown on the portal, in emails and on new invoices.",
                    ),
                    rx.flex(
                        rx.box(
                            labelled(
                                "Invoice prefix",
                                "set-prefix",
                                rx.input(
                                    id="set-prefix",
                                    name="invoice_prefix",
                                    default_value=f["invoice_prefix"],
                                    max_length=12,
                                    required=True,
                                    size="3",
                                    width="100%",
                                ),
                                hint="e.g. ACME → ACME-2026-000123",
                            ),
                            flex="1 1 160px",
                        ),
                        rx.box(
                            labelled(
                                "Support email",
                                "set-support",
                                rx.input(
                                    id="set-support",
                                    name="support_email",
                                    type="email",
                                    default_value=f["support_email"],
                                    max_length=254,
                                    size="3",
                                    width="100%",
                                ),
                            ),
                            flex="2 1 220px",
                        ),
                        spacing="3",
                        width="100%",
                        wrap="wrap",
                    ),
                    rx.flex(
                        rx.box(
                            labelled(
                                "Default language",
                                "set-language",
                                rx.select.root(
                                    rx.select.trigger(id="set-language", width="100%", min_height=TAP),
                                    rx.select.content(
                                        rx.select.item("English", value="en"), rx.select.item("Español", value="es")
                                    ),
                                    name="default_language",
                                    default_value=f["default_language"],
                                    size="3",
                                ),
                            ),
                            flex="1 1 160px",
                        ),
                        rx.box(
                            labelled(
                                "Retry failed payments after (days)",
                                "set-dunning",
                                rx.input(
                                    id="set-dunning",
                                    name="dunning_schedule_days",
                                    default_value=f["dunning_schedule_days"],
                                    max_length=60,
                                    size="3",
                                    width="100%",
                                ),
                                hint="Days after the first failure, e.g. 1,3,5,7",
                            ),
                            flex="2 1 220px",
                        ),
                        rx.box(
                            labelled(
                                "After the last retry",
                                "set-end",
                                rx.select.root(
                                    rx.select.trigger(id="set-end", width="100%", min_height=TAP),
                                    rx.select.content(
                                        rx.select.item("Mark unpaid", value="unpaid"),
                                        rx.select.item("Cancel", value="canceled"),
                                    ),
                                    name="dunning_end_state",
                                    default_value=f["dunning_end_state"],
                                    size="3",
                                ),
                            ),
                            flex="1 1 160px",
                        ),
                        spacing="3",
                        width="100%",
                        wrap="wrap",
                    ),
                    error_callout(S.settings_error),
                    rx.button("Save settings", type="submit", size="3", min_height=TAP),
                    spacing="3",
                    width="100%",
                    key=S.form_key.to_string(),
                ),
                on_submit=S.save_settings,
                reset_on_submit=False,
                width="100%",
            ),
        ),
        title="Company",
    )


def _team() -> rx.Component:
    S = ConsoleSettingsState
    return section(
        rx.el.ul(
            rx.foreach(
                S.team,
                lambda m: rx.el.li(
                    rx.flex(
                        rx.text(m["email"], weight="medium", word_break="break-all"),
                        rx.text(m["name"], " since ", m["since"], size="2", color_scheme="gray"),
                        justify="between",
                        wrap="wrap",
                        spacing="2",
                        width="100%",
                    ),
                    padding="8px 0",
                    border_bottom="1px solid var(--gray-4)",
                    list_style="none",
                    data_testid="team-member",
                ),
            ),
            padding="0",
            margin="0",
            width="100%",
        ),
        rx.heading("Add a user", size="3", as_="h3"),
        rx.form(
            rx.vstack(
                rx.flex(
                    rx.box(
                        labelled(
                            "Email",
                            "team-email",
                            rx.input(
                                id="team-email",
                                name="email",
                                type="email",
                                max_length=254,
                                required=True,
                                size="3",
                                width="100%",
                                auto_complete="off",
                            ),
                        ),
                        flex="2 1 220px",
                    ),
                    rx.box(
                        labelled(
                            "Name",
                            "team-name",
                            rx.input(id="team-name", name="name", max_length=120, size="3", width="100%"),
                        ),
                        flex="1 1 160px",
                    ),
                    rx.box(
                        labelled(
                            "Password (at least 12 characters)",
                            "team-password",
                            rx.input(
                                id="team-password",
                                name="password",
                                type="password",
                                max_length=256,
                                required=True,
                                size="3",
                                width="100%",
                                auto_complete="new-password",
                            ),
                        ),
                        flex="2 1 220px",
                    ),
                    spacing="3",
                    width="100%",
                    wrap="wrap",
                ),
                error_callout(S.team_error),
                rx.button("Add user", type="submit", size="3", min_height=TAP),
                spacing="3",
                width="100%",
                key=S.team_key.to_string(),
            ),
            on_submit=S.add_member,
            reset_on_submit=False,
            width="100%",
        ),
        title="Team",
    )


def settings_page() -> rx.Component:
    S = ConsoleSettingsState
    return console_page(
        rx.heading("Settings", size="6", as_="h1"),
        rx.cond(
            S.notice != "",
            rx.callout(
                S.notice, icon="circle_check", color_scheme="green", role="status", data_testid="settings-notice"
            ),
        ),
        _company_form(),
        downgrade_timing_section(),
        business_section(S),
        step_up_setting_section(),
        logo_section(S),
        _team(),
        api_keys_section(),
        trial_reminder_card(),
        account_section(user_email=S.user_email, password_error=S.password_error),
        current=routes.CONSOLE_SETTINGS,
    )
