"""A raw Socket.IO client for Reflex's event socket, the way an attacker talks to it: any client
token (a fresh one, or one captured from a victim's tab), any Cookie header or none, any event name
and payload. Everything the server sends back is kept, so a test can search it for data it must
not contain.

    with ReflexSocket(server["base_url"], token=stolen) as sock:
        sock.call(rx.State.get_full_name() + ".hydrate_and_load", path="/portal")  # waits for quiet
        assert victim_name not in sock.received_text()
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import socketio

NAMESPACE = "/_event"  # Reflex's event namespace and Socket.IO path (routes.REFLEX_EVENT)


def event_name(state_cls, handler: str) -> str:
    """The wire name of a handler: the state's full name, then the handler's."""
    return f"{state_cls.get_full_name()}.{handler}"


class ReflexSocket:
    """One connection to Reflex's event socket; `received` holds every update the server sent."""

    def __init__(
        self, base_url: str, *, token: str | None = None, cookie: str | None = None, headers: dict | None = None
    ):
        self.base_url = base_url
        self.token = token or str(uuid.uuid4())
        self.cookie = cookie
        self.headers = dict(headers or {})  # e.g. X-Forwarded-For, as a proxy in front of ours sends it
        self.received: list[Any] = []
        self._last_message = time.monotonic()
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._on_any, namespace=NAMESPACE)

    def _on_any(self, event, data=None):
        with self._lock:
            self.received.append({"event": event, "data": data})
            self._last_message = time.monotonic()

    def __enter__(self) -> ReflexSocket:
        self.client.connect(
            f"{self.base_url}?token={self.token}",
            socketio_path=NAMESPACE,
            namespaces=[NAMESPACE],
            transports=["websocket"],
            headers={**self.headers, **({"Cookie": self.cookie} if self.cookie else {})},
            wait_timeout=15,
        )
        return self

    def __exit__(self, *exc) -> None:
        self.client.disconnect()

    def send(self, name: str, payload: dict | None = None, *, path: str = "/", query: dict | None = None) -> None:
        """Emit one event as the frontend would, with router data for `path`."""
        router_data = {"pathname": path, "asPath": path, "query": query or {}}
        self.client.emit("event", {"name": name, "payload": payload or {}, "router_data": router_data}, NAMESPACE)

    def call(self, name: str, payload: dict | None = None, *, path: str = "/", query: dict | None = None, quiet=4.0):
        """Send an event and wait until the server has been quiet for `quiet` seconds (at most 20 s):
        long enough for the on_load handlers a hydrate chains (a profile load takes ~2 s on 2 cores)."""
        with self._lock:
            start = len(self.received)
        self.send(name, payload, path=path, query=query)
        self.wait_quiet(quiet, after=start)
        return self.received[start:]

    def wait_quiet(self, quiet: float = 1.5, *, after: int = 0, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        sent_at = time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with self._lock:
                got_answer = len(self.received) > after
                last = self._last_message
            if time.monotonic() - max(last, sent_at) >= quiet and (got_answer or time.monotonic() - sent_at > 5):
                return

    def wait_for(self, text: str, timeout: float = 60) -> bool:
        """Wait until `text` appears in what the server sent; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.received_text():
                return True
            time.sleep(0.2)
        return False

    def received_text(self, since: int = 0) -> str:
        """Everything received (from index `since`), as one JSON text to search."""
        return json.dumps(self.received[since:], default=str)
