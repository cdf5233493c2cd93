"""/console/plans/<id>: the plan's summary, its subscribers (the subscriber list of subscribers.py)
and the dialog that registers a new subscriber to it."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import TAP, labelled
from portal_app.components.layout import error_callout
from portal_app.components.simulated_card import simulated_card_fields, simulated_card_form
from portal_app.pages.console.base import console_page
from portal_app.pages.console.plan_changes import plan_switches_section
from portal_app.pages.console.plan_lifecycle_fields import plan_lifecycle_card
from portal_app.pages.console.plan_retention import plan_retention_section
from portal_app.pages.console.subscribers import ConsoleSubscribersState, invoice_export, subscriber_list


def _card_fields() -> rx.Component:
    """Simulated gateway: the card component's fields (tokenized in the browser on submit). Stripe: no
    card here; the subscriber adds theirs in the portal, where their bank can ask for 3DS."""
    S = ConsoleSubscribersState
    return rx.cond(
        S.register_takes_card,
        rx.el.fieldset(
            rx.el.legend("Card", font_weight="500", font_size="14px", margin_bottom="4px"),
            rx.vstack(
                simulated_card_fields(
                    number_label="Card number",
                    expiry_label="Expiry (MM/YY)",
                    cvc_label="Security code (CVC)",
                    number_error="",
                    expiry_error="",
                    cvc_error="",
                ),
                rx.cond(
                    S.test_mode,
                    rx.text(
                        "Test mode: use 4242 4242 4242 4242, any future date and any 3 digits.",
                        size="2",
                        color_scheme="gray",
                    ),
                ),
                spacing="3",
                width="100%",
            ),
            border="none",
            padding="0",
            margin="0",
            width="100%",
        ),
        rx.callout(
            "The subscriber adds their card in the portal (the invitation email carries the link); "
            "the first invoice is charged then.",
            icon="credit_card",
            color_scheme="gray",
            width="100%",
            data_testid="register-card-in-portal",
        ),
    )


def register_dialog() -> rx.Component:
    S = ConsoleSubscribersState
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Register a subscriber"),
            rx.dialog.description("to " + S.plan_title + ". The first invoice is charged right away.", size="2"),
            simulated_card_form(
                rx.vstack(
                    labelled(
                        "Name",
                        "register-name",
                        rx.input(
                            id="register-name", name="name", max_length=120, required=True, size="3", width="100%"
                        ),
                    ),
                    labelled(
                        "Email",
                        "register-email",
                        rx.input(
                            id="register-email",
                            name="email",
                            type="email",
                            max_length=254,
                            required=True,
                            size="3",
                            width="100%",
                        ),
                    ),
                    rx.flex(
                        rx.box(
                            labelled(
                                "Language",
                                "register-language",
                                rx.select.root(
                                    rx.select.trigger(id="register-language", width="100%", min_height=TAP),
                                    rx.select.content(
                                        rx.select.item("English", value="en"), rx.select.item("Español", value="es")
                                    ),
                                    name="language",
                                    default_value="en",
                                    size="3",
                                ),
                            ),
                            flex="1 1 140px",
                        ),
                        rx.box(
                            labelled(
                                "Start date",
                                "register-start",
                                rx.input(id="register-start", name="start_date", type="date", size="3", width="100%"),
                                hint="Empty: today. Up to 31 days back.",
                            ),
                            flex="1 1 160px",
                        ),
                        spacing="3",
                        width="100%",
                        wrap="wrap",
                    ),
                    _card_fields(),
                    rx.el.label(
                        rx.flex(
                            rx.checkbox(
                                name="send_invitation",
                                default_checked=True,
                                size="3",
                                aria_label="Email the portal link to the subscriber now",
                            ),
                            rx.text("Email the portal link to the subscriber now"),
                            spacing="2",
                            align="center",
                            min_height=TAP,
                        ),
                    ),
                    error_callout(S.register_error),
                    rx.flex(
                        rx.button(
                            "Register subscriber", type="submit", size="3", min_height=TAP, loading=S.registering
                        ),
                        rx.dialog.close(
                            rx.button(
                                "Cancel", type="button", variant="soft", color_scheme="gray", size="3", min_height=TAP
                            )
                        ),
                        spacing="3",
                        wrap="wrap",
                    ),
                    spacing="3",
                    width="100%",
                    margin_top="12px",
                ),
                label="Register a subscriber",
                on_submit=S.register,
                on_card_error=S.register_card_refused,
            ),
            max_width="540px",
        ),
        open=S.register_open,
        on_open_change=S.set_register_open,
    )


def signup_link() -> rx.Component:
    """The plan's public signup page: its URL with a Copy button (archived plans answer "not available")."""
    S = ConsoleSubscribersState
    return rx.card(
        rx.vstack(
            rx.text("Signup page", weight="medium", size="2"),
            rx.flex(
                rx.code(S.plan_signup_url, data_testid="plan-signup-url", word_break="break_all", size="2"),
                rx.button(
                    rx.icon("copy", size=16, aria_hidden="true"),
                    "Copy",
                    size="2",
                    variant="soft",
                    min_height=TAP,
                    on_click=S.copy_signup_url,
                    aria_label="Copy the signup link",
                ),
                spacing="3",
                align="center",
                wrap="wrap",
                width="100%",
            ),
            rx.text(
                rx.cond(
                    S.plan_active,
                    "Share it: anyone can subscribe to this plan there, paying the first invoice at once.",
                    "Archived: the page answers “not available” until you activate the plan.",
                ),
                size="1",
                color_scheme="gray",
            ),
            spacing="2",
            width="100%",
        ),
        width="100%",
    )


def plan_page() -> rx.Component:
    S = ConsoleSubscribersState
    return console_page(
        rx.link(
            "← Recurring Plans",
            href=routes.CONSOLE_PLANS,
            size="2",
            min_height=TAP,
            display="inline-flex",
            align_items="center",
        ),
        rx.flex(
            rx.vstack(
                rx.heading(S.plan_title, size="6", as_="h1", data_testid="plan-title"),
                rx.text(S.plan_summary, color_scheme="gray", size="2"),
                rx.text(S.plan_count, " live subscriptions · MRR ", S.plan_mrr, size="2"),
                spacing="1",
            ),
            rx.cond(
                S.plan_active,
                rx.button(
                    rx.icon("user_plus", size=16, aria_hidden="true"),
                    "Register subscriber",
                    size="3",
                    min_height=TAP,
                    on_click=S.set_register_open(True),
                ),
                rx.text("Archived plan: activate it to register subscribers.", size="2", color_scheme="gray"),
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        signup_link(),
        subscriber_list(),  # what a merchant opens a plan for; the plan's settings follow
        invoice_export(),
        plan_switches_section(),
        plan_lifecycle_card(),
        plan_retention_section(),
        register_dialog(),
        current=routes.CONSOLE_PLANS,
    )
