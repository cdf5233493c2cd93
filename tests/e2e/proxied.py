"""HTTP requests and Reflex sockets through the test proxy, as one chosen client: from the proxy's
own trusted loopback chain with an X-Forwarded-For (a trusted hop in front of nginx says who the
visitor is), or from an untrusted loopback address (127.0.0.2) whose X-Forwarded-For is a spoof."""

from __future__ import annotations

import http.client
import time
import urllib.parse
from http.cookies import SimpleCookie

from portal_app import routes
from portal_app.billing import demo
from portal_app.pages.portal.invalid import InvalidLinkState

from .socket_client import ReflexSocket, event_name

UNTRUSTED_PEER = "127.0.0.2"  # loopback, but not in TRUSTED_PROXIES: nginx appends it to the chain


def request(server, method: str, path: str, *, xff: str | None = None, source: str | None = None, **kw):
    """One request to the proxy (never following redirects): (status, headers, body)."""
    url = urllib.parse.urlsplit(server["base_url"])
    conn = http.client.HTTPConnection("127.0.0.1", url.port, timeout=30, source_address=(source, 0) if source else None)
    headers = dict(kw.pop("headers", {}))
    if xff is not None:
        headers["X-Forwarded-For"] = xff
    try:
        conn.request(method, path, headers={"Host": url.netloc, **headers}, **kw)
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def open_link(server, token: str, **client) -> str:
    """Where the portal link sends this client: routes.PORTAL (a session) or routes.PORTAL_INVALID."""
    status, headers, _ = request(server, "GET", f"/portal/{token}", **client)
    assert status == 303, status
    return headers["location"]


def console_sign_in(server, **client) -> str:
    """The owner signs in with the login form's POST; the Cookie header of the new session."""
    body = urllib.parse.urlencode({"email": demo.OWNER_EMAIL, "password": demo.DEMO_PASSWORD})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Origin": server["base_url"]}
    status, answer, _ = request(server, "POST", routes.API_CONSOLE_LOGIN, body=body, headers=headers, **client)
    assert (status, answer["location"]) == (303, routes.CONSOLE_HOME), (status, answer["location"])
    return _session_cookie(answer, routes.CONSOLE_SESSION_COOKIE)


def portal_sign_in(server, token: str, **client) -> str:
    status, answer, _ = request(server, "GET", f"/portal/{token}", **client)
    assert (status, answer["location"]) == (303, routes.PORTAL)
    return _session_cookie(answer, routes.PORTAL_SESSION_COOKIE)


def _session_cookie(headers, name: str) -> str:
    jar = SimpleCookie()
    for value in headers.get_all("Set-Cookie"):
        jar.load(value)
    return f"{name}={jar[name].value}"


_NOT_AN_EMAIL = "Please enter the email address your subscription uses."


def request_new_links(sock: ReflexSocket, emails: list[str]) -> None:
    """The invalid-link page's form, once per email, over `sock`; returns when all were handled (a
    token's events run in order: the answer to a last, malformed request means every one before ran)."""
    start = len(sock.received)
    for email in emails:
        sock.send(event_name(InvalidLinkState, "request_link"), {"form_data": {"email": email}}, path=routes.PORTAL)
    sock.send(event_name(InvalidLinkState, "request_link"), {"form_data": {"email": "x"}}, path=routes.PORTAL)
    deadline = time.monotonic() + 60
    while _NOT_AN_EMAIL not in sock.received_text(since=start):
        assert time.monotonic() < deadline, "the socket did not work through the events"
        time.sleep(0.1)
