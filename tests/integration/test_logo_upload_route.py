"""The logo upload is our own HTTP route: the request's console cookie decides whose logo it is,
cross-site posts are refused, and the body is capped while it is read (2 MB -> 413, the rest never
read). Reflex's /_upload answers 404 without reading a byte, whatever sits behind it."""

from __future__ import annotations

import asyncio
import io

import pytest
from reflex.constants import Endpoint
from starlette.applications import Starlette
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api
from portal_app.api.logo_upload import MAX_UPLOAD_BYTES
from portal_app.billing import accounts, sessions
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.billing.facades.downloads import merchant_logo
from portal_app.models import Merchant

BASE = "http://portal.test"
MB = 1024 * 1024


def _png(size=(120, 40)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 90)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def world(engine, monkeypatch):
    """Two merchants, each with a signed-in owner: {slug: (merchant_id, console cookie secret)}."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    found = {}
    for name in ("Acme", "Globex"):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=name, email=f"owner@{name.lower()}.example", password="long enough password"
            )
            found[name.lower()] = (user.merchant_id, sessions.open_console_session(session, user))
    return found


@pytest.fixture
def client(world):
    return TestClient(build_api(), follow_redirects=False, base_url=BASE)


def _post_logo(client, data: bytes, secret: str | None = None, filename="logo.png", **headers):
    if secret is not None:
        client.cookies.set(routes.CONSOLE_SESSION_COOKIE, secret)
    return client.post(routes.API_CONSOLE_LOGO, files={"logo": (filename, data, "image/png")}, headers=headers)


def _logo_of(engine, merchant_id: int) -> bytes | None:
    with db.session_scope(engine) as session:
        return session.get(Merchant, merchant_id).logo_png


def test_the_signed_in_merchant_uploads_its_own_logo(client, world, engine):
    acme_id, acme_secret = world["acme"]
    globex_id, _ = world["globex"]
    logo = _png()
    resp = _post_logo(client, logo, acme_secret)
    assert resp.status_code == 303 and resp.headers["location"] == routes.console_settings_url(logo="updated")
    assert _logo_of(engine, acme_id) == logo and _logo_of(engine, globex_id) is None
    assert merchant_logo("acme").data == logo  # what the portal, emails and PDFs show


def test_no_session_or_another_site_uploads_nothing(client, world, engine):
    acme_id, acme_secret = world["acme"]
    resp = _post_logo(client, _png())  # no cookie, whatever else the request carries
    assert resp.status_code == 303 and resp.headers["location"] == routes.CONSOLE
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, "forged")
    assert _post_logo(client, _png()).headers["location"] == routes.CONSOLE
    resp = _post_logo(client, _png(), acme_secret, origin="https://evil.example")
    assert resp.status_code == 403
    assert _logo_of(engine, acme_id) is None


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a" + b"\0" * 100, "logo_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "logo_type"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "logo_unreadable"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (settings_facade.MAX_LOGO_BYTES + 1), "logo_too_large"),
        (b"", "logo_missing"),
    ],
)
def test_a_refused_file_comes_back_as_a_code_the_page_words(client, world, engine, data, code):
    acme_id, acme_secret = world["acme"]
    resp = _post_logo(client, data, acme_secret)
    assert resp.headers["location"] == routes.console_settings_url(logo_error=code)
    assert settings_facade.logo_error_message(code)
    assert _logo_of(engine, acme_id) is None


def test_a_form_without_the_file_field_is_refused(client, world):
    _, acme_secret = world["acme"]
    client.cookies.set(routes.CONSOLE_SESSION_COOKIE, acme_secret)
    resp = client.post(routes.API_CONSOLE_LOGO, data={"something": "else"})
    assert resp.headers["location"] == routes.console_settings_url(logo_error="logo_missing")
    resp = client.post(routes.API_CONSOLE_LOGO, content=_png(), headers={"content-type": "image/png"})
    assert resp.headers["location"] == routes.console_settings_url(logo_error="logo_missing")


# --- the body is capped while it is read -----------------------------------------------------------------


def _raw_post(app, path: str, *, headers: dict[str, str], chunks: int, chunk: bytes = b"\0" * MB):
    """POST through the ASGI app with a body of `chunks` chunks; (status, bytes the app read)."""
    read = [0]
    left = [chunks]

    async def receive():
        if left[0] == 0:
            return {"type": "http.disconnect"}
        left[0] -= 1
        read[0] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": left[0] > 0}

    sent = []

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {"host": "portal.test", **headers}.items()],
        "client": ("203.0.113.5", 40000),
        "server": ("portal.test", 80),
    }
    asyncio.run(app(scope, receive, send))
    return next(m["status"] for m in sent if m["type"] == "http.response.start"), read[0]


def test_a_60_mb_upload_is_refused_413_without_reading_it(world):
    _, acme_secret = world["acme"]
    app = build_api()
    multipart = {"content-type": "multipart/form-data; boundary=x", "cookie": f"console_session={acme_secret}"}
    # Declared too large: refused before the first byte.
    status, read = _raw_post(
        app, routes.API_CONSOLE_LOGO, headers={**multipart, "content-length": str(60 * MB)}, chunks=60
    )
    assert (status, read) == (413, 0)
    # Not declared (chunked): reading stops at the first chunk past the cap.
    status, read = _raw_post(app, routes.API_CONSOLE_LOGO, headers=multipart, chunks=60)
    assert status == 413 and read <= MAX_UPLOAD_BYTES + MB


def test_an_upload_without_a_session_is_not_read_at_all(world):
    status, read = _raw_post(
        build_api(),
        routes.API_CONSOLE_LOGO,
        headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(60 * MB)},
        chunks=60,
    )
    assert (status, read) == (303, 0)


def test_reflex_upload_endpoint_serves_nothing_and_reads_nothing(world):
    """Reflex mounts its app (and with it /_upload) under ours at ""; ours answers first."""
    assert "/" + str(Endpoint.UPLOAD).lstrip("/") == routes.REFLEX_UPLOAD
    reached = []

    async def reflex_app(scope, receive, send):  # stands for Reflex's own routes, /_upload among them
        reached.append(scope["path"])
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"uploaded"})

    api = build_api()
    api.mount("", reflex_app)  # what rx.App does with api_transformer
    _, acme_secret = world["acme"]
    for headers in ({}, {"cookie": f"console_session={acme_secret}", "token": "a-live-tabs-client-token"}):
        status, read = _raw_post(
            api,
            routes.REFLEX_UPLOAD,
            headers={"content-type": "multipart/form-data; boundary=x", "content-length": str(60 * MB), **headers},
            chunks=60,
        )
        assert (status, read) == (404, 0)
    client = TestClient(api, base_url=BASE)
    assert client.get(f"{routes.REFLEX_UPLOAD}/some/uploaded/file.png").status_code == 404
    assert client.put(routes.REFLEX_UPLOAD, content=b"x").status_code == 404
    assert reached == []
    assert isinstance(api, Starlette)
