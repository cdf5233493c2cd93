"""The console's Reflex handlers, called the way a hostile client can call them: every handler
authorizes first (anonymous and portal-session callers are sent to sign-in and change nothing), and
a merchant calling with another merchant's ids gets nothing of theirs and changes nothing."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlmodel import select

from portal_app import connections, db, owners
from portal_app.billing import accounts, portal_links, sessions
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import EmailMessage, Invoice, PaymentAttempt, Subscriber
from portal_app.pages.console.dashboard import ConsoleDashboardState
from portal_app.pages.console.outbox import ConsoleOutboxState
from portal_app.pages.console.plans import ConsolePlansState
from portal_app.pages.console.profile import ConsoleProfileState
from portal_app.pages.console.settings import ConsoleSettingsState
from portal_app.pages.console.subscribers import ConsoleSubscribersState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import PLAN_FORM, card_form, table_snapshot
from tests.reflex_states import live_state, router_for, run_handler

B_MARKERS = ("Bravo", "bravo.example", "Secret Plan", "Bob Secret")


@pytest.fixture
def world(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    gateway = SimulatedGateway()
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    ids = {}
    for key, company, person in (("a", "Acme", "Ann Alpha"), ("b", "Bravo", "Bob Secret")):
        with db.session_scope() as session:
            user = accounts.sign_up(
                session, company_name=company, email=f"owner@{company.lower()}.example", password="long enough password"
            )
            secret = sessions.open_console_session(session, user)
        plan_id = plans_facade.save_plan(
            merchant_id=user.merchant_id,
            user_id=user.id,
            form={**PLAN_FORM, "name": f"{company} Secret Plan" if key == "b" else "Basic"},
        )
        result = registration_facade.register_subscriber(
            merchant_id=user.merchant_id,
            user_id=user.id,
            plan_id=plan_id,
            form={
                "name": person,
                "email": f"{person.split()[0].lower()}@{company.lower()}.example",
                "send_invitation": "on",
                **card_form(),
            },
        )
        ids[key] = {
            "merchant": user.merchant_id,
            "user": user.id,
            "cookie": f"console_session={secret}",
            "plan": plan_id,
            "subscriber": result.subscriber_id,
        }
    with db.session_scope() as session:
        ids["b"]["invoice"] = session.exec(
            select(Invoice.id).where(Invoice.merchant_id == ids["b"]["merchant"])
        ).first()
        ids["b"]["attempt"] = session.exec(
            select(PaymentAttempt.id).where(PaymentAttempt.merchant_id == ids["b"]["merchant"])
        ).first()
        ids["b"]["email"] = session.exec(
            select(EmailMessage.id).where(EmailMessage.merchant_id == ids["b"]["merchant"])
        ).first()
        subscriber = session.get(Subscriber, ids["b"]["subscriber"])
        link = portal_links.resolve_portal_token(session, portal_links.current_portal_token(session, subscriber))
        ids["b"]["portal_cookie"] = "portal_session=" + sessions.open_portal_session(session, link)
    return ids


_connections = contextlib.ExitStack()  # the live connections of a test, closed after it


@pytest.fixture(autouse=True)
def _close_connections():
    yield
    _connections.close()


def _state(cls, cookie: str, params: dict | None = None):
    """A state as an event from a live connection whose handshake carried `cookie` sees it."""
    return _connections.enter_context(live_state(cls, cookie, path="/console", params=params))


def _calls(b):
    """(state class, route params, preset vars, handler, args) for every console handler, aimed at B."""
    settings_form = {
        "name": "Hijacked",
        "invoice_prefix": "HJ",
        "support_email": "",
        "default_language": "en",
        "dunning_schedule_days": "1",
        "dunning_end_state": "unpaid",
    }
    register_form = {"name": "Mallory", "email": "m@evil.example", **card_form()}
    return [
        (ConsoleDashboardState, {}, {}, ConsoleDashboardState.load, ()),
        (ConsolePlansState, {}, {}, ConsolePlansState.load, ()),
        (ConsolePlansState, {}, {}, ConsolePlansState.open_new, ()),
        (ConsolePlansState, {}, {}, ConsolePlansState.open_edit, (str(b["plan"]),)),
        (ConsolePlansState, {}, {}, ConsolePlansState.set_dialog_open, (True,)),
        (ConsolePlansState, {}, {"editing_id": b["plan"]}, ConsolePlansState.save, (PLAN_FORM,)),
        (ConsoleSubscribersState, {}, {}, ConsoleSubscribersState.load_all, ()),
        (ConsoleSubscribersState, {"plan_id": str(b["plan"])}, {}, ConsoleSubscribersState.load_plan, ()),
        (ConsoleSubscribersState, {}, {"current_plan_id": b["plan"]}, ConsoleSubscribersState.copy_signup_url, ()),
        (
            ConsoleSubscribersState,
            {},
            {"current_plan_id": b["plan"]},
            ConsoleSubscribersState.search,
            ({"query": "bob", "status": "all"},),
        ),
        (
            ConsoleSubscribersState,
            {},
            {"current_plan_id": b["plan"], "has_next": True},
            ConsoleSubscribersState.next_page,
            (),
        ),
        (
            ConsoleSubscribersState,
            {},
            {"current_plan_id": b["plan"], "page_number": 2},
            ConsoleSubscribersState.previous_page,
            (),
        ),
        (
            ConsoleSubscribersState,
            {},
            {"current_plan_id": b["plan"]},
            ConsoleSubscribersState.set_register_open,
            (True,),
        ),
        (
            ConsoleSubscribersState,
            {},
            {"current_plan_id": b["plan"]},
            ConsoleSubscribersState.register,
            (register_form,),
        ),
        (ConsoleProfileState, {"subscriber_id": str(b["subscriber"])}, {}, ConsoleProfileState.load, ()),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.link_outcome, ("copied",)),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.set_confirm, ("delete",)),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.regenerate, ()),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.regenerate, (True,)),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.send_invitation, ()),
        (ConsoleProfileState, {}, {"profile_id": b["subscriber"]}, ConsoleProfileState.delete_subscription, ()),
        (ConsoleProfileState, {}, {}, ConsoleProfileState.download_invoice, (str(b["invoice"]),)),
        (
            ConsoleProfileState,
            {},
            {"profile_id": b["subscriber"]},
            ConsoleProfileState.ask_resolve_review,
            (str(b["attempt"]), "paid"),
        ),
        (ConsoleProfileState, {}, {}, ConsoleProfileState.resolve_review, (str(b["attempt"]), "void")),
        (
            ConsoleProfileState,
            {},
            {"profile_id": b["subscriber"], "invoices": [{"id": str(b["invoice"]), "number": "x"}]},
            ConsoleProfileState.open_refund,
            (str(b["invoice"]),),
        ),
        (
            ConsoleProfileState,
            {},
            {"profile_id": b["subscriber"], "refund_invoice_id": str(b["invoice"]), "refund_amount": "1.00"},
            ConsoleProfileState.submit_refund,
            (),
        ),
        (ConsoleOutboxState, {}, {}, ConsoleOutboxState.load, ()),
        (ConsoleOutboxState, {}, {"has_next": True}, ConsoleOutboxState.change_page, (1,)),
        (ConsoleOutboxState, {}, {}, ConsoleOutboxState.resend, (str(b["email"]),)),
        (ConsoleSettingsState, {}, {}, ConsoleSettingsState.load, ()),
        (ConsoleSettingsState, {}, {}, ConsoleSettingsState.save_settings, (settings_form,)),
        (ConsoleSettingsState, {}, {}, ConsoleSettingsState.remove_logo, ()),
        (
            ConsoleSettingsState,
            {},
            {},
            ConsoleSettingsState.save_business,
            ({"website_url": "https://evil.example", "brand_color": "#000000"},),
        ),
        (
            ConsoleSettingsState,
            {},
            {},
            ConsoleSettingsState.add_member,
            ({"email": "intruder@evil.example", "password": "long enough password"},),
        ),
    ]


def _public_vars(state) -> str:
    return repr({name: getattr(state, name) for name in state.base_vars if not name.startswith("_")})


def _is_sign_in_redirect(emitted) -> bool:
    text = repr(emitted)
    return "_redirect" in text and "/console" in text


def test_every_handler_refuses_anonymous_and_portal_callers(world, engine):
    b = world["b"]
    before = table_snapshot(engine)
    for cookie in ("", "console_session=forged-secret", b["portal_cookie"]):
        for cls, params, preset, handler, args in _calls(b):
            state = _state(cls, cookie, params)
            for name, value in preset.items():
                setattr(state, name, value)
            emitted = run_handler(handler, state, *args)
            name = handler.fn.__name__
            assert not state.signed_in, name
            if name not in ("set_dialog_open", "set_register_open", "set_confirm"):
                assert _is_sign_in_redirect(emitted), (name, emitted)
            leaked = [m for m in B_MARKERS if m in _public_vars(state)]
            assert not leaked, (name, leaked)
    assert table_snapshot(engine) == before


def test_merchant_a_handlers_with_merchant_b_ids_change_and_show_nothing_of_b(world, engine):
    a, b = world["a"], world["b"]
    b_rows_before = {
        k: [r for r in v if f"('merchant_id', '{b['merchant']}')" in repr(r)] for k, v in table_snapshot(engine).items()
    }
    for cls, params, preset, handler, args in _calls(b):
        state = _state(cls, a["cookie"], params)
        for name, value in preset.items():
            setattr(state, name, value)
        emitted = run_handler(handler, state, *args)
        name = handler.fn.__name__
        leaked = [m for m in B_MARKERS if m in _public_vars(state) + repr(emitted)]
        assert not leaked, (name, leaked)
        if name == "download_invoice":
            assert "download" not in repr(emitted).lower() or "not found" in repr(emitted).lower()
    after = table_snapshot(engine)
    b_rows_after = {k: [r for r in v if f"('merchant_id', '{b['merchant']}')" in repr(r)] for k, v in after.items()}
    assert b_rows_after == b_rows_before
    # A's own calls did run (the test would pass vacuously otherwise): A's settings were saved.
    assert settings_facade.merchant_settings(merchant_id=a["merchant"]).name == "Hijacked"
    assert settings_facade.merchant_settings(merchant_id=b["merchant"]).name == "Bravo"


def test_profile_handlers_work_for_the_owner(world, engine):
    a = world["a"]
    state = _state(ConsoleProfileState, a["cookie"], {"subscriber_id": str(a["subscriber"])})
    run_handler(ConsoleProfileState.load, state)
    assert state.signed_in and state.name == "Ann Alpha" and state.has_link
    old = profile_facade.portal_link_url(merchant_id=a["merchant"], subscriber_id=a["subscriber"])
    assert old.split("/portal/")[1] not in repr(state.dict()) + repr(vars(state))  # the link is never a var
    (copied,) = run_handler(ConsoleProfileState.link_outcome, state, "copied")
    assert "Portal link copied." in repr(copied)
    version = state.link_version
    run_handler(ConsoleProfileState.regenerate, state)
    new = profile_facade.portal_link_url(merchant_id=a["merchant"], subscriber_id=a["subscriber"])
    assert state.has_link and new != old and state.link_version == version + 1
    (download,) = run_handler(ConsoleProfileState.download_invoice, state, state.invoices[0]["id"])
    assert "download" in repr(download).lower()
    run_handler(ConsoleProfileState.delete_subscription, state)
    assert state.deleted and not state.has_link


def test_profile_shows_the_grace_period_as_canceling_like_the_portal(world, engine):
    a = world["a"]
    portal_facade.cancel(merchant_id=a["merchant"], subscriber_id=a["subscriber"], reason_code="other", reason_text="")
    state = _state(ConsoleProfileState, a["cookie"], {"subscriber_id": str(a["subscriber"])})
    run_handler(ConsoleProfileState.load, state)
    assert state.status == "canceling"
    assert state.status_label.startswith("Active · cancels ") and state.next_renewal == ""
    assert state.status_key == "canceling"
    assert state.test_mode is True and state.merchant_name == "Acme"


def test_regenerate_emails_the_new_link_only_when_asked_exactly(world, engine):
    a = world["a"]
    state = _state(ConsoleProfileState, a["cookie"], {"subscriber_id": str(a["subscriber"])})
    run_handler(ConsoleProfileState.load, state)

    def invitations() -> int:
        with db.session_scope() as session:
            return len(
                session.exec(
                    select(EmailMessage).where(
                        EmailMessage.subscriber_id == a["subscriber"], EmailMessage.kind == "invitation"
                    )
                ).all()
            )

    before = invitations()
    for not_true in ("yes", 1, {"x": 1}, False):
        run_handler(ConsoleProfileState.regenerate, state, not_true)
    assert invitations() == before
    emitted = run_handler(ConsoleProfileState.regenerate, state, True)
    assert invitations() == before + 1 and "emailed to" in repr(emitted)


def test_business_details_handler_reports_the_field_and_the_refused_swatch(world, engine):
    a = world["a"]
    state = _state(ConsoleSettingsState, a["cookie"], {})
    run_handler(ConsoleSettingsState.load, state)
    shown = state.swatch
    run_handler(ConsoleSettingsState.save_business, state, {"brand_color": "#ffee00"})
    assert state.business_error_field == "brand_color" and "contrast" in state.business_error
    assert (state.swatch, state.swatch_refused) == ("#FFEE00", True)
    run_handler(
        ConsoleSettingsState.save_business, state, {"brand_color": "#0b5cab", "website_url": "https://a.example"}
    )
    assert state.business_error == "" and state.business["brand_color"] == "#0B5CAB"
    assert (state.swatch, state.swatch_refused) == ("#0B5CAB", False) and shown != "#0B5CAB"
    assert state.business["website_url"] == "https://a.example"


def test_register_with_a_refused_card_keeps_the_form_open_with_the_error(world, engine):
    a = world["a"]
    state = _state(ConsoleSubscribersState, a["cookie"], {"plan_id": str(a["plan"])})
    run_handler(ConsoleSubscribersState.load_plan, state)
    run_handler(ConsoleSubscribersState.set_register_open, state, True)
    form = {"name": "Cara Declined", "email": "cara@acme.example", **card_form("4000 0000 0000 0002")}
    emitted = run_handler(ConsoleSubscribersState.register, state, form)
    assert state.register_open and "declined" in state.register_error.lower() and not state.registering
    assert "redirect" not in repr(emitted).lower()
    shown = {row["name"]: row["status"] for row in state.rows}
    assert shown["Cara Declined"] == "incomplete"


def _switch_connection(state, cookie: str, params: dict) -> None:
    """The same state (one client token), now reached by another live connection with `cookie`."""
    key = _connections.enter_context(connections.live_connection(cookie))
    state.router = router_for(key, path="/console", params=params)


def test_state_loaded_for_one_merchant_is_emptied_before_anyone_else_is_served(world):
    """A replayed client token (no cookie, or another merchant's) finds the console states emptied."""
    a = world["a"]
    params = {"subscriber_id": str(a["subscriber"])}
    state = _state(ConsoleProfileState, a["cookie"], params)
    run_handler(ConsoleProfileState.load, state)
    for cookie in ("", world["b"]["cookie"]):
        asyncio.run(owners.guard_tree(state, owners.PROTECTED_TREES[1]))  # same owner: kept
        assert state.name == "Ann Alpha"
        _switch_connection(state, cookie, params)
        asyncio.run(owners.guard_tree(state, owners.PROTECTED_TREES[1]))
        assert not state.signed_in and state.name == "" and state.invoices == [] and state.merchant_name == ""
        assert "Ann Alpha" not in _public_vars(state) and "Acme" not in _public_vars(state)
        _switch_connection(state, a["cookie"], params)
        run_handler(ConsoleProfileState.load, state)
