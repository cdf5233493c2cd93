"""The running production server's log is one a person can use: Reflex's own records come out once
each, with time, level, logger and id, and every HTTP response names its request id."""

from __future__ import annotations

import re
import time
import urllib.request
import uuid

import pytest
import socketio

from .conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (WARNING|ERROR) +(\S+) \[(\S+)\] (.*)$", re.M)


def test_reflex_records_are_printed_once_in_our_format_and_responses_carry_a_request_id(server):
    with urllib.request.urlopen(f"{server['base_url']}/api/health", timeout=10) as response:
        assert re.fullmatch(r"[0-9a-f]{12}", response.headers["X-Request-ID"])

    marker = f"log-format-{uuid.uuid4().hex[:16]}"  # not 43 characters: that is a portal token, masked
    client = socketio.Client(reconnection=False)
    client.connect(server["base_url"], socketio_path="/_event", namespaces=["/_event"], transports=["websocket"])
    # No client token: Reflex warns ("... with no associated token ...") with the event data in the line.
    client.emit("event", {"name": "x.y", "payload": {"note": marker}}, "/_event")
    log = ARTIFACTS / f"e2e-server-{server['kind']}.log"
    deadline = time.monotonic() + 30
    while marker not in log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.5)
    client.disconnect()
    text = log.read_text(errors="replace")
    lines = [line for line in text.splitlines() if marker in line]
    assert len(lines) == 1, lines  # not once from Reflex's own handler and again from ours
    match = LINE.match(lines[0])
    assert match and match.group(1) == "WARNING" and match.group(2).startswith("reflex"), lines[0]
