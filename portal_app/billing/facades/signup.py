"""The hosted signup page's facade (public: no session): a plan's offer, and signing up to it.

Signing up is the card step first, then the enrolment. The card goes to the gateway (the browser
tokenized it: only a pm_/seti_ id reaches us) on a gateway customer of its own, 3DS when the bank
asks, before any row of ours exists. Only then does the email matter:
- new on this plan: the subscriber, the card, the incomplete subscription with its first invoice,
  charged at once; the welcome (invitation) email with the portal link; a portal grant to land on.
- already subscribed to this plan: no second subscription, no charge; their existing portal link is
  emailed to that address, and the page says "check your email". Never a session on an existing
  subscriber from this form.
So up to the point where a new subscriber's card is charged, both answers are the same steps with the
same texts (declines, 3DS challenge, refusals): the form does not tell who is subscribed.
Rate limited per client IP and per email; every refusal is a SignupRefused with a text key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import re
from datetime import datetime
from enum import StrEnum

from sqlmodel import select

from portal_app import db, i18n
from portal_app.billing.brand import DEFAULT_COLOR, effective_color
from portal_app.billing.enrolment import add_subscriber, issue_first_link, live_subscription_on_plan
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.card_entry import CardInputError, card_reference
from portal_app.billing.facades.outage import ServiceUnavailable, calm_on_database_outage
from portal_app.billing.gateways import get_gateway
from portal_app.billing.gateways.base import CardDetails, CardEntry, SetupOutcome, SetupResult
from portal_app.billing.money import Money
from portal_app.billing.notify import send_subscriber_email
from portal_app.billing.payments.cards import save_card
from portal_app.billing.payments.charging import charge_invoice
from portal_app.billing.portal_grants import create_portal_grant
from portal_app.billing.portal_links import current_portal_url
from portal_app.billing.subscriptions import start_subscription
from portal_app.models import Merchant, Plan, Subscriber, utcnow
from portal_app.ratelimit import RateLimiter
from portal_app.settings import get_settings

log = logging.getLogger(__name__)

ACTOR = "signup"
SIGNUP_FIELDS = frozenset({"name", "email", "language"})
MAX_NAME = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
_PLAN_ID = re.compile(r"[1-9][0-9]{0,11}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s.]{2,63}")

# A person tries a few cards; a script trying addresses runs into these. Counted per form sent.
# (Not "signup-ip": that is the console's merchant sign-up, and names share Redis counters.)
signup_ip_limiter = RateLimiter("plan-signup-ip", limit=get_settings().signup_ip_limit, window_seconds=600)
signup_email_limiter = RateLimiter("signup-email", limit=5, window_seconds=3600)


class SignupRefused(BillingError):
    """A refusal the page words in the visitor's language: `text_key` is a SIGNUP_TEXT key, or
    `message` is already worded (a decline)."""

    code = "signup_refused"

    def __init__(self, text_key: str, *, field: str | None = None, message: str = "", values: dict | None = None):
        super().__init__(message or text_key, field=field)
        self.text_key = text_key if not message else ""
        self.values = values or {}


class NotAvailable(SignupRefused):
    """Unknown merchant or plan, another merchant's plan, an archived plan: one answer for all."""

    def __init__(self):
        super().__init__("not_available_body")


DEFAULT_BRAND_COLOR = DEFAULT_COLOR  # the accent before the page knows its merchant


# --- the offer --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignupOffer:
    merchant_name: str
    merchant_slug: str
    logo_version: str  # "" = no logo
    default_language: str
    plan_id: int
    plan_name: str
    price: Money
    interval: str
    interval_count: int
    test_mode: bool
    stripe_mode: bool
    brand_color: str = DEFAULT_COLOR  # the accent of buttons and links (brand.effective_color)
    trial_days: int = 0  # a free trial first: nothing is charged today (billing/trials.py)


def _ids(merchant_slug: object, plan_id: object) -> tuple[str, int]:
    if not isinstance(merchant_slug, str) or not _SLUG.fullmatch(merchant_slug):
        raise NotAvailable()
    if isinstance(plan_id, bool) or not isinstance(plan_id, (str, int)) or not _PLAN_ID.fullmatch(str(plan_id)):
        raise NotAvailable()
    return merchant_slug, int(plan_id)


def _offer_rows(session, merchant_slug: object, plan_id: object) -> tuple[Merchant, Plan]:
    slug, pid = _ids(merchant_slug, plan_id)
    merchant = session.exec(select(Merchant).where(Merchant.slug == slug)).first()
    plan = session.get(Plan, pid) if merchant is not None else None
    if plan is None or plan.merchant_id != merchant.id or not plan.active:
        raise NotAvailable()
    return merchant, plan


