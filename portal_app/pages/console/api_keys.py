"""Settings → API keys: the merchant's keys (name, prefix, created, last used, status), creating one
(its secret shown once, by the browser: components/api_key_secret.py) and revoking one (confirmed).

The state holds prefixes and dates only; the secret never passes through Reflex."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import api_keys as api_keys_facade
from portal_app.components.api_key_secret import NAME_ID, create_key, secret_dialog
from portal_app.components.console_layout import TAP, labelled, section
from portal_app.components.layout import error_callout
from portal_app.components.profile_parts import confirm_dialog
from portal_app.pages.console.base import ConsoleState, day, to_sign_in

OUTCOME_ERRORS = {
    "invalid": f"The key's name can be at most {api_keys_facade.MAX_NAME_LENGTH} characters.",
    "error": "Something went wrong. Please try again.",
}


class ConsoleApiKeysState(ConsoleState):
    api_keys: list[dict[str, str]] = []
    api_key_error: str = ""
    revoke_id: str = ""  # the key the open confirm dialog is about ("" when closed)
    revoke_label: str = ""

    def _refresh_keys(self, merchant_id: int) -> None:
        self.api_keys = [
            {
                "id": str(k.key_id),
                "name": k.name or "Unnamed key",
                "prefix": k.prefix + "…",
                "created": day(k.created_at),
                "last_used": day(k.last_used_at) if k.last_used_at else "Never",
                "status": "Active" if k.active else "Revoked " + day(k.revoked_at),
                "active": "yes" if k.active else "",
            }
            for k in api_keys_facade.list_keys(merchant_id=merchant_id)
        ]

    @rx.event
    def load(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        self.api_key_error, self.revoke_id, self.revoke_label = "", "", ""
        self._refresh_keys(identity.merchant_id)

    @rx.event
    def key_outcome(self, outcome: str):
        """How creating or copying a key went in the browser (a code, never the key)."""
        identity = self._authorize()
        if identity is None or outcome == "signed_out":
            return to_sign_in()
        if outcome == "copied":
            return rx.toast.success("API key copied.")
        if outcome == "created":
            self.api_key_error = ""
            self._refresh_keys(identity.merchant_id)
            return
        self.api_key_error = OUTCOME_ERRORS.get(outcome, OUTCOME_ERRORS["error"]) if isinstance(outcome, str) else ""

    @rx.event
    def ask_revoke(self, key_id: str):
        """Open the confirm dialog for one of the listed keys (any other id: nothing opens)."""
        self.revoke_id, self.revoke_label = "", ""
        if self._authorize() is None:
            return to_sign_in()
        key = next((k for k in self.api_keys if isinstance(key_id, str) and k["id"] == key_id and k["active"]), None)
        if key is not None:
            self.revoke_id, self.revoke_label = key["id"], f"{key['name']} ({key['prefix']})"

    @rx.event
    def close_revoke(self, open_: bool):
        if open_ is not True:
            self.revoke_id, self.revoke_label = "", ""

    @rx.event
    def revoke(self):
        identity = self._authorize()
        if identity is None:
            return to_sign_in()
        key_id, self.revoke_id = self.revoke_id, ""
        try:
            row = api_keys_facade.revoke_key(merchant_id=identity.merchant_id, user_id=identity.user_id, key_id=key_id)
        except BillingError:
            self._refresh_keys(identity.merchant_id)
            return rx.toast.error("That API key no longer exists.")
        self._refresh_keys(identity.merchant_id)
        return rx.toast.success(f"API key {row.prefix}… revoked. It no longer works.")


def _key_row(key) -> rx.Component:
    """One key: name and prefix, then created / last used / status, and Revoke (wraps on phones)."""
    S = ConsoleApiKeysState
    return rx.el.li(
        rx.flex(
            rx.vstack(
                rx.text(key["name"], weight="medium", word_break="break-word"),
                rx.code(key["prefix"], variant="ghost", size="2"),
                spacing="1",
                flex="1 1 200px",
            ),
            rx.flex(
                rx.text("Created ", key["created"], size="2", color_scheme="gray"),
                rx.text("Last used: ", key["last_used"], size="2", color_scheme="gray"),
                rx.badge(key["status"], color_scheme=rx.cond(key["active"] != "", "green", "gray"), size="2"),
                rx.cond(
                    key["active"] != "",
                    rx.button(
                        "Revoke",
                        size="2",
                        variant="soft",
                        color_scheme="red",
                        min_height=TAP,
                        aria_label="Revoke " + key["name"],
                        on_click=S.ask_revoke(key["id"]),
                    ),
                ),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            justify="between",
            align="center",
            wrap="wrap",
            spacing="2",
            width="100%",
        ),
        padding="8px 0",
        border_bottom="1px solid var(--gray-4)",
        list_style="none",
        data_testid="api-key-row",
    )


def api_keys_section() -> rx.Component:
    S = ConsoleApiKeysState
    return section(
        rx.text(
            "Keys let your own systems call the REST API as this merchant. Each key's secret is shown once, "
            "when you create it.",
            size="2",
            color_scheme="gray",
        ),
        rx.cond(
            S.api_keys.length() > 0,
            rx.el.ul(rx.foreach(S.api_keys, _key_row), padding="0", margin="0", width="100%"),
            rx.text("No API keys yet.", color_scheme="gray", data_testid="no-api-keys"),
        ),
        rx.flex(
            rx.box(
                labelled(
                    "Name (optional)",
                    NAME_ID,
                    rx.input(
                        id=NAME_ID,
                        max_length=api_keys_facade.MAX_NAME_LENGTH,
                        placeholder="e.g. CRM sync",
                        size="3",
                        width="100%",
                        auto_complete="off",
                    ),
                ),
                flex="1 1 240px",
            ),
            rx.button(
                rx.icon("key-round", size=16, aria_hidden="true"),
                "Create API key",
                size="3",
                min_height=TAP,
                type="button",
                on_click=create_key(S.key_outcome),
            ),
            spacing="3",
            align="end",
            wrap="wrap",
            width="100%",
        ),
        error_callout(S.api_key_error),
        secret_dialog(S.key_outcome),
        confirm_dialog(
            "Revoke this API key?",
            "Requests made with " + S.revoke_label + " will be refused from now on. This cannot be undone.",
            "Revoke key",
            S.revoke,
            open_=S.revoke_id != "",
            on_open_change=S.close_revoke,
        ),
        title="API keys",
        id="api-keys",
        scroll_margin_top="16px",
    )
