"""The signup page's handlers (pages/signup/state.py) as public remote calls: one answer for plans that
are not available, only a tokenized id accepted for the card, no token kept in state, the 3DS answer
taken only for this browser's pending signup, the language whitelisted; the console's Copy button."""

from __future__ import annotations

import pickle

import pytest
from reflex.istate.data import RouterData
from sqlmodel import select

from portal_app import db
from portal_app.billing.facades import signup as signup_facade
from portal_app.models import EmailMessage, PaymentAttempt, PortalGrant, PortalSession, Subscriber
from portal_app.pages.portal.overview import PortalState
from portal_app.pages.portal.page import PortalFlowState
from portal_app.pages.signup.state import SignupState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from portal_app.ratelimit import RateLimiter
from tests.builders import card_form, make_world, raw_card
from tests.reflex_states import run_handler, signed_in_portal_state


@pytest.fixture
def world(engine, monkeypatch, gateway):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(signup_facade, "signup_ip_limiter", RateLimiter("h-ip", limit=50, window_seconds=600))
    monkeypatch.setattr(signup_facade, "signup_email_limiter", RateLimiter("h-em", limit=50, window_seconds=600))
    return make_world(engine, slug="fit", name="Fit Club")


def _state(slug: str, plan_id, *, ip: str = "5.6.7.8", query: dict | None = None) -> SignupState:
    root = SignupState.get_root_state()(_reflex_internal_init=True)
    root.router = RouterData.from_router_data(
        {
            "headers": {},
            "pathname": f"/signup/{slug}/{plan_id}",
            "query": {"merchant_slug": slug, "plan_id": str(plan_id), **(query or {})},
            "ip": ip,
        }
    )
    state = root.get_substate(SignupState.get_full_name().split(".")[1:])
    run_handler(SignupState.load, state)
    return state


def _public(state) -> str:
    return repr({name: getattr(state, name) for name in state.base_vars})


def _redirects(emitted) -> list[str]:
    return [repr(e) for e in emitted if e is not None and "/portal/session/" in repr(e)]


def _rows(engine, model, *where):
    with db.new_session(engine) as session:
        return list(session.exec(select(model).where(*where)))


def test_load_shows_the_offer_in_the_merchants_language_or_the_asked_one(world):
    state = _state("fit", world.plan_id)
    assert state.available and state.merchant_name == "Fit Club" and state.price == "$29.00 per month"
    assert state.test_mode and state.title == "Subscribe to Basic Monthly"
    spanish = _state("fit", world.plan_id, query={"lang": "es"})
    assert spanish.title == "Suscríbase a Basic Monthly" and spanish.tx["subscribe"] == "Suscribirse"
    run_handler(SignupState.set_language, spanish, "fr")
    run_handler(SignupState.set_language, spanish, {"lang": "en"})
    assert spanish.lang == "es"
    run_handler(SignupState.set_language, spanish, "en")
    assert spanish.title == "Subscribe to Basic Monthly"


@pytest.mark.parametrize(("slug", "plan_id"), [("fit", "999"), ("nope", "1"), ("fit", "abc"), ("fit", "-1")])
def test_not_available_is_one_answer_and_shows_no_merchant(world, slug, plan_id):
    state = _state(slug, plan_id)
    assert state.loaded and not state.available and state.merchant_name == ""
    run_handler(SignupState.submit, state, {"name": "A", "email": "a@example.com", **card_form()})
    assert not _rows(world.engine, Subscriber, Subscriber.email == "a@example.com")


def test_signing_up_redirects_to_a_grant_and_keeps_no_token(world, engine):
    state = _state("fit", world.plan_id)
    emitted = run_handler(SignupState.submit, state, {"name": "Ana Gómez", "email": "ana@example.com", **card_form()})
    (redirect,) = _redirects(emitted)
    assert "/portal/session/" in redirect
    token = redirect.split("/portal/session/")[1][:43]
    assert token not in _public(state) and token not in repr(pickle.dumps(state.__dict__, protocol=5))
    assert state.done_message.startswith("Thank you")
    assert _rows(engine, PortalGrant)[0].redeemed_at is None
    assert _rows(engine, EmailMessage, EmailMessage.kind == "invitation")


@pytest.mark.parametrize(
    "form",
    [
        {"name": "Eve", "email": "eve@example.com", **raw_card()},
        {"name": "Eve", "email": "eve@example.com", **card_form(), "cvc": "123"},
        {"name": "Eve", "email": "eve@example.com", "payment_method": "4242424242424242"},
        "not a form",
        None,
    ],
)
def test_card_data_in_an_event_is_refused_and_writes_nothing(world, engine, form):
    state = _state("fit", world.plan_id)
    emitted = run_handler(SignupState.submit, state, form)
    assert not _redirects(emitted) and (state.form_error or state.number_error)
    assert not _rows(engine, Subscriber, Subscriber.email == "eve@example.com") and not _rows(engine, PaymentAttempt)


