"""Every event handler of the app is a public remote call: this test finds each one in the state
tree and calls it over a raw Socket.IO client, (a) with no session at all and (b) with another
merchant's console session and another subscriber's portal session, always with the victim's ids
as arguments. Nothing of the victim may come back and none of the victim's rows may change.

A handler without a recipe below fails the suite: a new handler needs one line in RECIPES
(qualified name -> the call an attacker would make), and then it is attacked like the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import reflex as rx
from sqlmodel import Session, select

from portal_app import db, routes
from portal_app.billing import accounts, demo, portal_links, sessions
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.models import Invoice, Merchant, Plan, Subscriber
from portal_app.pages.portal.invalid import InvalidLinkState
from portal_app.portal_app import app  # noqa: F401  (registers every page and state)
from tests.builders import PLAN_FORM, card_form, table_snapshot
from tests.smtp_servers import failed_email

from .socket_client import ReflexSocket, event_name

pytestmark = pytest.mark.e2e


@dataclasses.dataclass(frozen=True)
class Victim:
    merchant: int
    subscriber: int  # Globex, with billing details and invoices
    plan: int
    invoice: int
    email: int  # the demo merchant's failed email (Resend must not touch it)


@dataclasses.dataclass(frozen=True)
class Call:
    payload: dict = dataclasses.field(default_factory=dict)
    path: str = routes.PORTAL
    query: dict = dataclasses.field(default_factory=dict)


def _console(path: str, payload: dict | None = None, **query) -> Call:
    return Call(payload or {}, path, {k: str(v) for k, v in query.items()})


_PORTAL = Call()
_RAW_CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}


def _signup(v: Victim, payload: dict | None = None) -> Call:
    return Call(
        payload or {}, f"/signup/zed-attack-co/{v.plan}", {"merchant_slug": "zed-attack-co", "plan_id": str(v.plan)}
    )


def _plan(v: Victim, payload: dict | None = None) -> Call:
    """A call from the victim's plan page (its handlers read the plan id from the route)."""
    return _console(routes.console_plan_url(v.plan), payload, plan_id=v.plan)


_FORM_CARD = {"form_data": {"payment_method": "pm_card_visa"}}

