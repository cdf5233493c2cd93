"""The invalid-link page's handlers as public remote calls: the case comes from a validated query,
the language from ?lang, the merchant or the browser; the new-link answer is the same for known and
unknown addresses, true when the limits stop a request, and a deleted case offers no new link."""

from __future__ import annotations

import pytest
from reflex.istate.data import RouterData
from sqlmodel import select

from portal_app import db, routes
from portal_app.billing import brand
from portal_app.models import EmailMessage, Merchant, Subscriber
from portal_app.pages.portal import invalid
from portal_app.pages.portal.invalid import InvalidLinkState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from portal_app.ratelimit import RateLimiter
from tests.builders import make_world
from tests.language_leaks import english_leaks, informal_spanish
from tests.reflex_states import run_handler


@pytest.fixture
def world(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(invalid, "new_link_ip_limiter", RateLimiter("i-ip", limit=3, window_seconds=600))
    monkeypatch.setattr(invalid, "new_link_email_limiter", RateLimiter("i-em", limit=50, window_seconds=600))
    return make_world(engine, slug="fit", name="Fit Club")


def _state(query: dict, *, accept_language: str = "", ip: str = "5.6.7.8") -> InvalidLinkState:
    """The page loaded at a URL as routes.portal_invalid_url builds it (signed when it names a merchant)."""
    if "m" in query and "s" not in query:
        reason = query.get("reason", "") if query.get("reason", "") in routes.INVALID_REASONS else ""
        query = query | {"s": routes.invalid_link_signature(reason, query["m"])}
    root = InvalidLinkState.get_root_state()(_reflex_internal_init=True)
    root.router = RouterData.from_router_data(
        {"headers": {"accept-language": accept_language}, "pathname": "/invalid-link", "query": query, "ip": ip}
    )
    state = root.get_substate(InvalidLinkState.get_full_name().split(".")[1:])
    run_handler(InvalidLinkState.load, state)
    return state


def _emails(engine) -> list[EmailMessage]:
    with db.new_session(engine) as session:
        return list(session.exec(select(EmailMessage).where(EmailMessage.kind == "new_link")))


def test_each_case_is_worded_and_branded_only_when_the_merchant_is_known(world):
    generic = _state({})
    assert generic.heading == "This link is no longer valid" and generic.merchant_name == "" and generic.lang == "en"
    revoked = _state({"reason": "revoked", "m": "fit", "lang": "es"})
    assert (
        revoked.heading == "Este enlace se ha sustituido por uno más reciente" and revoked.merchant_name == "Fit Club"
    )
    assert "Fit Club" in revoked.body and revoked.support_email == "help@fit.example"
    assert revoked.brand_color == brand.DEFAULT_COLOR and generic.brand_color == ""  # the house colour, or none
    deleted = _state({"reason": "deleted", "m": "fit"})
    assert deleted.heading == "This subscription was removed" and "Only Fit Club can answer" in deleted.body
    assert "new link" not in deleted.body.lower() and "on its way" not in deleted.body
    ended = _state({"reason": "ended", "m": "fit", "lang": "en"})
    assert ended.heading == "Your session has ended" and ended.contact == "Questions? Contact Fit Club:"
    for spanish in (_state({"reason": r, "m": "fit", "lang": "es"}) for r in ("revoked", "deleted", "ended", "")):
        text = " ".join([spanish.heading, spanish.body, spanish.contact, *spanish.tx.values()])
        assert english_leaks(text, allow=("Fit Club",)) == [] and informal_spanish(text) == []


def test_hostile_queries_read_as_the_generic_page(world):
    for query in (
        {"reason": "deleted", "m": "nobody"},
        {"reason": "<img src=x>", "m": "fit"},
        {"reason": "revoked"},
        {"m": "x" * 500},
        {"lang": "<script>"},
    ):
        state = _state(query)
        assert state.heading == "This link is no longer valid" and state.reason == "" and state.lang == "en"
        assert "<" not in state.heading + state.body


def test_the_language_is_the_query_then_the_merchant_then_the_browser(world, engine):
    assert _state({"m": "fit", "lang": "es"}).lang == "es"
    with db.session_scope(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == "fit")).one()
        merchant.default_language, merchant.brand_color = "es", "#7C2D12"
        session.add(merchant)
    assert _state({"m": "fit"}).lang == "es"
    assert _state({"m": "fit"}).brand_color == "#7C2D12"  # the merchant's own colour on its page
    assert _state({"m": "fit", "lang": "en"}).lang == "en"
    assert _state({}, accept_language="es-ES,es;q=0.9,en;q=0.5").lang == "es"
    assert _state({}, accept_language="de-DE").lang == "en"


def test_the_new_link_answer_is_the_same_for_any_address_and_true_when_limited(world, engine):

    with db.new_session(engine) as session:
        known = session.get(Subscriber, world.subscriber_id).email
    state = _state({"reason": "revoked", "m": "fit"})
    run_handler(InvalidLinkState.request_link, state, {"email": known})
    known_answer = state.answer
    run_handler(InvalidLinkState.request_link, state, {"email": "nobody@example.com"})
    assert state.answer == known_answer and not state.answer_is_error
    assert known_answer == (
        "If this email address belongs to an active subscription, we have sent its link to it. Please check your inbox."
    )
    assert len(_emails(engine)) == 1  # only the known address got mail
    run_handler(InvalidLinkState.request_link, state, {"email": "nobody@example.com"})  # the 3rd from this IP
    run_handler(InvalidLinkState.request_link, state, {"email": known})  # over this IP's limit
    assert state.answer_is_error and state.answer == "Too many requests from here. Please try again in an hour."
    assert len(_emails(engine)) == 1
    run_handler(InvalidLinkState.request_link, state, {"email": "not an email"})
    assert state.answer == "Please enter the email address your subscription uses."
