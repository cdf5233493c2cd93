"""The app's backend exception handler (rx.App(backend_exception_handler=...)): a database outage that
escapes an event handler (e.g. while the session is checked) shows a calm toast and logs one line
without SQL; anything else gets Reflex's own handling (traceback logged, masked by logredact)."""

import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec

from portal_app.billing.facades.outage import ServiceUnavailable, is_database_outage, log_outage

OUTAGE_TOAST = "We can't reach our records right now. Nothing was changed. Please try again in a minute."


def calm_backend_exception_handler(exception: Exception) -> EventSpec:
    if is_database_outage(exception) or isinstance(exception, ServiceUnavailable):
        if is_database_outage(exception):
            log_outage(exception, "an event handler")
        return rx.toast.error(OUTAGE_TOAST, id="backend_error", position="top-center")
    return default_backend_exception_handler(exception)