# qualified handler name -> the attacker's call, given the victim's ids. One line per handler.
RECIPES: dict[str, Callable[[Victim], Call]] = {
    "PortalState.load": lambda v: _PORTAL,
    "PortalState.set_language": lambda v: Call({"language": "es"}),
    "PortalState.show_more_invoices": lambda v: _PORTAL,
    "PortalPayState.pay_now": lambda v: Call({"invoice_id": str(v.invoice)}),  # the victim's invoice
    "PortalCardState.open_form": lambda v: _PORTAL,
    "PortalCardState.close_form": lambda v: _PORTAL,
    "PortalCardState.save_card": lambda v: Call(_FORM_CARD),
    "PortalCardState.card_refused": lambda v: Call({"error": {"code": "incorrect_number", "param": "number"}}),
    "PortalCardState.stripe_setup_confirmed": lambda v: Call({"setup_intent_id": "seti_victim"}),
    "PortalCardState.check_payment_to_authenticate": lambda v: _PORTAL,
    "PortalCardState.stripe_payment_authenticated": lambda v: Call({"payment_intent_id": "pi_victim"}),
    "PortalCardState.finish_challenge": lambda v: Call({"approved": True}),
    "PortalCancelState.set_dialog_open": lambda v: Call({"value": True}),
    "PortalCancelState.confirm_cancel": lambda v: Call({"form_data": {"reason": "other", "details": "x"}}),
    "PortalCancelState.undo_cancel": lambda v: _PORTAL,
    "PortalBillingState.save_details": lambda v: Call({"form_data": {"billing_name": "Hijacked", "tax_id": "X"}}),
    "InvalidLinkState.request_link": lambda v: Call({"form_data": {"email": "nobody@nowhere.example"}}),
    # Public: a hostile query (unknown reason, a slug that is no slug, an unknown language) reads as
    # the generic page; a real ?m= names only what the merchant's signup page shows anyway.
    "InvalidLinkState.load": lambda v: Call(
        path=routes.PORTAL_INVALID, query={"reason": "<script>", "m": "../acme", "lang": "xx"}
    ),
    "ConsoleLoginState.load_login": lambda v: _console(routes.CONSOLE),
    "ConsoleLoginState.load_signup": lambda v: _console(routes.CONSOLE_SIGNUP),
    "ConsoleDashboardState.load": lambda v: _console(routes.CONSOLE_HOME),
    "ConsolePlansState.load": lambda v: _console(routes.CONSOLE_PLANS),
    "ConsolePlansState.open_new": lambda v: _console(routes.CONSOLE_PLANS),
    "ConsolePlansState.open_edit": lambda v: _console(routes.CONSOLE_PLANS, {"plan_id": v.plan}),
    "ConsolePlansState.set_dialog_open": lambda v: _console(routes.CONSOLE_PLANS, {"value": True}),
    "ConsolePlansState.save": lambda v: _console(routes.CONSOLE_PLANS, {"form_data": {**PLAN_FORM, "name": "Hijack"}}),
    "ConsoleSubscribersState.load_all": lambda v: _console(routes.CONSOLE_SUBSCRIBERS),
    "ConsoleSubscribersState.load_plan": lambda v: _console(routes.console_plan_url(v.plan), plan_id=v.plan),
    "ConsoleSubscribersState.search": lambda v: _console(
        routes.CONSOLE_SUBSCRIBERS, {"form_data": {"query": "e", "status": "all"}}
    ),
    "ConsoleSubscribersState.next_page": lambda v: _console(routes.CONSOLE_SUBSCRIBERS),
    "ConsoleSubscribersState.previous_page": lambda v: _console(routes.CONSOLE_SUBSCRIBERS),
    "ConsoleSubscribersState.set_register_open": lambda v: _console(routes.CONSOLE_SUBSCRIBERS, {"value": True}),
    "ConsoleSubscribersState.register_card_refused": lambda v: _console(
        routes.console_plan_url(v.plan), {"error": {"code": "incorrect_number", "param": "number"}}
    ),
    "ConsoleSubscribersState.register": lambda v: _console(
        routes.console_plan_url(v.plan),
        {"form_data": {"name": "Intruder", "email": "i@evil.example", "payment_method": "pm_card_visa"}},
    ),
    "ConsoleProfileState.load": lambda v: _console(
        routes.console_subscriber_url(v.subscriber), subscriber_id=v.subscriber
    ),
    "ConsoleProfileState.link_outcome": lambda v: _console(routes.CONSOLE_HOME, {"outcome": "copied"}),
    "ConsoleProfileState.set_confirm": lambda v: _console(routes.CONSOLE_HOME, {"value": "delete"}),
    "ConsoleProfileState.close_confirm": lambda v: _console(routes.CONSOLE_HOME, {"open_": False}),
    "ConsoleProfileState.regenerate": lambda v: _console(routes.console_subscriber_url(v.subscriber)),
    "ConsoleProfileState.send_invitation": lambda v: _console(routes.console_subscriber_url(v.subscriber)),
    "ConsoleProfileState.delete_subscription": lambda v: _console(routes.console_subscriber_url(v.subscriber)),
    "ConsoleProfileState.download_invoice": lambda v: _console(routes.CONSOLE_HOME, {"invoice_id": str(v.invoice)}),
    "ConsoleProfileState.ask_resolve_review": lambda v: _console(
        routes.CONSOLE_HOME, {"attempt_id": "1", "resolution": "paid"}
    ),
    "ConsoleProfileState.resolve_review": lambda v: _console(
        routes.CONSOLE_HOME, {"attempt_id": "1", "resolution": "void"}
    ),
    # The refund dialog's handlers (mixed into ConsoleProfileState), aimed at the victim's invoice.
    "ConsoleProfileState.open_refund": lambda v: _console(routes.CONSOLE_HOME, {"invoice_id": str(v.invoice)}),
    "ConsoleProfileState.set_refund_amount": lambda v: _console(routes.CONSOLE_HOME, {"value": "1.00"}),
    "ConsoleProfileState.set_refund_reason": lambda v: _console(routes.CONSOLE_HOME, {"value": "x"}),
    "ConsoleProfileState.close_refund": lambda v: _console(routes.CONSOLE_HOME, {"open_": False}),
    "ConsoleProfileState.submit_refund": lambda v: _console(routes.console_subscriber_url(v.subscriber)),
    "ConsoleOutboxState.load": lambda v: _console(routes.CONSOLE_OUTBOX),
    "ConsoleOutboxState.change_page": lambda v: _console(routes.CONSOLE_OUTBOX, {"delta": 1}),
    "ConsoleOutboxState.resend": lambda v: _console(routes.CONSOLE_OUTBOX, {"email_id": str(v.email)}),
    "ConsoleSettingsState.load": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleSettingsState.save_settings": lambda v: _console(
        routes.CONSOLE_SETTINGS, {"form_data": {"name": "Hijack"}}
    ),
    "ConsoleSettingsState.remove_logo": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleSettingsState.save_business": lambda v: _console(
        routes.CONSOLE_SETTINGS, {"form_data": {"website_url": "https://evil.example", "brand_color": "#000000"}}
    ),
    "ConsoleSettingsState.add_member": lambda v: _console(
        routes.CONSOLE_SETTINGS, {"form_data": {"email": "intruder@evil.example", "password": "long enough password"}}
    ),
    "ConsoleApiKeysState.load": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleApiKeysState.key_outcome": lambda v: _console(routes.CONSOLE_SETTINGS, {"outcome": "created"}),
    "ConsoleApiKeysState.ask_revoke": lambda v: _console(routes.CONSOLE_SETTINGS, {"key_id": "1"}),
    "ConsoleApiKeysState.close_revoke": lambda v: _console(routes.CONSOLE_SETTINGS, {"open_": False}),
    "ConsoleApiKeysState.revoke": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleSubscribersState.copy_signup_url": lambda v: _console(routes.console_plan_url(v.plan), plan_id=v.plan),
    "ConsoleWebhooksState.load": lambda v: _console(routes.CONSOLE_WEBHOOKS),
    "ConsoleWebhooksState.set_add_open": lambda v: _console(routes.CONSOLE_WEBHOOKS, {"is_open": True}),
    "ConsoleWebhooksState.add": lambda v: _console(routes.CONSOLE_WEBHOOKS, {"form": {"url": "http://127.0.0.1:9/x"}}),
    "ConsoleWebhooksState.delete": lambda v: _console(routes.CONSOLE_WEBHOOKS, {"endpoint_id": "1"}),
    "ConsoleWebhooksState.show_deliveries": lambda v: _console(routes.CONSOLE_WEBHOOKS, {"endpoint_id": "1"}),
    "ConsoleWebhooksState.refresh": lambda v: _console(routes.CONSOLE_WEBHOOKS),
    "ConsoleWebhooksState.resend": lambda v: _console(routes.CONSOLE_WEBHOOKS, {"delivery_id": "1"}),
    "PortalFlowState.open_flow": lambda v: _PORTAL,
    # Plan changes, pauses, trials, retention offers and step-up (the victim's plan as the target).
    "PortalCancelState.resume_cancel": lambda v: _PORTAL,
    "PortalPauseState.set_dialog_open": lambda v: Call({"value": True}),
    "PortalPauseState.set_resume_on": lambda v: Call({"value": "2030-01-01"}),
    "PortalPauseState.confirm_pause": lambda v: Call({"form_data": {"resume_on": "2030-01-01"}}),
    "PortalPauseState.resume_now": lambda v: _PORTAL,
    "PortalPlanChangeState.load_plan_change": lambda v: _PORTAL,
    "PortalPlanChangeState.set_pc_open": lambda v: Call({"value": True}),
    "PortalPlanChangeState.review_change": lambda v: Call({"form_data": {"plan": str(v.plan)}}),
    "PortalPlanChangeState.back_to_plans": lambda v: _PORTAL,
    "PortalPlanChangeState.confirm_change": lambda v: _PORTAL,
    "PortalPlanChangeState.undo_change": lambda v: _PORTAL,
    "PortalRetentionState.start_cancel": lambda v: _PORTAL,
    "PortalRetentionState.set_offer_open": lambda v: Call({"value": True}),
    "PortalRetentionState.accept_offer": lambda v: _PORTAL,
    "PortalRetentionState.decline_offer": lambda v: _PORTAL,
    "PortalStepUpState.ask": lambda v: Call({"action": "card"}),
    "PortalStepUpState.set_step_open": lambda v: Call({"value": True}),
    "PortalStepUpState.resend": lambda v: _PORTAL,
    "PortalStepUpState.verify": lambda v: Call({"form_data": {"step_up_code": "000000"}}),
    "ConsolePlanLifecycleState.load": lambda v: _plan(v),
    "ConsolePlanLifecycleState.save": lambda v: _plan(v, {"form": {"trial_days": "30", "pause_max_days": "90"}}),
    "ConsolePlanRetentionState.load_retention": lambda v: _plan(v),
    "ConsolePlanRetentionState.set_retention_kind": lambda v: _plan(v, {"value": "percent"}),
    "ConsolePlanRetentionState.save_retention": lambda v: _plan(
        v, {"form_data": {"retention_value": "90", "retention_cycles": "12"}}
    ),
    "PlanSwitchesState.load_switches": lambda v: _plan(v),
    "PlanSwitchesState.save_switches": lambda v: _plan(v, {"form_data": {f"switch-{v.plan}": "on"}}),
    "ConsoleRetentionCardState.load_retention_card": lambda v: _console(routes.CONSOLE_HOME),
    "ConsoleStepUpState.load_step_up": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleStepUpState.set_step_up_required": lambda v: _console(routes.CONSOLE_SETTINGS, {"value": False}),
    "ConsoleTrialReminderState.load": lambda v: _console(routes.CONSOLE_SETTINGS),
    "ConsoleTrialReminderState.save": lambda v: _console(
        routes.CONSOLE_SETTINGS, {"form": {"trial_reminder_days": "1"}}
    ),
    "DowngradeTimingState.load_timing": lambda v: _console(routes.CONSOLE_SETTINGS),
    "DowngradeTimingState.save_timing": lambda v: _console(routes.CONSOLE_SETTINGS, {"value": "immediately"}),
    # The signup page is public: its calls aim at the victim's plan under a slug that is not its
    # merchant's (not available: nothing of the victim shown, nothing written), raw card data included.
    "SignupState.load": lambda v: _signup(v),
    "SignupState.set_language": lambda v: _signup(v, {"language": "es"}),
    "SignupState.submit": lambda v: _signup(v, {"form_data": {"name": "X", "email": "x@evil.example", **_RAW_CARD}}),
    "SignupState.begin_stripe_card": lambda v: _signup(v, {"form_data": {"name": "X", "email": "x@evil.example"}}),
    "SignupState.card_refused": lambda v: _signup(v, {"error": {"code": "incorrect_number", "param": "number"}}),
    "SignupState.finish_challenge": lambda v: _signup(v, {"approved": True}),
    "SignupState.stripe_setup_confirmed": lambda v: _signup(v, {"setup_intent_id": "seti_victim"}),
    "SignupState.stripe_card_error": lambda v: _signup(v, {"message": "x"}),
}