@calm_on_database_outage
def signup_offer(merchant_slug: object, plan_id: object) -> SignupOffer:
    """What the signup page shows for /signup/<merchant_slug>/<plan_id>; NotAvailable otherwise."""
    gateway = get_gateway()
    with db.session_scope() as session:
        merchant, plan = _offer_rows(session, merchant_slug, plan_id)
        return SignupOffer(
            merchant_name=merchant.name,
            merchant_slug=merchant.slug,
            logo_version=hashlib.sha256(merchant.logo_png).hexdigest()[:12] if merchant.logo_png else "",
            default_language=i18n.language(merchant.default_language),
            plan_id=plan.id,
            plan_name=plan.name,
            price=Money(plan.amount_minor, plan.currency),
            interval=plan.interval,
            interval_count=plan.interval_count,
            test_mode=gateway.test_mode,
            stripe_mode=gateway.card_entry is CardEntry.STRIPE_ELEMENTS,
            brand_color=effective_color(merchant.brand_color),
            trial_days=plan.trial_days,
        )


def price_text(offer: SignupOffer, lang: str) -> str:
    """ "€29.00 per month", "$90.00 every 3 months", in the visitor's language."""
    amount = i18n.fmt_money(offer.price, lang)
    if offer.interval_count == 1:
        return i18n.signup_t(lang, f"price_{offer.interval}", amount=amount)
    return i18n.signup_t(lang, f"price_{offer.interval}s", amount=amount, count=offer.interval_count)


# --- signing up -------------------------------------------------------------------------------------


class SignupOutcome(StrEnum):
    LANDED = "landed"  # a new subscriber: open `landing_url` (a single-use portal grant)
    CHECK_EMAIL = "check_email"  # already subscribed: their link went to that address
    REQUIRES_ACTION = "requires_action"  # show the bank's challenge, then confirm_signup_card(pending, ...)


@dataclasses.dataclass(frozen=True)
class PendingSignup:
    """A signup waiting for the bank's 3DS answer: kept server-side (an underscore state var), never
    sent to the browser. Holds no secret: the setup and customer ids are useless without our key."""

    merchant_id: int
    plan_id: int
    name: str
    email: str
    language: str
    customer_ref: str
    setup_ref: str


@dataclasses.dataclass(frozen=True)
class SignupResult:
    outcome: SignupOutcome
    email: str
    landing_url: str = ""  # LANDED: carries a grant token; redirect to it, never store or log it
    pending: PendingSignup | None = None
    paid: bool = False


def _text(form: dict, key: str) -> str:
    value = form.get(key, "")
    if not isinstance(value, str):
        raise SignupRefused("name_required" if key == "name" else "email_invalid", field=key)
    return value.strip()


def _checked_details(form: dict, lang: str) -> tuple[str, str, str]:
    """(name, email, language) of the form, or SignupRefused naming the field."""
    name = _text(form, "name")
    if not name or _CONTROL.search(name):
        raise SignupRefused("name_required", field="name")
    if len(name) > MAX_NAME:
        raise SignupRefused("name_too_long", field="name", values={"max": MAX_NAME})
    email = _text(form, "email").lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email):
        raise SignupRefused("email_invalid", field="email")
    language = form.get("language", "") or lang
    if language not in i18n.SUPPORTED_LANGUAGES:
        raise SignupRefused("language_invalid", field="language")
    return name, email, language


def _checked_form(form: object, lang: str) -> tuple[str, str, str, dict[str, str]]:
    """(name, email, language, card reference) of the form, or SignupRefused naming the field."""
    if not isinstance(form, dict):
        raise SignupRefused("card_form_only")
    try:
        card_input = card_reference(form, other_fields=SIGNUP_FIELDS)
    except CardInputError as err:
        key = "card_required" if err.field == "number" else "card_form_only"
        raise SignupRefused(key, field="number" if err.field else None) from None
    return (*_checked_details(form, lang), card_input)


def _refusal_of_setup(setup: SetupResult, lang: str) -> SignupRefused:
    if setup.outcome is SetupOutcome.DECLINED:
        return SignupRefused("", field="number", message=i18n.decline_message(setup.decline_code, lang))
    if setup.outcome is SetupOutcome.REQUIRES_ACTION:  # the challenge was refused or failed
        return SignupRefused("", field="number", message=i18n.decline_message("authentication_required", lang))
    return SignupRefused("processor_unavailable")


