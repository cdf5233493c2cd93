"""Console → Settings → API keys: the browser creates a key through an authorized route and gets the
secret once; the Reflex state lists prefixes and dates only and never holds the secret (checked in
its pickled form, as the state managers store it); revoking is the merchant's own keys only."""

from __future__ import annotations

import contextlib
import pickle

import pytest
from sqlmodel import Session, select
from starlette.testclient import TestClient

from portal_app import db, routes
from portal_app.api import build_api
from portal_app.billing import accounts, api_keys, sessions
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.console import api_keys as api_keys_facade
from portal_app.models import ApiKey
from portal_app.pages.console.api_keys import ConsoleApiKeysState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.reflex_states import live_state, run_handler

pytestmark = pytest.mark.integration
ORIGIN = "http://portal.test"


@pytest.fixture
def merchants(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    out = {}
    for key in ("a", "b"):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=key.upper(), email=f"owner@{key}.example", password="long enough password"
            )
            secret = sessions.open_console_session(session, user)
        out[key] = {
            "merchant": user.merchant_id,
            "user": user.id,
            "secret": secret,
            "cookie": f"console_session={secret}",
        }
    return out


@pytest.fixture
def client(monkeypatch):
    monkeypatch.setattr("portal_app.api.headers.get_settings", lambda: _Settings())
    return TestClient(build_api(), base_url=ORIGIN)


class _Settings:
    public_url = ORIGIN


def _post(client, secret: str | None, body=None, **headers):
    client.cookies.clear()
    if secret:
        client.cookies.set(routes.CONSOLE_SESSION_COOKIE, secret)
    kwargs = {"json": body} if not isinstance(body, (bytes, str)) else {"content": body}
    return client.post(routes.API_CONSOLE_API_KEYS, headers={"origin": ORIGIN, **headers}, **kwargs)


_open = contextlib.ExitStack()


@pytest.fixture(autouse=True)
def _close():
    yield
    _open.close()


def _state(cookie: str) -> ConsoleApiKeysState:
    return _open.enter_context(live_state(ConsoleApiKeysState, cookie, path=routes.CONSOLE_SETTINGS))


def test_the_route_creates_a_key_for_the_signed_in_merchant_and_answers_its_secret_once(merchants, client, engine):
    a = merchants["a"]
    resp = _post(client, a["secret"], {"name": "CRM sync"})
    assert resp.status_code == 201 and resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["secret"].startswith(body["prefix"]) and set(body) == {"id", "prefix", "secret"}
    with Session(engine) as session:
        identity = api_keys.authenticate(session, body["secret"])
        assert identity == api_keys.ApiKeyIdentity(a["merchant"], body["id"])
        row = session.exec(select(ApiKey)).one()
        assert row.name == "CRM sync" and row.created_by == f"user:{a['user']}" and body["secret"] not in repr(row)
    listed = api_keys_facade.list_keys(merchant_id=a["merchant"])
    assert [k.key_id for k in listed] == [body["id"]] and body["secret"] not in repr(listed)
    assert api_keys_facade.list_keys(merchant_id=merchants["b"]["merchant"]) == []


def test_the_route_refuses_strangers_cross_site_posts_and_bad_bodies(merchants, client, engine):
    a = merchants["a"]
    assert _post(client, None, {"name": "x"}).status_code == 401
    assert _post(client, "forged-secret", {"name": "x"}).status_code == 401
    assert _post(client, a["secret"], {"name": "x"}, origin="https://evil.example").status_code == 403
    assert _post(client, a["secret"], {"name": "x"}, **{"sec-fetch-site": "cross-site"}).status_code == 403
    for bad in ({"name": "x" * 81}, {"name": 5}, {"name": "x", "merchant_id": 2}, ["x"], "not json", "x" * 5000):
        resp = _post(client, a["secret"], bad)
        assert resp.status_code in (400, 413) and "secret" not in resp.json(), bad
    with Session(engine) as session:
        assert session.exec(select(ApiKey)).all() == []