def our_handlers() -> list[tuple[type[rx.State], str, str]]:
    """(state class, handler name, qualified name) of every handler our code registers; Reflex's own
    (hydrate, client storage, on_load dispatch) carry no data of ours and are left out."""

    def walk(cls):
        yield cls
        for sub in sorted(cls.get_substates(), key=lambda c: c.get_full_name()):
            yield from walk(sub)

    return [
        (cls, name, handler.fn.__qualname__)
        for cls in walk(rx.State)
        for name, handler in sorted(cls.event_handlers.items())
        if getattr(handler.fn, "__module__", "").startswith("portal_app")
    ]


def test_every_handler_has_a_recipe():
    handlers = our_handlers()
    assert len(handlers) > 30  # the walk found the app's states
    missing = sorted(q for _, _, q in handlers if q not in RECIPES)
    assert not missing, f"handlers without an attack recipe in {__name__}.RECIPES: {missing}"
    assert not set(RECIPES) - {q for _, _, q in handlers}, "recipes for handlers that no longer exist"


def _victim(engine) -> tuple[Victim, list[str]]:
    """The demo merchant's ids, and markers of its data that must never reach an attacker."""
    with Session(engine) as session:
        merchant = session.exec(select(Merchant).where(Merchant.slug == demo.MERCHANT_SLUG)).one()
        people = session.exec(select(Subscriber).where(Subscriber.merchant_id == merchant.id)).all()
        globex = next(p for p in people if p.email == demo.GLOBEX.email)
        plan = session.exec(select(Plan).where(Plan.merchant_id == merchant.id)).first()
        invoice = session.exec(select(Invoice).where(Invoice.subscriber_id == globex.id)).first()
    markers = [merchant.name, demo.OWNER_EMAIL, "1 Globex Plaza", invoice.number, *(p.email for p in people)]
    return Victim(
        merchant.id, globex.id, plan.id, invoice.id, failed_email(engine, merchant.id, globex.email, globex.id)
    ), markers


