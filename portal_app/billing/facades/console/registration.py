"""Console: registering a subscriber to a plan (subscriber, incomplete subscription with its first
invoice, portal link, invitation), with the card component's id (simulated gateway) or without a
card (Stripe: the subscriber adds theirs in the portal)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlmodel import Session

from portal_app import db
from portal_app.billing.audit import audit
from portal_app.billing.enrolment import add_subscriber, issue_first_link, live_subscription_on_plan
from portal_app.billing.errors import NotFound
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades.card_entry import CardInputError, card_reference
from portal_app.billing.facades.console.forms import (
    LANGUAGES,
    ConsoleError,
    actor_for,
    checkbox,
    choice_field,
    email_field,
    form_dict,
    parse_id,
    text_field,
)
from portal_app.billing.gateways import get_gateway
from portal_app.billing.gateways.base import CardEntry
from portal_app.billing.payments.card_updates import CardUpdateOutcome, CardUpdateResult, update_payment_method
from portal_app.billing.payments.cards import default_payment_method
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.billing.subscriptions import start_subscription
from portal_app.billing.tenancy import get_scoped
from portal_app.models import Merchant, Plan, Subscription, utcnow

S = SubscriptionStatus
BACKDATE_LIMIT_DAYS = 31


# --- register a subscriber ------------------------------------------------------------------------


# The registration form's own fields; with the simulated gateway it also carries the card
# component's payment_method id (and never card data: see card_entry.card_reference).
REGISTER_FIELDS = frozenset({"name", "email", "language", "start_date", "send_invitation"})


def console_takes_cards(gateway=None) -> bool:
    """Whether the register form has card fields: with the simulated gateway (its tokenizer), not
    with Stripe, where the subscriber adds their own card in the portal (and approves 3DS there)."""
    return (gateway or get_gateway()).card_entry is CardEntry.FORM


class RegistrationOutcome(StrEnum):
    ACTIVE = "active"  # card saved, first invoice paid
    AWAITING_CARD = "awaiting_card"  # Stripe: registered without a card; the subscriber adds it in the portal
    PAYMENT_FAILED = "payment_failed"  # card saved, first charge failed: dunning retries, the portal can fix it
    CARD_REFUSED = "card_refused"  # the gateway refused the card (or wants 3DS): nothing was charged


@dataclasses.dataclass(frozen=True)
class RegisterResult:
    """What registering did. CARD_REFUSED keeps the subscriber and its incomplete subscription: the
    form shows `message` on `field`, and sending the form again with another card resumes it."""

    subscriber_id: int
    subscription_id: int
    outcome: RegistrationOutcome
    invitation_sent: bool
    message: str
    field: str = ""

    @property
    def active(self) -> bool:
        return self.outcome is RegistrationOutcome.ACTIVE


def _start_at(value: Any, now: datetime) -> datetime:
    """'' or today -> now; an earlier date (up to a month back) -> that day's midnight UTC."""
    if value in (None, ""):
        return now
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        raise ConsoleError("Enter the start date as YYYY-MM-DD.", field="start_date")
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ConsoleError("Enter a real start date.", field="start_date") from None
    today = now.astimezone(UTC).date()
    if day > today:
        raise ConsoleError("The start date can't be in the future.", field="start_date")
    if day < today - timedelta(days=BACKDATE_LIMIT_DAYS):
        raise ConsoleError(f"The start date can be at most {BACKDATE_LIMIT_DAYS} days ago.", field="start_date")
    return now if day == today else datetime.combine(day, time(0, 0), tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class _Registration:
    """The checked form of a registration."""

    plan_id: int
    name: str
    email: str
    language: str
    start_at: datetime
    card_input: dict[str, str] | None  # None: no card in the console (Stripe), the portal collects it
    send_invitation: bool
    actor: str


def _card_of_form(form: dict, takes_cards: bool) -> dict[str, str] | None:
    """The card component's id (simulated), or None (Stripe: any card field is refused, never dropped)."""
    if takes_cards:
        try:
            return card_reference(form, other_fields=REGISTER_FIELDS)
        except CardInputError as err:
            raise ConsoleError(err.message, field=err.field or "number") from None
    if set(form) - REGISTER_FIELDS:
        raise ConsoleError("Cards aren't entered in the console: the subscriber adds theirs in the portal.")
    return None


def _registration_from_form(
    form: Any, *, plan_id: Any, actor: str, now: datetime, takes_cards: bool = True
) -> _Registration:
    form = form_dict(form)
    return _Registration(
        plan_id=parse_id(plan_id, "plan"),
        name=text_field(form, "name", label="Name", max_length=120),
        email=email_field(form.get("email", "")),
        language=choice_field(form, "language", ("", *LANGUAGES), message="Choose English or Spanish."),
        start_at=_start_at(form.get("start_date", ""), now),
        card_input=_card_of_form(form, takes_cards),
        send_invitation=checkbox(form.get("send_invitation", "")),
        actor=actor,
    )


def _pending_registration(session: Session, merchant_id: int, reg: _Registration) -> Subscription | None:
    """The email's live subscription on the plan, if any; ConsoleError unless it is a registration whose
    card was refused (incomplete, no card on file), which a new card resumes."""
    row = live_subscription_on_plan(session, merchant_id=merchant_id, email=reg.email, plan_id=reg.plan_id)
    if row is None:
        return None
    refused_card = row.status == S.INCOMPLETE and (
        default_payment_method(session, merchant_id=merchant_id, subscriber_id=row.subscriber_id) is None
    )
    if not refused_card:
        raise ConsoleError("This email already has a live subscription on this plan.", field="email")
    return row


def _card_refused_message(card: CardUpdateResult) -> str:
    if card.outcome is CardUpdateOutcome.REQUIRES_ACTION:
        return (
            "This card needs the cardholder to approve it with their bank (3D Secure), "
            "which can't be done from the console. Use another card."
        )
    return portal_facade.card_update_text(card, "en")


def register_subscriber(
    *, merchant_id: int, user_id: int, plan_id: Any, form: Any, gateway=None, now: datetime | None = None
) -> RegisterResult:
    """Register a subscriber on a plan: the subscriber, their incomplete subscription with its first
    invoice, the portal link and (if asked) the invitation; the card goes to the gateway and the first
    invoice is charged outside any transaction (claim, call, record).

    The whole form is checked before anything is written. A refused card is recorded, not erased:
    the subscriber keeps the incomplete subscription (the audit trail says why), the form shows the
    refusal, and sending the form again with another card resumes that registration.
    """
    now = now or utcnow()
    gateway = gateway or get_gateway()
    reg = _registration_from_form(
        form, plan_id=plan_id, actor=actor_for(user_id), now=now, takes_cards=console_takes_cards(gateway)
    )
    subscriber_id, subscription_id, plan_name, pending = _open_registration(merchant_id, reg, now)

    if reg.card_input is None:
        return _register_awaiting_card(merchant_id, subscriber_id, subscription_id, plan_name, reg, now)
    # The gateway stores the card outside any transaction. A resumed registration's open first
    # invoice is charged right away with the new card (as when the subscriber fixes it in the portal).
    card = update_payment_method(
        db.get_engine(),
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        card_input=reg.card_input,
        gateway=gateway,
        now=now,
        actor=reg.actor,
    )
    saved = card.outcome is CardUpdateOutcome.UPDATED
    invitation_sent = False
    with db.session_scope() as session:
        if subscription_id is None:
            started = start_subscription(
                session,
                merchant_id=merchant_id,
                subscriber=subscriber_id,
                plan=reg.plan_id,
                start_at=reg.start_at,
                actor=reg.actor,
            )
            subscription_id = started.subscription.id
            invoice_id = started.invoice.id if started.invoice else None  # None: a trial
            invitation_sent = _issue_link(session, merchant_id, subscriber_id, plan_name, reg, now)
        if not saved:
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=subscriber_id,
                actor=reg.actor,
                kind="card_refused",
                detail={"outcome": card.outcome.value, "decline_code": card.decline_code},
                now=now,
            )
    if not saved:
        message = _card_refused_message(card)
        return RegisterResult(
            subscriber_id, subscription_id, RegistrationOutcome.CARD_REFUSED, invitation_sent, message, "number"
        )
    if pending is None and invoice_id is None:
        charges = []  # a trial: the first charge comes at its end
    elif pending is None:
        charges = [
            charge_invoice(
                db.get_engine(), invoice_id, merchant_id=merchant_id, trigger="renewal", gateway=gateway, now=now
            )
        ]
    else:
        charges = list(card.charges)
    failed = next((c for c in charges if not c.paid), None)
    if failed is None:
        first = "the free trial has started" if not charges else "the first payment succeeded"
        message = f"{reg.name} is subscribed to {plan_name}; {first}."
        return RegisterResult(subscriber_id, subscription_id, RegistrationOutcome.ACTIVE, invitation_sent, message)
    message = (
        f"{reg.name} is registered, but the first payment failed: {portal_facade.charge_text(failed, 'en')} "
        "They can fix their card in the portal."
    )
    return RegisterResult(subscriber_id, subscription_id, RegistrationOutcome.PAYMENT_FAILED, invitation_sent, message)