def test_the_state_lists_revokes_and_never_holds_the_secret(merchants, client, engine):
    a = merchants["a"]
    secret = _post(client, a["secret"], {"name": "Zapier"}).json()["secret"]
    state = _state(a["cookie"])
    run_handler(ConsoleApiKeysState.load, state)
    run_handler(ConsoleApiKeysState.key_outcome, state, "created")  # what the page's script reports
    (row,) = state.api_keys
    assert row["name"] == "Zapier" and row["prefix"] == secret[:10] + "…" and row["last_used"] == "Never"
    assert row["status"] == "Active"
    (copied,) = run_handler(ConsoleApiKeysState.key_outcome, state, "copied")
    assert "API key copied." in repr(copied)
    with Session(engine) as session:
        api_keys.authenticate(session, secret)
        session.commit()
    run_handler(ConsoleApiKeysState.load, state)
    assert state.api_keys[0]["last_used"] != "Never"

    run_handler(ConsoleApiKeysState.ask_revoke, state, row["id"])
    assert state.revoke_id == row["id"] and "Zapier" in state.revoke_label
    (toast,) = run_handler(ConsoleApiKeysState.revoke, state)
    assert "revoked" in repr(toast) and state.revoke_id == ""
    assert state.api_keys[0]["status"].startswith("Revoked") and state.api_keys[0]["active"] == ""
    with Session(engine) as session:
        assert api_keys.authenticate(session, secret) is None

    # What the state managers store (.states/ pickles, Redis) never contains the key.
    root = state.parent_state
    while root.parent_state is not None:
        root = root.parent_state
    stored = root._serialize() + pickle.dumps(state.dict())
    assert secret.encode() not in stored and secret[4:].encode() not in stored
    assert row["prefix"][:-1].encode() in stored  # the scan looks where the keys are listed


def test_outcome_codes_are_words_never_echoed_text(merchants):
    state = _state(merchants["a"]["cookie"])
    run_handler(ConsoleApiKeysState.key_outcome, state, "invalid")
    assert "80 characters" in state.api_key_error
    run_handler(ConsoleApiKeysState.key_outcome, state, "<script>alert(1)</script>")
    assert state.api_key_error == "Something went wrong. Please try again."
    run_handler(ConsoleApiKeysState.key_outcome, state, {"not": "a string"})
    assert "<script>" not in state.api_key_error


def test_strangers_get_sign_in_and_another_merchants_key_ids_change_nothing(merchants, client, engine):
    a, b = merchants["a"], merchants["b"]
    b_key = _post(client, b["secret"], {"name": "Bravo secret key"}).json()
    for cookie in (
        "",
        "console_session=forged",
    ):
        state = _state(cookie)
        for handler, args in (
            (ConsoleApiKeysState.load, ()),
            (ConsoleApiKeysState.key_outcome, ("created",)),
            (ConsoleApiKeysState.ask_revoke, (str(b_key["id"]),)),
            (ConsoleApiKeysState.revoke, ()),
        ):
            state.revoke_id = str(b_key["id"])  # even a forged open dialog
            emitted = run_handler(handler, state, *args)
            assert "_redirect" in repr(emitted) and "/console" in repr(emitted), handler
            assert "Bravo" not in repr(state.dict())
    mallory = _state(a["cookie"])
    run_handler(ConsoleApiKeysState.load, mallory)
    assert mallory.api_keys == []
    run_handler(ConsoleApiKeysState.ask_revoke, mallory, str(b_key["id"]))
    assert mallory.revoke_id == ""  # not one of A's keys: nothing opens
    mallory.revoke_id = str(b_key["id"])  # a tampered state still goes through the facade's scope
    (toast,) = run_handler(ConsoleApiKeysState.revoke, mallory)
    assert "no longer exists" in repr(toast)
    for garbage in (str(b_key["id"]), "0", "-1", "1e3", "", None, True, 10**30, "abc"):
        with pytest.raises(NotFound):
            api_keys_facade.revoke_key(merchant_id=a["merchant"], user_id=a["user"], key_id=garbage)
    with Session(engine) as session:
        assert session.get(ApiKey, b_key["id"]).revoked_at is None
        assert api_keys.authenticate(session, b_key["secret"]) is not None
