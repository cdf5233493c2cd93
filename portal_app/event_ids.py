"""Each Reflex event gets a log id: the event's transaction id (12 random hex digits Reflex makes per
event and prints in its own error lines as `txid=`), never the client token or anything from a cookie.

A Reflex middleware: preprocess runs in the task that then runs the handler, so every line the handler
(and the domain below it) logs carries the id (portal_app/logconfig.py); the task ends with the event.
"""

from __future__ import annotations

import secrets

from reflex.middleware import Middleware
from reflex_base.event.context import EventContext

from portal_app.logconfig import set_request_id


def event_log_id() -> str:
    try:
        txid = EventContext.get().txid
    except LookupError:
        txid = ""
    return txid or secrets.token_hex(6)


class EventLogIdMiddleware(Middleware):
    """Before any event is handled, log lines are tagged with that event's id."""

    async def preprocess(self, app, state, event):
        set_request_id(event_log_id())
        return None