def _open_registration(
    merchant_id: int, reg: _Registration, now: datetime
) -> tuple[int, int | None, str, Subscription | None]:
    """The subscriber (new, or the one whose refused registration this resumes): (subscriber id,
    resumed subscription id or None, plan name, the resumed subscription)."""
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        language = reg.language or merchant.default_language or "en"
        if language not in LANGUAGES:
            raise ConsoleError("Choose English or Spanish.", field="language")
        plan = get_scoped(session, Plan, reg.plan_id, merchant_id)
        if not plan.active:
            raise ConsoleError("This plan is archived: activate it before registering subscribers.")
        plan_name = plan.name
        pending = _pending_registration(session, merchant_id, reg)
        if pending is None:
            subscriber = add_subscriber(
                session,
                merchant_id=merchant_id,
                name=reg.name,
                email=reg.email,
                language=language,
                actor=reg.actor,
                now=now,
                detail={"plan_id": reg.plan_id, "send_invitation": reg.send_invitation},
            )
            subscriber_id, subscription_id = subscriber.id, None
        else:
            subscriber_id, subscription_id = pending.subscriber_id, pending.id
    return subscriber_id, subscription_id, plan_name, pending


def register_subscriber_without_card(
    *, merchant_id: int, actor: str, plan_id: Any, form: Any, now: datetime | None = None
) -> RegisterResult:
    """Register a subscriber without a card whatever the gateway (the REST API, as Stripe mode here):
    the incomplete subscription with its first invoice open, the portal link and, if asked, the
    invitation; the subscriber adds a card in the portal, which charges that invoice. `form` holds
    the registration fields only (name, email, language, start_date, send_invitation)."""
    now = now or utcnow()
    reg = _registration_from_form(form, plan_id=plan_id, actor=actor, now=now, takes_cards=False)
    subscriber_id, subscription_id, plan_name, _resumed = _open_registration(merchant_id, reg, now)
    return _register_awaiting_card(merchant_id, subscriber_id, subscription_id, plan_name, reg, now)


