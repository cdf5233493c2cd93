"""Nothing secret reaches the server log: hostile Socket.IO events carrying card data, a session
cookie and a portal token, in the shapes Reflex logs whole (no client token, an unknown handler,
undecodable data), leave none of it in the captured log of the running production server."""

from __future__ import annotations

import json
import secrets
import time
import uuid

import pytest
import socketio

from portal_app.pages.portal.payment_method import PortalCardState

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

NAMESPACE = "/_event"  # Reflex's Socket.IO path and namespace
CARD = "4000 0025 0000 3155"
CARD_DIGITS = CARD.replace(" ", "")
CVC = "737"
PORTAL_TOKEN = secrets.token_urlsafe(32)  # a portal link token's shape
SESSION = secrets.token_urlsafe(32)


def _connect(base_url: str, *, token: str | None, cookie: str) -> socketio.Client:
    """A raw client, as an attacker's script would open one (no browser, any headers)."""
    client = socketio.Client(reconnection=False)
    url = f"{base_url}?token={token}" if token else base_url
    client.connect(
        url,
        socketio_path=NAMESPACE,
        namespaces=[NAMESPACE],
        transports=["websocket"],
        headers={"Cookie": cookie},
        wait_timeout=15,
    )
    return client


def _hostile_payload(marker: str) -> dict:
    return {
        "form_data": {"number": CARD, "exp_month": "12", "exp_year": "2030", "cvc": CVC, "note": marker},
        "card": {"number": CARD_DIGITS, "cvv": CVC},
        "link": f"/portal/{PORTAL_TOKEN}",
    }


def _event(name: str, marker: str) -> dict:
    router_data = {"pathname": "/portal", "asPath": "/portal", "query": {"token": PORTAL_TOKEN}}
    return {"name": name, "payload": _hostile_payload(marker), "router_data": router_data}


def test_hostile_events_leave_no_card_cookie_or_token_in_the_server_log(server):
    log = ARTIFACTS / f"e2e-server-{server['kind']}.log"
    # Letters only: a uuid's hex with a run of 13+ digits reads as a card number and is masked (rightly).
    marker = "hostile-" + uuid.uuid4().hex.translate(str.maketrans("0123456789", "ghijklmnop"))
    cookie = f"portal_session={SESSION}; console_session={SESSION[::-1]}; theme=dark"
    save_card = f"{PortalCardState.get_full_name()}.save_card"

    # No client token: Reflex logs "event ... with no associated token ... Event data: <all of it>".
    anonymous = _connect(server["base_url"], token=None, cookie=cookie)
    anonymous.emit("event", _event(save_card, marker), NAMESPACE)
    # A client token, but an unknown handler and then data Reflex cannot decode.
    client = _connect(server["base_url"], token=str(uuid.uuid4()), cookie=cookie)
    client.emit("event", _event(f"{PortalCardState.get_full_name()}.no_such_handler", marker), NAMESPACE)
    client.emit("event", json.dumps(_event(save_card, marker))[:-7], NAMESPACE)
    client.emit("event", [_event(save_card, marker)], NAMESPACE)
    client.emit("event", {**_event(save_card, marker), "payload": json.dumps(_hostile_payload(marker))}, NAMESPACE)
    # And the real handler with raw card data: refused, and what it logs is masked too.
    client.emit("event", _event(save_card, marker), NAMESPACE)
    time.sleep(3)
    for sock in (anonymous, client):
        sock.disconnect()

    deadline = time.monotonic() + 30
    text = log.read_text(errors="replace")
    while marker not in text and time.monotonic() < deadline:
        time.sleep(1)
        text = log.read_text(errors="replace")
    assert marker in text, "the hostile payloads never reached the log: this test would prove nothing"
    flat = text.replace("\n", "")
    for secret in (CARD, CARD_DIGITS, "4000-0025-0000-3155", PORTAL_TOKEN, SESSION, SESSION[::-1]):
        assert secret not in text and secret not in flat, secret
    for shape in (f"'cvc': '{CVC}'", f'"cvc": "{CVC}"', f'\\"cvc\\": \\"{CVC}\\"', f"'cvv': '{CVC}'"):
        assert shape not in text, shape
