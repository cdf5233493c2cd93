"""The settings page's "Business details and branding" section: legal name, address and tax id
(printed on invoices), website (the portal's "Return to <merchant>" link) and brand colour, with a
swatch of the colour and the contrast refusal when a colour is too light for white text."""

from __future__ import annotations

import reflex as rx

from portal_app.components.console_layout import TAP, labelled, once_loaded, section
from portal_app.components.layout import error_callout


def _field_error(S, field: str) -> rx.Component:
    return rx.cond(
        S.business_error_field == field,
        rx.text(
            S.business_error,
            id=f"biz-{field}-error",
            size="2",
            color="var(--red-11)",
            data_testid=f"field-error-{field}",
        ),
    )


def _input(S, label: str, field: str, *, max_length: int, hint: str = "", **props) -> rx.Component:
    control = rx.input(
        id=f"biz-{field}",
        name=field,
        default_value=S.business[field],
        max_length=max_length,
        size="3",
        width="100%",
        aria_invalid=rx.cond(S.business_error_field == field, "true", "false"),
        aria_describedby=f"biz-{field}-error",
        **props,
    )
    return rx.vstack(
        labelled(label, f"biz-{field}", control, hint=hint), _field_error(S, field), spacing="1", width="100%"
    )


def _swatch(S) -> rx.Component:
    return rx.flex(
        rx.box(
            width="44px",
            height="44px",
            border_radius="8px",
            border="1px solid var(--gray-7)",
            background=S.swatch,
            data_testid="brand-swatch",
            data_color=S.swatch,
            flex_shrink="0",
        ),
        rx.box(
            rx.text("Button", size="2", weight="medium", color="white"),
            background=S.swatch,
            padding="0 16px",
            min_height="36px",
            display="flex",
            align_items="center",
            border_radius="var(--radius-2)",
            aria_hidden="true",
        ),
        rx.text(
            rx.cond(S.swatch_refused, "Refused: ", "In use: "),
            S.swatch,
            size="2",
            color_scheme="gray",
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def business_section(S) -> rx.Component:
    """`S` is the settings page's state (business, business_error, business_error_field, swatch, ...)."""
    return section(
        once_loaded(
            S.business_key,
            rx.form(
                rx.vstack(
                    rx.text(
                        "Printed on new invoices as the seller. The website is where the portal's “Return to” link goes.",
                        size="2",
                        color_scheme="gray",
                    ),
                    _input(S, "Legal name", "legal_name", max_length=120, hint="Empty: the company name."),
                    rx.vstack(
                        labelled(
                            "Address",
                            "biz-address",
                            rx.text_area(
                                id="biz-address",
                                name="address",
                                default_value=S.business["address"],
                                max_length=500,
                                rows="3",
                                size="3",
                                width="100%",
                                aria_invalid=rx.cond(S.business_error_field == "address", "true", "false"),
                            ),
                        ),
                        _field_error(S, "address"),
                        spacing="1",
                        width="100%",
                    ),
                    rx.flex(
                        rx.box(_input(S, "Tax ID", "tax_id", max_length=40, hint="e.g. VAT number"), flex="1 1 180px"),
                        rx.box(
                            _input(
                                S,
                                "Website",
                                "website_url",
                                max_length=300,
                                type="url",
                                placeholder="https://",
                                hint="https:// only",
                            ),
                            flex="2 1 240px",
                        ),
                        spacing="3",
                        width="100%",
                        wrap="wrap",
                    ),
                    _input(
                        S,
                        "Brand colour",
                        "brand_color",
                        max_length=7,
                        placeholder="#0D74CE",
                        hint="Hex, e.g. #0D74CE. White text must be readable on it (contrast 4.5:1). Empty: the default.",
                    ),
                    _swatch(S),
                    rx.cond(S.business_error_field == "", error_callout(S.business_error)),
                    rx.button("Save business details", type="submit", size="3", min_height=TAP),
                    spacing="3",
                    width="100%",
                    key=S.business_key.to_string(),
                ),
                on_submit=S.save_business,
                reset_on_submit=False,
                width="100%",
            ),
        ),
        title="Business details and branding",
    )