def test_field_errors_show_on_their_field_in_the_visitors_language(world):
    state = _state("fit", world.plan_id, query={"lang": "es"})
    run_handler(SignupState.submit, state, {"name": "", "email": "x@example.com", **card_form()})
    assert state.name_error == "Introduzca su nombre."
    run_handler(SignupState.submit, state, {"name": "Eve", "email": "nope", **card_form()})
    assert state.email_error and state.name_error == ""


def test_3ds_challenge_then_the_answer_for_this_browser_only(world, engine):
    state = _state("fit", world.plan_id)
    run_handler(SignupState.submit, state, {"name": "Tim", "email": "tim@example.com", **card_form("4000002500003155")})
    assert state.challenge_open and state._pending is not None
    other = _state("fit", world.plan_id)
    assert not _redirects(run_handler(SignupState.finish_challenge, other, True))  # nothing pending there
    assert _redirects(run_handler(SignupState.finish_challenge, state, True))
    assert not _redirects(run_handler(SignupState.finish_challenge, state, True))  # used once
    assert len(_rows(engine, Subscriber, Subscriber.email == "tim@example.com")) == 1


def test_an_email_already_subscribed_gets_check_your_email_and_no_redirect(world, engine):
    form = {"name": "Ana", "email": "ana@example.com", **card_form()}
    run_handler(SignupState.submit, _state("fit", world.plan_id), form)
    again = _state("fit", world.plan_id)
    emitted = run_handler(SignupState.submit, again, {**form, **card_form()})
    assert not _redirects(emitted) and "ana@example.com" in again.done_message
    assert len(_rows(engine, PaymentAttempt)) == 1


def test_the_rate_limit_reads_the_handshakes_client_ip(world, monkeypatch):
    monkeypatch.setattr(signup_facade, "signup_ip_limiter", RateLimiter("h-ip2", limit=1, window_seconds=600))
    first = _state("fit", world.plan_id, ip="1.1.1.1")
    run_handler(SignupState.submit, first, {"name": "A", "email": "a1@example.com", **card_form("4000000000000002")})
    run_handler(SignupState.submit, first, {"name": "A", "email": "a2@example.com", **card_form()})
    assert "too many attempts" in first.form_error
    other = _state("fit", world.plan_id, ip="2.2.2.2")
    assert _redirects(run_handler(SignupState.submit, other, {"name": "B", "email": "b@example.com", **card_form()}))


# --- the portal's flow and return link -------------------------------------------------------------


@pytest.fixture
def portal(engine, monkeypatch):
    yield from signed_in_portal_state(engine, monkeypatch, PortalFlowState)


def _load_portal(state, engine, flow, return_url=""):
    with db.session_scope() as session:
        for row in session.exec(select(PortalSession)):
            row.return_url = return_url
            session.add(row)
    state.router = RouterData.from_router_data(
        {"headers": state.router.headers.raw_headers, "pathname": "/portal", "query": {"flow": flow}}
    )
    run_handler(PortalState.load, state)


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        ("payment_method_update", "open_form"),
        ("subscription_cancel", "start_cancel"),  # the retention offer first, then the dialog
        ("invoices", "scroll"),
        ("javascript:alert(1)", None),
        ("INVOICES", None),
    ],
)
def test_a_whitelisted_flow_opens_its_step_once(portal, engine, flow, expected):
    _load_portal(portal, engine, flow)
    emitted = repr(run_handler(PortalFlowState.open_flow, portal))
    if expected is None:
        assert portal.flow == "" and emitted == "[None]"
    else:
        assert expected in emitted
    assert repr(run_handler(PortalFlowState.open_flow, portal)) == "[None]"


def test_return_link_comes_from_the_session_never_the_query(portal, engine):
    _load_portal(portal, engine, "", return_url="https://shop.example/account")
    assert portal.return_url == "https://shop.example/account" and portal.return_label.startswith("Return to ")
    portal.router = RouterData.from_router_data(
        {
            "headers": portal.router.headers.raw_headers,
            "pathname": "/portal",
            "query": {"return_url": "https://evil.example/"},
        }
    )
    with db.session_scope() as session:
        for row in session.exec(select(PortalSession)):
            row.return_url = ""
            session.add(row)
    run_handler(PortalState.load, portal)
    assert portal.return_url == ""