@calm_on_database_outage
def start_signup(
    *,
    merchant_slug: object,
    plan_id: object,
    form: object,
    client_ip: str,
    lang: str = "en",
    customer_ref: str = "",
    now: datetime | None = None,
) -> SignupResult:
    """Sign up from the form {name, email, language, payment_method: pm_... | setup_intent: seti_...}.

    `customer_ref` is the gateway customer a Stripe SetupIntent was made for (server-side state);
    with the simulated gateway a customer is made here. Card data beside the id is refused.
    """
    lang = i18n.language(lang)
    if not signup_ip_limiter.hit(client_ip or "unknown"):
        raise SignupRefused("rate_limited")
    name, email, language, card_input = _checked_form(form, lang)
    if not signup_email_limiter.hit(email):
        raise SignupRefused("rate_limited")
    with db.session_scope() as session:
        merchant, plan = _offer_rows(session, merchant_slug, plan_id)
        merchant_id, pid = merchant.id, plan.id
    gateway = get_gateway()
    try:
        if not customer_ref:
            customer_ref = gateway.create_customer(
                email=email, name=name, metadata={"merchant_id": str(merchant_id), "signup_plan_id": str(pid)}
            )
        setup = gateway.attach_card(customer_ref=customer_ref, card_input=card_input)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("signup: attach_card failed for merchant %s: %r", merchant_id, exc)
        raise SignupRefused("processor_unavailable") from None
    pending = PendingSignup(merchant_id, pid, name, email, language, customer_ref, setup.setup_ref)
    return _after_card_step(pending, setup, lang, now or utcnow())


@dataclasses.dataclass(frozen=True)
class StripeCardStep:
    """Stripe mode, after the details: the SetupIntent Elements confirms in the browser (3DS with the
    bank included). `client_secret` is designed for the browser; `details` stays server-side and goes
    back to start_signup with the confirmed seti_ id."""

    publishable_key: str
    client_secret: str
    details: PendingSignup


@calm_on_database_outage
def begin_stripe_card_step(
    *, merchant_slug: object, plan_id: object, form: object, client_ip: str, lang: str = "en"
) -> StripeCardStep:
    """Stripe mode: check the details {name, email, language} (rate limited like a signup), then a
    gateway customer of its own and a SetupIntent for Elements. No row of ours is written."""
    lang = i18n.language(lang)
    if not signup_ip_limiter.hit(client_ip or "unknown"):
        raise SignupRefused("rate_limited")
    if not isinstance(form, dict) or set(form) - SIGNUP_FIELDS:
        raise SignupRefused("card_form_only")
    name, email, language = _checked_details(form, lang)
    if not signup_email_limiter.hit(email):
        raise SignupRefused("rate_limited")
    with db.session_scope() as session:
        merchant, plan = _offer_rows(session, merchant_slug, plan_id)
        merchant_id, pid = merchant.id, plan.id
    gateway = get_gateway()
    if gateway.card_entry is not CardEntry.STRIPE_ELEMENTS:
        raise SignupRefused("card_form_only")
    try:
        customer_ref = gateway.create_customer(
            email=email, name=name, metadata={"merchant_id": str(merchant_id), "signup_plan_id": str(pid)}
        )
        _setup_id, client_secret = gateway.create_setup_intent(customer_ref=customer_ref)
    except Exception as exc:  # noqa: BLE001 - Stripe unreachable or refusing: nothing was written
        log.warning("signup: SetupIntent failed for merchant %s: %r", merchant_id, exc)
        raise SignupRefused("processor_unavailable") from None
    details = PendingSignup(merchant_id, pid, name, email, language, customer_ref, "")
    return StripeCardStep(gateway.publishable_key, client_secret, details)


@calm_on_database_outage
def finish_stripe_signup(*, details: PendingSignup, setup_intent_id: object, lang: str = "en") -> SignupResult:
    """Stripe mode: Elements confirmed the SetupIntent (3DS included): re-read it from Stripe for this
    signup's own customer, then enrol (or mail the existing link) exactly like start_signup."""
    lang = i18n.language(lang)
    if not isinstance(details, PendingSignup) or not details.customer_ref:
        raise SignupRefused("card_required", field="number")
    try:
        card_input = card_reference({"setup_intent": setup_intent_id})
    except CardInputError:
        raise SignupRefused("card_form_only") from None
    try:
        setup = get_gateway().attach_card(customer_ref=details.customer_ref, card_input=card_input)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("signup: reading the SetupIntent failed for merchant %s: %r", details.merchant_id, exc)
        raise SignupRefused("processor_unavailable") from None
    return _after_card_step(details, setup, lang, utcnow(), challenged=True)