def _register_awaiting_card(
    merchant_id: int, subscriber_id: int, subscription_id: int | None, plan_name: str, reg: _Registration, now: datetime
) -> RegisterResult:
    """Stripe: the subscription starts incomplete with its first invoice open; the subscriber adds a
    card in the portal (Elements, 3DS with their bank), which charges that invoice at once."""
    invitation_sent = False
    if subscription_id is None:
        with db.session_scope() as session:
            started = start_subscription(
                session,
                merchant_id=merchant_id,
                subscriber=subscriber_id,
                plan=reg.plan_id,
                start_at=reg.start_at,
                actor=reg.actor,
            )
            subscription_id = started.subscription.id
            invitation_sent = _issue_link(session, merchant_id, subscriber_id, plan_name, reg, now, add_card=True)
    message = (
        f"{reg.name} is registered to {plan_name}; the first invoice is charged once they add a card in the portal."
    )
    if not invitation_sent:
        message += " Send them their portal link from their profile."
    return RegisterResult(subscriber_id, subscription_id, RegistrationOutcome.AWAITING_CARD, invitation_sent, message)


def _issue_link(
    session: Session,
    merchant_id: int,
    subscriber_id: int,
    plan_name: str,
    reg: _Registration,
    now: datetime,
    *,
    add_card: bool = False,
) -> bool:
    """The subscriber's first portal link, emailed when the form asks (asking for a card when the
    registration has none yet); returns whether it was."""
    return issue_first_link(
        session,
        merchant_id=merchant_id,
        subscriber_id=subscriber_id,
        plan_name=plan_name,
        actor=reg.actor,
        now=now,
        invite=reg.send_invitation,
        add_card=add_card,
    )
