"""Helpers for the outgoing-webhook tests: the outbox as (type, payload) pairs, and a loopback
receiver (a real HTTP server in a thread) that answers with scripted status codes."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from portal_app.db import new_session
from portal_app.models import OutgoingEvent


def last_event_id(engine) -> int:
    with new_session(engine) as session:
        return session.execute(sa.select(sa.func.coalesce(sa.func.max(OutgoingEvent.id), 0))).scalar_one()


def events_after(engine, after_id: int, merchant_id: int | None = None) -> list[tuple[str, dict]]:
    with new_session(engine) as session:
        stmt = sa.select(OutgoingEvent).where(OutgoingEvent.id > after_id).order_by(OutgoingEvent.id)
        if merchant_id is not None:
            stmt = stmt.where(OutgoingEvent.merchant_id == merchant_id)
        return [(e.type, json.loads(e.payload)) for e in session.execute(stmt).scalars()]


class Receiver:
    """Records every request; answers codes.pop(0) while codes remain, then `default`."""

    def __init__(self, codes: list[int] | None = None, default: int = 200, delay: float = 0.0):
        self.codes, self.default, self.delay = list(codes or []), default, delay
        self.requests: list[tuple[dict[str, str], str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    code = receiver.codes.pop(0) if receiver.codes else receiver.default
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                self.send_response(code)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def ids(self) -> list[str]:
        return [headers["webhook-id"] for headers, _ in self.requests]


@contextlib.contextmanager
def receiver(codes: list[int] | None = None, default: int = 200, delay: float = 0.0):
    r = Receiver(codes, default, delay)
    thread = threading.Thread(target=r.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield r
    finally:
        r.server.shutdown()
        r.server.server_close()
