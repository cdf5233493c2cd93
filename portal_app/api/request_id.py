"""Pure ASGI: every HTTP request gets an id that each log line written while serving it carries
(portal_app/logconfig.py), and the response says it in `X-Request-ID` so a person can find the lines.

A well-formed id set by the proxy in front (nginx `$request_id`, a UUID) is kept, so the proxy's log
and ours share it; anything else is replaced by a random one. Websockets (Reflex's event socket) get
no id here: each Reflex event gets its own (portal_app/event_ids.py).
"""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal_app.logconfig import reset_request_id, set_request_id

HEADER = b"x-request-id"
_WELL_FORMED = re.compile(rb"[A-Za-z0-9-]{8,64}")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == HEADER and _WELL_FORMED.fullmatch(value):
            return value.decode("ascii")
    return secrets.token_hex(6)


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != HEADER]
                message = {**message, "headers": [*headers, (HEADER, request_id.encode())]}
            await send(message)

        token = set_request_id(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            reset_request_id(token)