def _attacker(engine, monkeypatch) -> str:
    """Another merchant signed in, and one of its subscribers in the portal: their Cookie header."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name="Zed Attack Co", email="mallory@zed.example", password="long enough password"
        )
        console_secret = sessions.open_console_session(session, user)
        merchant_id, user_id = user.merchant_id, user.id
    plan_id = plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "name": "Zed Plan"})
    result = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Zara Attacker", "email": "zara@zed.example", **card_form()},
    )
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, result.subscriber_id)
        link = portal_links.resolve_portal_token(session, portal_links.current_portal_token(session, subscriber))
        portal_secret = sessions.open_portal_session(session, link)
    return f"{routes.CONSOLE_SESSION_COOKIE}={console_secret}; {routes.PORTAL_SESSION_COOKIE}={portal_secret}"


def _victim_rows(engine, merchant_id: int) -> dict:
    return {
        table: [row for row in rows if f"('merchant_id', '{merchant_id}')" in repr(row)]
        for table, rows in table_snapshot(engine).items()
    }


_SENTINEL = "Please enter the email address your subscription uses."  # request_link's answer to a non-email


def _attack(base: str, cookie: str | None, victim: Victim) -> str:
    """Every handler called once over one socket; everything the server sent back, as text."""
    with ReflexSocket(base, cookie=cookie) as sock:
        for cls, name, qualname in our_handlers():
            call = RECIPES[qualname](victim)
            sock.send(event_name(cls, name), call.payload, path=call.path, query=call.query)
        # A token's events are handled in order: once the last one is answered, all of them were.
        sock.send(event_name(InvalidLinkState, "request_link"), {"form_data": {"email": "x"}}, path=routes.PORTAL)
        assert sock.wait_for(_SENTINEL, timeout=180), "the server did not work through the calls"
        sock.wait_quiet(2.0, after=0)
        return sock.received_text()


def test_every_handler_refuses_strangers_and_other_tenants_over_the_socket(server, monkeypatch):
    base, engine = server["base_url"], server["engine"]
    victim, markers = _victim(engine)
    cookie = _attacker(engine, monkeypatch)
    before, victim_before = table_snapshot(engine), _victim_rows(engine, victim.merchant)

    anonymous = _attack(base, None, victim)
    assert routes.PORTAL_INVALID in anonymous  # refused: sent away (the path is only ever a redirect target)
    assert [m for m in markers if m in anonymous] == []
    assert table_snapshot(engine) == before  # a caller without a session changes nothing at all

    other_tenant = _attack(base, cookie, victim)
    assert "Zed Attack Co" in other_tenant and "Zara Attacker" in other_tenant  # its own calls were served
    assert [m for m in markers if m in other_tenant] == []
    assert _victim_rows(engine, victim.merchant) == victim_before