@calm_on_database_outage
def confirm_signup_card(
    *, pending: PendingSignup, approved: bool, lang: str = "en", now: datetime | None = None
) -> SignupResult:
    """The bank's 3DS answer for the card of a pending signup (kept server-side by the page)."""
    lang = i18n.language(lang)
    if not isinstance(pending, PendingSignup) or not pending.setup_ref:
        raise SignupRefused("card_required", field="number")
    try:
        setup = get_gateway().confirm_setup(setup_ref=pending.setup_ref, approved=approved is True)
    except Exception as exc:  # noqa: BLE001 - a gateway failure of any kind is reported, never raised
        log.warning("signup: confirm_setup failed for merchant %s: %r", pending.merchant_id, exc)
        raise SignupRefused("processor_unavailable") from None
    return _after_card_step(pending, setup, lang, now or utcnow(), challenged=True)


def _after_card_step(
    pending: PendingSignup, setup: SetupResult, lang: str, now: datetime, *, challenged: bool = False
) -> SignupResult:
    if setup.outcome is SetupOutcome.REQUIRES_ACTION and setup.setup_ref and not challenged:
        return SignupResult(
            SignupOutcome.REQUIRES_ACTION,
            pending.email,
            pending=dataclasses.replace(pending, setup_ref=setup.setup_ref),
        )
    if setup.outcome is not SetupOutcome.SUCCEEDED or setup.card is None:
        raise _refusal_of_setup(setup, lang)
    return _enrol(pending, setup.card, now)


def _enrol(pending: PendingSignup, card: CardDetails, now: datetime) -> SignupResult:
    """The card is accepted: enrol a new email, or mail an existing subscriber their link."""
    gateway = get_gateway()
    with db.session_scope() as session:
        plan = session.get(Plan, pending.plan_id)
        if plan is None or plan.merchant_id != pending.merchant_id or not plan.active:
            raise NotAvailable()
        existing = live_subscription_on_plan(
            session, merchant_id=pending.merchant_id, email=pending.email, plan_id=pending.plan_id
        )
        if existing is not None:
            _mail_existing_link(session, existing.subscriber_id, now)
            return SignupResult(SignupOutcome.CHECK_EMAIL, pending.email)
        subscriber = add_subscriber(
            session,
            merchant_id=pending.merchant_id,
            name=pending.name,
            email=pending.email,
            language=pending.language,
            actor=ACTOR,
            now=now,
            detail={"plan_id": pending.plan_id, "via": "signup_page"},
            gateway_customer_id=pending.customer_ref,
        )
        session.expunge(subscriber)
        plan_name = plan.name
    engine = db.get_engine()
    pm = save_card(engine, subscriber, card, gateway, actor=ACTOR, now=now)
    with db.session_scope() as session:
        started = start_subscription(
            session,
            merchant_id=pending.merchant_id,
            subscriber=subscriber.id,
            plan=pending.plan_id,
            start_at=now,
            payment_method=pm.id,
            actor=ACTOR,
        )
        invoice_id = started.invoice.id if started.invoice else None  # None: a trial (billing/trials.py)
    # The first invoice is charged at once, outside any transaction (claim, call, record).
    charge = (
        charge_invoice(engine, invoice_id, merchant_id=pending.merchant_id, trigger="renewal", gateway=gateway, now=now)
        if invoice_id
        else None
    )
    with db.session_scope() as session:
        issue_first_link(
            session,
            merchant_id=pending.merchant_id,
            subscriber_id=subscriber.id,
            plan_name=plan_name,
            actor=ACTOR,
            now=now,
            invite=True,
        )
        grant = create_portal_grant(
            session, merchant_id=pending.merchant_id, subscriber_id=subscriber.id, actor=ACTOR, now=now
        )
    return SignupResult(
        SignupOutcome.LANDED, pending.email, landing_url=grant.url, paid=charge.paid if charge else True
    )


def _mail_existing_link(session, subscriber_id: int, now: datetime) -> None:
    """The existing subscriber's current portal link, to their own address (never a session here)."""
    subscriber = session.get(Subscriber, subscriber_id)
    send_subscriber_email(
        session,
        merchant=session.get(Merchant, subscriber.merchant_id),
        subscriber=subscriber,
        kind="new_link",
        context={"portal_url": current_portal_url(session, subscriber)},
        now=now,
    )


def refusal_text(err: BillingError, lang: str) -> str:
    """A refusal's words for the visitor, in their language."""
    if isinstance(err, ServiceUnavailable):
        return i18n.signup_t(lang, "service_unavailable")
    if isinstance(err, SignupRefused) and err.text_key:
        return i18n.signup_t(lang, err.text_key, **err.values)
    if isinstance(err, SignupRefused):
        return err.message
    return i18n.signup_t(lang, "processor_unavailable")
