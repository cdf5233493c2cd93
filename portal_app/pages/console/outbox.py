"""/console/outbox ("Sent emails"): every email sent to the merchant's subscribers, newest first. Without an SMTP
server this is where they wait (and where a merchant copies a link by hand). With one, each email
says where its delivery stands, and a failed one can be resent."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import outbox as outbox_facade
from portal_app.components.console_layout import TAP, section
from portal_app.i18n import translate
from portal_app.pages.console.base import ConsoleState, console_page, to_sign_in
from portal_app.settings import get_settings


class ConsoleOutboxState(ConsoleState):
    messages: list[dict[str, str]] = []
    page_number: int = 1
    has_next: bool = False
    smtp_configured: bool = False

    def _fetch(self, merchant_id: int) -> None:
        rows, self.has_next = outbox_facade.list_outbox(merchant_id=merchant_id, page=self.page_number)
        self.messages = [
            {
                "id": str(m.message_id),
                "at": m.created_at.strftime("%b %-d, %Y, %H:%M UTC"),
                "at_iso": m.created_at.isoformat(),
                "to": m.to_address,
                "subject": m.subject,
                "kind": m.kind,
                "kind_label": KIND_LABELS.get(m.kind, m.kind.replace("_", " ").capitalize()),
                "status": m.status,
                "label": m.status_label,
                "delivery": m.delivery,
                "error": m.error,
                "can_resend": "1" if m.can_resend else "",
                "body": m.body_text,
                "profile": routes.console_subscriber_url(m.subscriber_id) if m.subscriber_id else "",
            }
            for m in rows
        ]

    @rx.event
    def load(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self.smtp_configured = bool(get_settings().smtp_host)
        self.page_number = 1
        self._fetch(identity.merchant_id)

    @rx.event
    def change_page(self, delta: int):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        if delta not in (-1, 1) or (delta == 1 and not self.has_next) or self.page_number + delta < 1:
            return
        self.page_number += delta
        self._fetch(identity.merchant_id)

    @rx.event
    def resend(self, email_id: str):
        """Send a failed email again: the facade checks the id (any type) belongs to this merchant."""
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            notice = outbox_facade.resend_email(
                merchant_id=identity.merchant_id, user_id=identity.user_id, email_id=email_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._fetch(identity.merchant_id)
        return rx.toast.success(notice)


RESEND = translate("en", "console", "Resend")
LAST_ERROR = translate("en", "console", "Mail server's answer:")


def _delivery(m) -> rx.Component:
    """Where delivery stands, the server's last answer, and Resend for a failed email."""
    return rx.flex(
        rx.vstack(
            rx.text(m["delivery"], size="1", color_scheme="gray", data_testid="email-delivery"),
            rx.cond(
                m["error"] != "",
                rx.text(
                    LAST_ERROR,
                    " ",
                    m["error"],
                    size="1",
                    color_scheme="red",
                    word_break="break-word",
                    data_testid="email-error",
                ),
            ),
            spacing="0",
            flex="1",
            min_width="0",
        ),
        rx.cond(
            m["can_resend"] != "",
            rx.button(
                RESEND,
                size="3",
                variant="soft",
                min_height=TAP,
                on_click=ConsoleOutboxState.resend(m["id"]),
                aria_label=RESEND + ": " + m["subject"],
                data_testid="email-resend",
            ),
        ),
        justify="between",
        align="center",
        wrap="wrap",
        spacing="3",
        padding="0 4px 10px",
        width="100%",
    )


KIND_LABELS = {
    "invitation": "Invitation",
    "receipt": "Receipt",
    "payment_failed": "Payment failed",
    "card_expiring": "Card expiring",
    "cancellation": "Cancellation",
    "new_link": "New portal link",
}


def _message(m) -> rx.Component:
    """One email: subject, recipient, kind, status and date at a glance; opened, its text as written
    (a proportional font, its line breaks kept)."""
    return rx.el.li(
        rx.el.details(
            rx.el.summary(
                rx.icon(
                    "chevron_right",
                    size=18,
                    aria_hidden="true",
                    class_name="email-chevron",
                    flex_shrink="0",
                    margin_top="2px",
                ),
                rx.flex(
                    rx.vstack(
                        rx.text(m["subject"], weight="bold", size="2", word_break="break-word"),
                        rx.text("To ", m["to"], size="2", color_scheme="gray", word_break="break-all"),
                        spacing="1",
                        flex="1 1 260px",
                        min_width="0",
                    ),
                    rx.flex(
                        rx.badge(m["kind_label"], size="1", variant="outline", color_scheme="gray"),
                        rx.badge(
                            m["label"],
                            size="2",
                            color_scheme=rx.match(
                                m["status"], ("sent", "green"), ("failed", "red"), ("queued", "amber"), "gray"
                            ),
                            data_testid="email-status",
                            data_status=m["status"],
                        ),
                        rx.el.time(m["at"], date_time=m["at_iso"], font_size="13px", color="var(--gray-11)"),
                        spacing="2",
                        align="center",
                        wrap="wrap",
                    ),
                    justify="between",
                    align="center",
                    spacing="3",
                    wrap="wrap",
                    width="100%",
                ),
                cursor="pointer",
                padding="10px 4px",
                min_height=TAP,
                display="flex",
                gap="8px",
                align_items="flex-start",
                list_style="none",
                style={"&::-webkit-details-marker": {"display": "none"}},
            ),
            rx.el.div(
                m["body"],
                white_space="pre-line",
                word_break="break-word",
                font_size="15px",
                line_height="1.55",
                padding="16px",
                background="var(--gray-2)",
                border="1px solid var(--gray-5)",
                border_radius="8px",
                max_width="68ch",
                data_testid="email-body",
            ),
            rx.cond(
                m["profile"] != "",
                rx.link(
                    "Open subscriber",
                    href=m["profile"],
                    size="2",
                    min_height=TAP,
                    display="inline-flex",
                    align_items="center",
                ),
            ),
        ),
        rx.cond(m["delivery"] != "", _delivery(m)),
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        # The chevron turns down while the email is open.
        style={"& details[open] .email-chevron": {"transform": "rotate(90deg)"}},
        data_testid="outbox-message",
        data_kind=m["kind"],
    )


def outbox_page() -> rx.Component:
    O = ConsoleOutboxState
    return console_page(
        rx.heading("Sent emails", size="6", as_="h1"),
        rx.text(
            rx.cond(
                O.smtp_configured,
                "Every email to your subscribers, newest first, delivered by your mail server. Open one to read it.",
                "Every email to your subscribers, newest first. No mail server is configured, so they are "
                "kept here and not sent: open one to read it.",
            ),
            color_scheme="gray",
            size="2",
        ),
        section(
            rx.cond(
                O.messages.length() > 0,
                rx.el.ul(rx.foreach(O.messages, _message), padding="0", margin="0", width="100%"),
                rx.text("No emails yet.", color_scheme="gray"),
            ),
            rx.flex(
                rx.button(
                    "Newer",
                    size="3",
                    variant="soft",
                    min_height=TAP,
                    disabled=O.page_number <= 1,
                    on_click=O.change_page(-1),
                ),
                rx.text("Page ", O.page_number.to_string(), size="2"),
                rx.button(
                    "Older", size="3", variant="soft", min_height=TAP, disabled=~O.has_next, on_click=O.change_page(1)
                ),
                spacing="3",
                align="center",
            ),
        ),
        current=routes.CONSOLE_OUTBOX,
    )
