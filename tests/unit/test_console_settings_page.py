"""The settings page sends no file, password or session secret through Reflex: the logo, password
and sign-out-everywhere forms are plain HTML forms posting to our HTTP routes, and no page uses
Reflex's upload component (so Reflex never even mounts its /_upload endpoint)."""

from __future__ import annotations

from reflex_components_core.core.upload import Upload

from portal_app import portal_app, routes
from portal_app.pages.console.settings import ConsoleSettingsState, settings_page


def _rendered(component) -> str:
    return str(component.render())


def test_settings_forms_post_to_our_routes():
    page = _rendered(settings_page())
    for action, enctype in [
        (routes.API_CONSOLE_LOGO, "multipart/form-data"),
        (routes.API_CONSOLE_PASSWORD, None),
        (routes.API_CONSOLE_SIGN_OUT_EVERYWHERE, None),
    ]:
        assert f'"{action}"' in page
        if enctype:
            assert f'"{enctype}"' in page
    for name in ("current_password", "new_password", "repeat_password", "logo"):
        assert f'"{name}"' in page


def test_no_reflex_handler_takes_a_file_or_a_password():
    handlers = set(ConsoleSettingsState.event_handlers)
    assert not {h for h in handlers if "upload" in h or "password" in h}, handlers


def test_no_page_uses_reflex_upload():
    for page in portal_app.app._unevaluated_pages.values():
        page.component() if callable(page.component) else page.component
    assert Upload.is_used is False
