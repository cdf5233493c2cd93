"""Create an API key and show its secret once, without the secret ever entering Reflex state.

The browser posts the name to our authorized route (api/api_keys.py) and puts the answer into a
native <dialog> that is always in the page (so no Reflex var has to open it); Copy and Close act in
the browser too. Closing the dialog (button or Esc) empties the field. Only an outcome code
("created", "copied", "invalid", "signed_out", "error") goes back to the page's handler.
"""

from __future__ import annotations

import json

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import TAP

DIALOG_ID = "api-key-dialog"
SECRET_ID = "api-key-secret"
NAME_ID = "api-key-name"

_CREATE = """(async () => {
  const nameField = document.getElementById(%(name)s);
  let r;
  try {
    r = await fetch(%(api)s, {method: 'POST', credentials: 'same-origin', cache: 'no-store',
      headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({name: nameField ? nameField.value : ''})});
  } catch (e) { return 'error'; }
  if (r.status === 401) return 'signed_out';
  if (r.status === 400) return 'invalid';
  if (!r.ok) return 'error';
  const body = await r.json();
  const dialog = document.getElementById(%(dialog)s);
  const field = document.getElementById(%(secret)s);
  field.value = body.secret;
  if (nameField) nameField.value = '';
  dialog.addEventListener('close', () => { field.value = ''; }, {once: true});
  dialog.showModal();
  field.select();
  return 'created';
})()"""

_COPY = """(async () => {
  const field = document.getElementById(%(secret)s);
  if (!field || !field.value) return 'error';
  try { await navigator.clipboard.writeText(field.value); return 'copied'; } catch (e) { return 'error'; }
})()"""

_CLOSE = "(() => { const d = document.getElementById(%(dialog)s); if (d) d.close(); return ''; })()"


def _script(template: str) -> str:
    return template % {
        "api": json.dumps(routes.API_CONSOLE_API_KEYS),
        "name": json.dumps(NAME_ID),
        "dialog": json.dumps(DIALOG_ID),
        "secret": json.dumps(SECRET_ID),
    }


def create_key(on_outcome) -> rx.event.EventSpec:
    """Create a key named by the field NAME_ID and open the dialog with its secret."""
    return rx.call_script(_script(_CREATE), callback=on_outcome)


def copy_secret(on_outcome) -> rx.event.EventSpec:
    return rx.call_script(_script(_COPY), callback=on_outcome)


def secret_dialog(on_outcome) -> rx.Component:
    """The dialog the new secret is shown in (filled and opened by create_key's script);
    `on_outcome(code)` hears how Copy went."""
    return rx.el.dialog(
        rx.vstack(
            rx.heading("Your new API key", size="4", as_="h2", id="api-key-dialog-title"),
            rx.text(
                "Copy it now and keep it somewhere safe: you won't see it again. We store only a hash of it.",
                size="2",
            ),
            rx.el.input(
                id=SECRET_ID,
                read_only=True,
                aria_label="New API key",
                auto_complete="off",
                spell_check=False,
                data_testid="api-key-secret",
                style={
                    "width": "100%",
                    "min_height": TAP,
                    "padding": "0 12px",
                    "border": "1px solid var(--gray-7)",
                    "border_radius": "var(--radius-2)",
                    "font_family": "var(--code-font-family, monospace)",
                    "font_size": "14px",
                    "background": "var(--gray-2)",
                },
            ),
            rx.flex(
                rx.button(
                    rx.icon("copy", size=16, aria_hidden="true"),
                    "Copy",
                    size="3",
                    min_height=TAP,
                    type="button",
                    on_click=copy_secret(on_outcome),
                ),
                rx.button(
                    "Done",
                    size="3",
                    variant="soft",
                    color_scheme="gray",
                    min_height=TAP,
                    type="button",
                    on_click=rx.call_script(_script(_CLOSE)),
                ),
                spacing="3",
                justify="end",
                wrap="wrap",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
        id=DIALOG_ID,
        aria_labelledby="api-key-dialog-title",
        style={
            "width": "min(520px, calc(100vw - 32px))",
            "margin": "auto",  # centred (the CSS reset zeroes the browser's own auto margins)
            "padding": "24px",
            "border": "none",
            "border_radius": "var(--radius-4)",
            "background": "var(--color-panel-solid)",
            "color": "var(--gray-12)",
            "box_shadow": "var(--shadow-6)",
            "&::backdrop": {"background": "rgba(0, 0, 0, 0.45)"},
        },
    )
