"""/signup/<merchant_slug>/<plan_id>: the merchant's branded, mobile-first signup form for one plan.

Simulated gateway: the card fields of its card component, tokenized in the browser (only a pm_ id
reaches the handler), and its bank's 3DS page when the card asks. Text from the "signup" catalogue
context, in the visitor's language."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.components.card_fields import bank_challenge_dialog
from portal_app.components.layout import brand_header, brand_style, centered_card, error_callout, test_mode_ribbon
from portal_app.components.simulated_card import simulated_card_fields, simulated_card_form
from portal_app.components.stripe_elements import stripe_card_setup
from portal_app.pages.signup.state import SignupState

TAP = "44px"
S = SignupState


def _error(text) -> rx.Component:
    return rx.cond(text != "", rx.text(text, color="var(--red-11)", size="2", role="alert"))


def _field(label, name: str, error, **props) -> rx.Component:
    return rx.vstack(
        rx.el.label(label, html_for=f"signup-{name}", font_size="14px", font_weight="500"),
        rx.input(
            id=f"signup-{name}",
            name=name,
            size="3",
            width="100%",
            min_height=TAP,
            aria_invalid=rx.cond(error != "", "true", "false"),
            **props,
        ),
        _error(error),
        spacing="1",
        width="100%",
    )


def _language_field() -> rx.Component:
    return rx.vstack(
        rx.el.label(S.tx["language"], html_for="signup-language", font_size="14px", font_weight="500"),
        rx.el.select(
            *[rx.el.option(label, value=code) for code, label in i18n.LANGUAGES.items()],
            id="signup-language",
            name="language",
            value=S.lang,
            on_change=S.set_language,
            min_height=TAP,
            width="100%",
            font_size="16px",
            padding="0 8px",
            border="1px solid var(--gray-7)",
            border_radius="6px",
            background="var(--color-background)",
        ),
        _error(S.language_error),
        spacing="1",
        width="100%",
    )


def _form_error() -> rx.Component:
    return error_callout(S.form_error, test_id="signup-error")


def signup_form() -> rx.Component:
    return simulated_card_form(
        rx.vstack(
            _field(S.tx["name"], "name", S.name_error, auto_complete="name", max_length=120, required=True),
            _field(
                S.tx["email"],
                "email",
                S.email_error,
                type="email",
                auto_complete="email",
                max_length=254,
                required=True,
            ),
            _language_field(),
            rx.el.fieldset(
                rx.el.legend(S.tx["card"], font_weight="500", font_size="14px", margin_bottom="4px"),
                simulated_card_fields(
                    number_label=S.tx["card_number"],
                    expiry_label=S.tx["expiry"],
                    cvc_label=S.tx["cvc"],
                    number_error=S.number_error,
                    expiry_error=S.expiry_error,
                    cvc_error=S.cvc_error,
                ),
                border="none",
                padding="0",
                margin="0",
                width="100%",
            ),
            rx.cond(S.test_mode, rx.text(S.tx["test_cards_hint"], size="2", color_scheme="gray")),
            _form_error(),
            rx.button(
                S.tx["subscribe"],
                type="submit",
                size="3",
                width="100%",
                min_height=TAP,
                loading=S.saving,
                data_testid="signup-submit",
            ),
            rx.text(S.tx["secure_note"], size="1", color_scheme="gray"),
            spacing="3",
            width="100%",
        ),
        label=S.title,
        on_submit=S.submit,
        on_card_error=S.card_refused,
    )


def stripe_signup_form() -> rx.Component:
    """Stripe mode: the details first, then Stripe Elements (card fields in Stripe's iframe)."""
    return rx.cond(
        S.setup_client_secret != "",
        rx.vstack(
            stripe_card_setup(
                publishable_key=S.stripe_publishable_key,
                client_secret=S.setup_client_secret,
                locale=S.lang,
                submit_label=S.tx["subscribe"],
                messages=S.tx,
                on_success=S.stripe_setup_confirmed,
                on_error=S.stripe_card_error,
            ),
            _form_error(),
            rx.text(S.tx["secure_note"], size="1", color_scheme="gray"),
            spacing="3",
            width="100%",
            data_testid="stripe-card-section",
        ),
        rx.form(
            rx.vstack(
                _field(S.tx["name"], "name", S.name_error, auto_complete="name", max_length=120, required=True),
                _field(
                    S.tx["email"],
                    "email",
                    S.email_error,
                    type="email",
                    auto_complete="email",
                    max_length=254,
                    required=True,
                ),
                _language_field(),
                _form_error(),
                rx.button(S.tx["continue"], type="submit", size="3", width="100%", min_height=TAP, loading=S.saving),
                spacing="3",
                width="100%",
            ),
            on_submit=S.begin_stripe_card,
            width="100%",
        ),
    )


def _offer() -> rx.Component:
    return rx.vstack(
        rx.heading(S.title, size="6", as_="h2", data_testid="signup-title"),
        rx.text(S.price, size="4", weight="bold", data_testid="signup-price"),
        rx.text(S.charged_today, size="2", color_scheme="gray"),
        spacing="1",
        width="100%",
    )


def _done() -> rx.Component:
    return rx.callout(
        S.done_message,
        icon="mail",
        color_scheme="green",
        role="status",
        width="100%",
        data_testid="signup-done",
        overflow_wrap="anywhere",
    )


def _challenge() -> rx.Component:
    return bank_challenge_dialog(
        title=S.tx["threeds_title"],
        body=S.tx["threeds_body"],
        approve_label=S.tx["threeds_complete"],
        refuse_label=S.tx["threeds_fail"],
        on_answer=S.finish_challenge,
        open_=S.challenge_open,
    )


def signup_page() -> rx.Component:
    available = rx.box(
        test_mode_ribbon(S.test_mode, S.tx["test_mode"]),
        rx.box(
            brand_header(S.merchant_name, S.logo_url),
            rx.el.main(
                rx.card(
                    rx.vstack(
                        _offer(),
                        rx.cond(
                            S.done_message != "", _done(), rx.cond(S.stripe_mode, stripe_signup_form(), signup_form())
                        ),
                        spacing="4",
                        width="100%",
                    ),
                    size="3",
                    width="100%",
                ),
                width="100%",
            ),
            _challenge(),
            max_width="480px",
            margin="0 auto",
            padding_x="16px",
            padding_bottom="48px",
        ),
        min_height="100vh",
        background="var(--gray-2)",
        style=brand_style(S.brand_color),
        data_testid="signup-page",
    )
    unavailable = centered_card(
        rx.heading(S.tx["not_available_title"], size="6", as_="h1"),
        rx.text(S.tx["not_available_body"], data_testid="signup-unavailable"),
    )
    return rx.cond(
        S.loaded,
        rx.cond(S.available, available, unavailable),
        rx.center(rx.spinner(size="3"), min_height="100vh", aria_label="Loading"),
    )
