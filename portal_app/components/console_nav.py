"""The console's left-hand navigation, as the user's guide reads it ("Sales > Recurring Plans in the
left-hand menu"): a sidebar on desktop; on phones (< 768 px) a compact bar whose menu button opens the
same navigation as a sheet (a Radix dialog: its trigger carries aria-expanded and aria-controls)."""

from __future__ import annotations

import reflex as rx

from portal_app import routes

TAP = "44px"
SIDEBAR_WIDTH = "248px"
DESKTOP = "md"  # Reflex's md breakpoint: 48em = 768 px

# (label, href, icon). The guide's words: "Sales > Recurring Plans".
TOP = [("Dashboard", routes.CONSOLE_HOME, "layout_dashboard")]
SALES = [
    ("Recurring Plans", routes.CONSOLE_PLANS, "repeat"),
    ("Subscribers", routes.CONSOLE_SUBSCRIBERS, "users"),
]
REST = [
    ("Sent emails", routes.CONSOLE_OUTBOX, "mail"),
    ("Webhooks", routes.CONSOLE_WEBHOOKS, "webhook"),
    ("API keys", routes.CONSOLE_SETTINGS + "#api-keys", "key_round"),
    ("Settings", routes.CONSOLE_SETTINGS, "settings"),
]


def _link(label: str, href: str, icon: str, current: str, in_sheet: bool) -> rx.Component:
    here = href == current
    link = rx.link(
        rx.icon(icon, size=18, aria_hidden="true"),
        rx.text(label, as_="span"),
        href=href,
        aria_current="page" if here else None,
        display="flex",
        align_items="center",
        gap="10px",
        min_height=TAP,
        padding="0 12px",
        border_radius="var(--radius-2)",
        size="2",
        weight="medium",
        underline="none",
        color="var(--accent-12)" if here else "var(--gray-12)",
        background="var(--accent-4)" if here else "transparent",
        _hover={"background": "var(--gray-4)" if not here else "var(--accent-5)"},
    )
    return rx.el.li(rx.dialog.close(link) if in_sheet else link, list_style="none")


def _links(items, current: str, in_sheet: bool) -> rx.Component:
    return rx.el.ul(
        *[_link(label, href, icon, current, in_sheet) for label, href, icon in items],
        padding="0",
        margin="0",
        display="flex",
        flex_direction="column",
        gap="2px",
    )


def _nav(current: str, in_sheet: bool) -> rx.Component:
    group_id = "nav-sales-sheet" if in_sheet else "nav-sales"
    return rx.el.nav(
        _links(TOP, current, in_sheet),
        rx.el.div(
            rx.text(
                "Sales",
                id=group_id,
                size="1",
                weight="bold",
                color="var(--gray-11)",
                text_transform="uppercase",
                letter_spacing="0.04em",
                padding="14px 12px 4px",
                as_="p",
            ),
            rx.el.div(_links(SALES, current, in_sheet), role="group", aria_labelledby=group_id),
        ),
        rx.el.div(_links(REST, current, in_sheet), margin_top="14px"),
        aria_label="Console",
        width="100%",
    )


def _account(user_email, sign_out: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.text(user_email, size="1", color="var(--gray-11)", word_break="break-all", data_testid="console-user"),
        sign_out,
        spacing="2",
        width="100%",
        padding_top="12px",
        border_top="1px solid var(--gray-5)",
    )


def _merchant(merchant_name, test_mode) -> rx.Component:
    return rx.flex(
        rx.text(merchant_name, size="3", weight="bold", as_="p"),
        rx.cond(test_mode, rx.badge("Test mode", color_scheme="amber", size="1", high_contrast=True, role="status")),
        align="center",
        gap="8px",
        wrap="wrap",
    )


def sidebar(*, current: str, merchant_name, user_email, test_mode, sign_out: rx.Component) -> rx.Component:
    """Desktop: the left-hand menu: a full-height column whose contents stay in view (sticky)."""
    return rx.el.header(
        rx.vstack(
            _merchant(merchant_name, test_mode),
            _nav(current, in_sheet=False),
            rx.spacer(),
            _account(user_email, sign_out),
            spacing="4",
            width="100%",
            position="sticky",
            top="0",
            height="100vh",
            overflow_y="auto",
            padding="20px 12px",
        ),
        display=rx.breakpoints(initial="none", **{DESKTOP: "block"}),
        width=SIDEBAR_WIDTH,
        flex_shrink="0",
        align_self="stretch",
        background="var(--color-panel-solid)",
        border_right="1px solid var(--gray-5)",
    )


def phone_bar(*, current: str, merchant_name, user_email, test_mode, sign_out: rx.Component) -> rx.Component:
    """Phones: one slim bar (menu button and the merchant's name) instead of the sidebar."""
    return rx.el.header(
        rx.flex(
            rx.dialog.root(
                rx.dialog.trigger(
                    rx.button(
                        rx.icon("menu", size=20, aria_hidden="true"),
                        "Menu",
                        variant="soft",
                        color_scheme="gray",
                        size="3",
                        min_height=TAP,
                        min_width=TAP,
                        data_testid="console-menu-button",
                    )
                ),
                rx.dialog.content(
                    rx.vstack(
                        rx.flex(
                            rx.dialog.title("Menu", size="4", margin="0"),
                            rx.dialog.close(
                                rx.icon_button(
                                    rx.icon("x", size=20, aria_hidden="true"),
                                    variant="ghost",
                                    color_scheme="gray",
                                    size="3",
                                    aria_label="Close the menu",
                                    min_height=TAP,
                                    min_width=TAP,
                                )
                            ),
                            justify="between",
                            align="center",
                            width="100%",
                        ),
                        _merchant(merchant_name, test_mode),
                        _nav(current, in_sheet=True),
                        _account(user_email, sign_out),
                        spacing="4",
                        width="100%",
                    ),
                    aria_describedby=None,
                    position="fixed",
                    top="0",
                    left="0",
                    bottom="0",
                    width="min(300px, 86vw)",
                    max_width="none",
                    height="100dvh",
                    max_height="100dvh",
                    margin="0",
                    border_radius="0 var(--radius-4) var(--radius-4) 0",
                    padding="16px",
                    overflow_y="auto",
                    data_testid="console-menu",
                ),
            ),
            _merchant(merchant_name, test_mode),
            align="center",
            gap="12px",
            padding="6px 12px",
        ),
        display=rx.breakpoints(initial="block", **{DESKTOP: "none"}),
        position="sticky",
        top="0",
        z_index="5",
        background="var(--color-panel-solid)",
        border_bottom="1px solid var(--gray-5)",
    )
