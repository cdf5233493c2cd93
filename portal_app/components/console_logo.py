"""Settings > Logo: the merchant's logo as the portal, emails and PDFs show it, and its upload form.

The file never passes through Reflex: the form posts to routes.API_CONSOLE_LOGO, which redirects back
with a result code the settings page reads (S.logo_error)."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import TAP, labelled, native_form, section
from portal_app.components.layout import error_callout


def logo_section(S) -> rx.Component:
    """The current logo with Remove, and the upload form (a plain HTML post to our logo route)."""
    return section(
        rx.flex(
            rx.cond(
                S.logo_url != "",
                rx.image(
                    src=S.logo_url,
                    alt="Current logo",
                    height="48px",
                    width="auto",
                    max_width="200px",
                    data_testid="settings-logo",
                ),
                rx.text("No logo yet.", color_scheme="gray"),
            ),
            rx.cond(
                S.logo_url != "",
                rx.button(
                    "Remove logo", size="3", variant="soft", color_scheme="gray", min_height=TAP, on_click=S.remove_logo
                ),
            ),
            spacing="4",
            align="center",
            wrap="wrap",
        ),
        native_form(
            rx.vstack(
                labelled(
                    "Logo file (PNG or JPEG, up to 512 KB)",
                    "logo-file",
                    rx.el.input(
                        id="logo-file",
                        name="logo",
                        type="file",
                        accept="image/png,image/jpeg",
                        required=True,
                        min_height=TAP,
                        padding="8px",
                        border="1px dashed var(--gray-7)",
                        border_radius="8px",
                        width="100%",
                    ),
                ),
                error_callout(S.logo_error),
                rx.button("Upload logo", type="submit", size="3", min_height=TAP),
                spacing="3",
                width="100%",
            ),
            method="post",
            action=routes.API_CONSOLE_LOGO,
            enc_type="multipart/form-data",
            width="100%",
        ),
        title="Logo",
    )
