"""The merchant's product learns what happens, end to end on the production server: an API key
from the CLI, a webhook endpoint on a loopback receiver, a subscriber created through the API who
adds their card in Chromium, then a cancellation through the API. The receiver fails the first try
of every event and still gets each event exactly once, signed (Standard Webhooks)."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from .conftest import ROOT, VIEWPORTS, screenshot

pytestmark = pytest.mark.e2e


class Receiver:
    """A merchant's webhook endpoint on loopback: answers 503 to the first try of each event id,
    then 200; keeps every delivery it accepted."""

    def __init__(self):
        self.tries: collections.Counter[str] = collections.Counter()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                msg_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.tries[msg_id] += 1
                    first = receiver.tries[msg_id] == 1
                    if not first:
                        receiver.accepted.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(503 if first else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str) -> list[dict]:
        """Every accepted delivery, its signature checked (raises on a bad one)."""
        with self.lock:
            accepted = list(self.accepted)
        return [Webhook(secret).verify(body, headers) | {"_id": headers["webhook-id"]} for headers, body in accepted]

    def wait_for(self, secret: str, predicate, timeout: float = 90) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events(secret)
            if predicate(events):
                return events
            time.sleep(0.5)
        raise AssertionError(f"the receiver got {[e['type'] for e in self.events(secret)]}")


def _api(server, method: str, path: str, key: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        server["base_url"] + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read())


def _cli_api_key(server) -> str:
    env = {**os.environ, "DATABASE_URL": server["database_url"]}
    env.pop("REFLEX_REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "portal_app.billing", "api-key", "create", "--merchant", "acme", "--name", "e2e"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _types_of(events: list[dict], subscription_id: int) -> list[str]:
    return [
        e["type"]
        for e in events
        if e["data"]["object"].get("subscription_id", e["data"]["object"].get("id")) == subscription_id
        or e["data"]["object"].get("object") == "payment_method"
    ]


def test_api_signup_and_cancel_reach_the_merchants_webhook_exactly_once(server, browser):
    key = _cli_api_key(server)
    assert key.startswith("spk_")
    receiver = Receiver()
    endpoint = _api(server, "POST", "/api/v1/webhook_endpoints", key, {"url": receiver.url})
    secret = endpoint["secret"]
    assert secret.startswith("whsec_")

    plan = next(p for p in _api(server, "GET", "/api/v1/plans?limit=100", key)["data"] if p["name"] == "Basic Monthly")
    email = f"api-{time.time_ns()}@example.com"
    subscriber = _api(
        server, "POST", "/api/v1/subscribers", key, {"name": "Ada Api", "email": email, "plan": plan["id"]}
    )
    assert subscriber["portal_url"].startswith(server["base_url"] + "/portal/")
    (subscription,) = _api(server, "GET", f"/api/v1/subscriptions?subscriber={subscriber['id']}", key)["data"]
    assert subscription["status"] == "incomplete"

    # The subscriber completes the signup in the portal: their own card pays the first invoice.
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.viewport_name = "desktop"
    try:
        page.goto(subscriber["portal_url"])
        page.get_by_test_id("plan-name").wait_for()
        assert "/portal/" + subscriber["portal_url"].rsplit("/", 1)[1] not in page.url, "the token left the bar"
        page.get_by_role("button", name="Edit payment method").click()
        page.get_by_label("Card number").fill("4242 4242 4242 4242")
        page.get_by_label("Expiry (MM/YY)").fill("12/30")
        page.get_by_label("Security code (CVC)").fill("123")
        page.get_by_role("button", name="Save card").click()
        page.wait_for_function(
            "document.querySelector('[data-testid=subscription-status]')?.dataset.status === 'active'", timeout=60_000
        )
        screenshot(page, "integration-portal-activated")
    finally:
        context.close()

    sub_id = subscription["id"]
    events = receiver.wait_for(
        secret,
        lambda ev: {"subscription.created", "invoice.paid", "subscription.updated"} <= set(_types_of(ev, sub_id)),
    )
    created = next(e for e in events if e["type"] == "subscription.created")
    assert created["data"]["object"]["id"] == sub_id and created["data"]["object"]["status"] == "incomplete"
    paid = next(e for e in events if e["type"] == "invoice.paid" and e["data"]["object"]["subscription_id"] == sub_id)
    assert paid["data"]["object"]["status"] == "paid" and paid["data"]["object"]["total"] == plan["amount"]
    activated = next(e for e in events if e["type"] == "subscription.updated" and e["data"]["object"]["id"] == sub_id)
    assert activated["data"]["previous_attributes"]["status"] == "incomplete"
    assert activated["data"]["object"]["status"] == "active"

    canceled = _api(server, "POST", f"/api/v1/subscriptions/{sub_id}/cancel", key, {"at_period_end": False})
    assert canceled["status"] == "canceled"
    events = receiver.wait_for(secret, lambda ev: "subscription.canceled" in _types_of(ev, sub_id))
    updates = [e for e in events if e["type"] == "subscription.updated" and e["data"]["object"]["id"] == sub_id]
    assert [u["data"]["object"]["status"] for u in updates] == ["active", "canceled"]

    # Every event was refused once, then accepted once: exactly once per event id, never twice.
    time.sleep(6)  # one more delivery pass: nothing is sent again
    events = receiver.events(secret)
    ids = [e["_id"] for e in events]
    assert len(ids) == len(set(ids)), "an event was delivered twice"
    assert all(receiver.tries[i] == 2 for i in ids)
    listed = _api(server, "GET", "/api/v1/events?limit=100", key)["data"]
    assert set(ids) <= {e["id"] for e in listed}, "GET /events lists what the webhooks delivered"


def test_manage_billing_opens_the_portal_once_at_the_card_form_with_a_way_back(server, browser):
    """POST /portal_sessions (the merchant app's "Manage billing" button): the single-use URL lands
    on /portal with the card form open and "Return to Acme Fitness"; used again, it is the generic
    invalid-link page; the subscriber's lasting link keeps working."""
    key = _cli_api_key(server)
    plan = _api(server, "GET", "/api/v1/plans?limit=100", key)["data"][0]
    subscriber = _api(
        server,
        "POST",
        "/api/v1/subscribers",
        key,
        {"name": "Grace Grant", "email": f"grant-{time.time_ns()}@example.com", "plan": plan["id"]},
    )
    grant = _api(
        server,
        "POST",
        "/api/v1/portal_sessions",
        key,
        {
            "subscriber_id": subscriber["id"],
            "flow": "payment_method_update",
            "return_url": "https://shop.example/account",
        },
    )
    assert grant["url"].startswith(server["base_url"] + "/portal/session/")
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    page.viewport_name = "phone"
    try:
        page.goto(grant["url"])
        page.get_by_label("Card number").wait_for()  # the flow opened the card form
        assert "/session/" not in page.url and grant["url"].rsplit("/", 1)[1] not in page.url
        back = page.get_by_test_id("return-link")
        assert back.inner_text().strip() == "Return to Acme Fitness"
        assert back.get_attribute("href") == "https://shop.example/account"
        screenshot(page, "integration-manage-billing")
    finally:
        context.close()
    again = browser.new_context()
    try:
        page = again.new_page()
        page.goto(grant["url"])
        page.wait_for_url("**/invalid-link**")
        page.goto(subscriber["portal_url"])
        page.get_by_test_id("plan-name").wait_for()  # the lasting link was not revoked
    finally:
        again.close()
