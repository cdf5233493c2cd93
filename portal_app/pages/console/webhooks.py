"""/console/webhooks: the merchant's webhook endpoints (add, delete), and per endpoint its delivery
log (event, status code, latency, attempts, next try) with Resend. A new endpoint's signing secret
is shown once in the dialog that created it, and cleared from the state when that dialog closes."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import webhooks as webhooks_facade
from portal_app.components.console_layout import TAP, labelled, section
from portal_app.components.layout import error_callout
from portal_app.pages.console.base import ConsoleState, console_page, to_sign_in

EVENT_TYPES = list(webhooks_facade.EVENT_TYPES)
TYPE_FIELD = "type:"


class ConsoleWebhooksState(ConsoleState):
    endpoints: list[dict[str, str]] = []
    selected: str = ""  # the endpoint whose delivery log is open
    selected_url: str = ""
    deliveries: list[dict[str, str]] = []
    add_open: bool = False
    add_error: str = ""
    # The new endpoint's signing secret, only while the dialog that created it is open.
    new_secret: str = ""

    def _fetch(self, merchant_id: int) -> None:
        rows = webhooks_facade.list_webhook_endpoints(merchant_id=merchant_id)
        self.endpoints = [
            {
                "id": str(e.id),
                "url": e.url,
                "types": e.types,
                "status": e.status,
                "enabled": "1" if e.enabled else "",
                "reason": e.disabled_reason,
                "created": e.created,
            }
            for e in rows
        ]
        if self.selected and self.selected not in {e["id"] for e in self.endpoints}:
            self.selected, self.selected_url, self.deliveries = "", "", []
        if self.selected:
            self._fetch_deliveries(merchant_id)

    def _fetch_deliveries(self, merchant_id: int) -> None:
        rows = webhooks_facade.endpoint_deliveries(merchant_id=merchant_id, endpoint_id=self.selected)
        self.deliveries = [
            {
                "id": str(d.id),
                "type": d.event_type,
                "event": d.event_id,
                "status": d.status,
                "label": d.status_label,
                "code": d.status_code,
                "latency": d.latency,
                "attempts": d.attempts,
                "next": d.next_try,
                "error": d.error,
                "can_resend": "1" if d.can_resend else "",
            }
            for d in rows
        ]

    @rx.event
    def load(self):
        self.new_secret, self.add_open, self.add_error = "", False, ""
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        self._fetch(identity.merchant_id)

    @rx.event
    def set_add_open(self, is_open: bool):
        """Open or close the add dialog; closing forgets the secret shown in it."""
        if self._authorize() is None:
            return to_sign_in()
        self.add_open = bool(is_open) if isinstance(is_open, bool) else False
        self.add_error = ""
        if not self.add_open:
            self.new_secret = ""

    @rx.event
    def add(self, form: dict):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        if not isinstance(form, dict):
            return
        types = [t for t in EVENT_TYPES if form.get(TYPE_FIELD + t) in ("on", True, "true")]
        try:
            _, secret = webhooks_facade.add_endpoint(
                merchant_id=identity.merchant_id, user_id=identity.user_id, url=form.get("url"), event_types=types
            )
        except BillingError as err:
            self.add_error = err.message
            return
        self.add_error = ""
        self.new_secret = secret
        self._fetch(identity.merchant_id)

    @rx.event
    def delete(self, endpoint_id: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            webhooks_facade.remove_endpoint(
                merchant_id=identity.merchant_id, user_id=identity.user_id, endpoint_id=endpoint_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._fetch(identity.merchant_id)
        return rx.toast.success("Endpoint deleted: nothing more is sent to it.")

    @rx.event
    def show_deliveries(self, endpoint_id: str):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        match = (
            next((e for e in self.endpoints if e["id"] == endpoint_id), None) if isinstance(endpoint_id, str) else None
        )
        try:
            if match is None:
                raise BillingError("Webhook endpoint not found")
            self.selected, self.selected_url = endpoint_id, match["url"]
            self._fetch_deliveries(identity.merchant_id)
        except BillingError as err:
            self.selected, self.selected_url, self.deliveries = "", "", []
            return rx.toast.error(err.message)

    @rx.event
    def refresh(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self._fetch(identity.merchant_id)

    @rx.event
    def resend(self, delivery_id: str):
        """Send a delivery again: the facade checks the id (any type) belongs to this merchant."""
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        try:
            notice = webhooks_facade.resend(
                merchant_id=identity.merchant_id, user_id=identity.user_id, delivery_id=delivery_id
            )
        except BillingError as err:
            return rx.toast.error(err.message)
        self._fetch(identity.merchant_id)
        return rx.toast.success(notice)


W = ConsoleWebhooksState


def _type_choice(event_type: str) -> rx.Component:
    return rx.el.label(
        rx.flex(
            rx.checkbox(name=TYPE_FIELD + event_type, size="3", aria_label=event_type),
            rx.code(event_type, size="2"),
            spacing="2",
            align="center",
            min_height=TAP,
        ),
    )


def _secret_view() -> rx.Component:
    return rx.vstack(
        rx.callout(
            "Copy the signing secret now: it is not shown again. Your receiver verifies each request with it.",
            icon="key-round",
            color_scheme="amber",
            size="2",
        ),
        rx.code(W.new_secret, size="3", word_break="break-all", data_testid="webhook-secret"),
        rx.flex(
            rx.button(
                "Copy secret",
                size="3",
                min_height=TAP,
                on_click=[rx.set_clipboard(W.new_secret), rx.toast.success("Secret copied")],
                data_testid="webhook-secret-copy",
            ),
            rx.dialog.close(rx.button("Done", variant="soft", size="3", min_height=TAP, data_testid="webhook-done")),
            spacing="3",
            wrap="wrap",
        ),
        spacing="3",
        width="100%",
    )


def _add_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            labelled(
                "Endpoint URL",
                "webhook-url",
                rx.input(
                    id="webhook-url",
                    name="url",
                    type="url",
                    placeholder="https://example.com/webhooks",
                    max_length=2048,
                    required=True,
                    size="3",
                    width="100%",
                ),
                hint="We POST each event here, signed (Standard Webhooks). https:// in production.",
            ),
            rx.text("Events (none chosen: all of them)", size="2", weight="medium"),
            rx.flex(*[_type_choice(t) for t in EVENT_TYPES], direction="column", spacing="0"),
            error_callout(W.add_error),
            rx.flex(
                rx.button("Add endpoint", type="submit", size="3", min_height=TAP, data_testid="webhook-add-submit"),
                rx.dialog.close(
                    rx.button("Cancel", type="button", variant="soft", color_scheme="gray", size="3", min_height=TAP)
                ),
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        on_submit=W.add,
        reset_on_submit=False,
        aria_label="Add a webhook endpoint",
    )


def add_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(rx.button("Add endpoint", size="3", min_height=TAP, data_testid="webhook-add")),
        rx.dialog.content(
            rx.dialog.title("Add a webhook endpoint"),
            rx.cond(W.new_secret != "", _secret_view(), _add_form()),
            max_width="520px",
        ),
        open=W.add_open,
        on_open_change=W.set_add_open,
    )


def _delete_button(e) -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.trigger(
            rx.button(
                "Delete",
                size="3",
                variant="soft",
                color_scheme="red",
                min_height=TAP,
                aria_label="Delete " + e["url"],
                data_testid="webhook-delete",
            )
        ),
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete this endpoint?"),
            rx.alert_dialog.description(
                "Nothing more is sent to " + e["url"] + ". Deliveries still waiting are dropped.", size="2"
            ),
            rx.flex(
                rx.alert_dialog.action(
                    rx.button(
                        "Delete",
                        color_scheme="red",
                        size="3",
                        min_height=TAP,
                        on_click=W.delete(e["id"]),
                        data_testid="webhook-delete-confirm",
                    )
                ),
                rx.alert_dialog.cancel(
                    rx.button("Keep", variant="soft", color_scheme="gray", size="3", min_height=TAP)
                ),
                spacing="3",
                margin_top="12px",
                wrap="wrap",
            ),
        ),
    )


def _endpoint(e) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.text(e["url"], weight="medium", size="2", word_break="break-all", data_testid="webhook-url"),
                rx.text(e["types"], " · added ", e["created"], size="1", color_scheme="gray"),
                rx.cond(
                    e["reason"] != "",
                    rx.text(e["reason"], size="1", color_scheme="red", data_testid="webhook-disabled-reason"),
                ),
                spacing="1",
                flex="1 1 240px",
                min_width="0",
            ),
            rx.badge(
                e["status"],
                size="2",
                color_scheme=rx.cond(e["enabled"] != "", "green", "red"),
                data_testid="webhook-status",
            ),
            rx.flex(
                rx.button(
                    "Deliveries",
                    size="3",
                    variant="soft",
                    min_height=TAP,
                    on_click=W.show_deliveries(e["id"]),
                    aria_label="Deliveries to " + e["url"],
                    data_testid="webhook-show-deliveries",
                ),
                _delete_button(e),
                spacing="2",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        padding="10px 4px",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="webhook-endpoint",
    )


def _delivery(d) -> rx.Component:
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.flex(
                    rx.code(d["type"], size="2"),
                    rx.badge(
                        d["label"],
                        size="2",
                        color_scheme=rx.match(
                            d["status"], ("delivered", "green"), ("failed", "red"), ("pending", "amber"), "gray"
                        ),
                        data_testid="delivery-status",
                        data_status=d["status"],
                    ),
                    spacing="2",
                    wrap="wrap",
                    align="center",
                ),
                rx.text(
                    d["event"], size="1", color_scheme="gray", word_break="break-all", data_testid="delivery-event"
                ),
                rx.text(
                    "HTTP ",
                    d["code"],
                    " · ",
                    d["latency"],
                    " · attempt ",
                    d["attempts"],
                    rx.cond(d["next"] != "", " · next try " + d["next"], ""),
                    size="1",
                    data_testid="delivery-facts",
                ),
                rx.cond(d["error"] != "", rx.text(d["error"], size="1", color_scheme="red", word_break="break-word")),
                spacing="1",
                flex="1 1 240px",
                min_width="0",
            ),
            rx.cond(
                d["can_resend"] != "",
                rx.button(
                    "Resend",
                    size="3",
                    variant="soft",
                    min_height=TAP,
                    on_click=W.resend(d["id"]),
                    aria_label="Resend " + d["event"],
                    data_testid="delivery-resend",
                ),
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        padding="10px 4px",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="webhook-delivery",
    )


def webhooks_page() -> rx.Component:
    return console_page(
        rx.flex(
            rx.heading("Webhooks", size="6", as_="h1"),
            add_dialog(),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="3",
            width="100%",
        ),
        rx.text(
            "Events (subscriptions, invoices, cards, portal links) are POSTed to your endpoints, signed per "
            "Standard Webhooks, and retried for about a day. An endpoint that keeps failing is disabled; "
            "resending one of its deliveries turns it back on.",
            color_scheme="gray",
            size="2",
        ),
        section(
            rx.cond(
                W.endpoints.length() > 0,
                rx.el.ul(rx.foreach(W.endpoints, _endpoint), padding="0", margin="0", width="100%"),
                rx.text("No endpoints yet.", color_scheme="gray"),
            ),
            title="Endpoints",
        ),
        rx.cond(
            W.selected != "",
            section(
                rx.flex(
                    rx.text("To ", W.selected_url, size="2", color_scheme="gray", word_break="break-all"),
                    rx.button("Refresh", size="3", variant="soft", min_height=TAP, on_click=W.refresh),
                    justify="between",
                    align="center",
                    wrap="wrap",
                    spacing="3",
                    width="100%",
                ),
                rx.cond(
                    W.deliveries.length() > 0,
                    rx.el.ul(rx.foreach(W.deliveries, _delivery), padding="0", margin="0", width="100%"),
                    rx.text("No deliveries yet: events recorded from now on are sent here.", color_scheme="gray"),
                ),
                title="Delivery log",
                data_testid="delivery-log",
            ),
        ),
        current=routes.CONSOLE_WEBHOOKS,
    )
