"""/console (sign in) and /console/signup. The forms post to plain HTTP routes (api/console.py), which
set the HttpOnly session cookie; these pages only render them and the error they report."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.components.console_layout import native_form
from portal_app.components.layout import centered_card, error_callout
from portal_app.state import ConsoleAuthState

_ERRORS = {
    # One answer for a wrong password, an unknown email and a throttled attempt (nothing to learn from it).
    "invalid": "Email or password is not right, or there were too many attempts: wait a few minutes and try again.",
    "throttled": "Too many attempts. Wait a few minutes and try again.",
}


# A failed sign-in comes back as /console?error=...: the page's own script keeps the email typed in
# this tab's sessionStorage when the form is submitted (never in a URL, a log line or server state; no
# Reflex event carries it) and puts it back after the error redirect; any other visit forgets it.
EMAIL_KEY = "console-login-email"
KEEP_EMAIL_JS = """(() => {
  const KEY = '__KEY__';
  if (!window.__consoleKeepEmail) {
    window.__consoleKeepEmail = true;
    document.addEventListener('submit', (e) => {
      const field = document.getElementById('console-email');
      if (field && e.target.contains(field)) sessionStorage.setItem(KEY, field.value);
    }, true);
  }
  if (location.pathname.replace(/\\/$/, '') !== '__PATH__') return;
  if (!new URLSearchParams(location.search).has('error')) { sessionStorage.removeItem(KEY); return; }
  let tries = 0;
  const restore = () => {
    const value = sessionStorage.getItem(KEY);
    const field = document.getElementById('console-email');
    if (!value) return;
    if (!field) { if (tries++ < 50) setTimeout(restore, 100); return; }
    if (!field.value) {
      field.value = value;
      const password = document.getElementById('console-password');
      if (password) password.focus();
    }
  };
  restore();
})();""".replace("__KEY__", EMAIL_KEY).replace("__PATH__", routes.CONSOLE)


class ConsoleLoginState(ConsoleAuthState):
    error: str = ""

    @rx.event
    def load_login(self):
        """Signed-in users go straight to the dashboard; errors come back as ?error=<code>."""
        if self._console_identity() is not None:
            return rx.redirect(routes.CONSOLE_HOME, replace=True)
        code = self.router.url.query_parameters.get("error", "")
        self.error = _ERRORS.get(code, "")

    @rx.event
    def load_signup(self):
        if self._console_identity() is not None:
            return rx.redirect(routes.CONSOLE_HOME, replace=True)
        code = self.router.url.query_parameters.get("error", "")
        # Sign-up errors are AccountError messages we wrote; cap the length of what is echoed.
        self.error = _ERRORS.get(code, code[:200])


def _field(label: str, name: str, kind: str, autocomplete: str, **events) -> rx.Component:
    field_id = f"console-{name}"
    return rx.vstack(
        rx.el.label(label, html_for=field_id, font_weight="500"),
        rx.input(
            id=field_id,
            name=name,
            type=kind,
            required=True,
            auto_complete=autocomplete,
            width="100%",
            size="3",
            max_length=254 if kind == "email" else 256,
            **events,
        ),
        spacing="1",
        width="100%",
    )


def _error_callout() -> rx.Component:
    return error_callout(ConsoleLoginState.error, test_id="login-error")


def login_page() -> rx.Component:
    return centered_card(
        rx.heading("Merchant console", size="6", as_="h1"),
        rx.text("Sign in to manage plans, subscribers and payments.", color_scheme="gray"),
        _error_callout(),
        native_form(
            rx.vstack(
                _field("Email", "email", "email", "username"),
                _field("Password", "password", "password", "current-password"),
                rx.button("Sign in", type="submit", size="3", width="100%"),
                spacing="3",
                width="100%",
            ),
            method="post",
            action=routes.API_CONSOLE_LOGIN,
            width="100%",
        ),
        rx.text("New here? ", rx.link("Create an account", href=routes.CONSOLE_SIGNUP), size="2"),
        rx.script(KEEP_EMAIL_JS, id="console-keep-email"),
    )


def signup_page() -> rx.Component:
    return centered_card(
        rx.heading("Create your account", size="6", as_="h1"),
        _error_callout(),
        native_form(
            rx.vstack(
                _field("Company name", "company_name", "text", "organization"),
                _field("Email", "email", "email", "username"),
                _field("Password (at least 12 characters)", "password", "password", "new-password"),
                rx.button("Create account", type="submit", size="3", width="100%"),
                spacing="3",
                width="100%",
            ),
            method="post",
            action=routes.API_CONSOLE_SIGNUP,
            width="100%",
        ),
        rx.text("Already have an account? ", rx.link("Sign in", href=routes.CONSOLE), size="2"),
    )
