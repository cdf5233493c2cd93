"""The hosted signup page's facade (billing/facades/signup.py): a new subscriber is charged and lands
through a portal grant with the welcome email; an email already on the plan gets the same steps and
texts up to the charge, then its existing link by email (no second subscription, no charge); declines,
3DS, archived or foreign plans, rate limits and hostile input."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from portal_app import db
from portal_app.billing import portal_grants, sessions
from portal_app.billing.facades import signup
from portal_app.billing.facades.signup import NotAvailable, SignupOutcome, SignupRefused
from portal_app.billing.gateways.base import CardEntry, SetupOutcome, SetupResult
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import AuditEvent, EmailMessage, PaymentAttempt, Plan, PortalLink, Subscriber, Subscription
from portal_app.ratelimit import RateLimiter
from tests.builders import card, make_world, raw_card

VISA = "4242424242424242"
DECLINED = "4000000000000002"
THREEDS = "4000002500003155"
CHARGE_FAILS = "4000000000000341"


@pytest.fixture
def world(engine, monkeypatch, gateway):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(signup, "signup_ip_limiter", RateLimiter("s-ip", limit=50, window_seconds=600))
    monkeypatch.setattr(signup, "signup_email_limiter", RateLimiter("s-email", limit=50, window_seconds=600))
    return make_world(engine, slug="fit", name="Fit Club")


def _form(email="new.person@example.com", number=VISA, **kw):
    return {"name": "New Person", "email": email, "language": "en", **card(number), **kw}


_DEFAULT = object()


def _start(world, form=_DEFAULT, ip="9.9.9.9", **kw):
    return signup.start_signup(
        merchant_slug=kw.pop("slug", "fit"),
        plan_id=kw.pop("plan_id", world.plan_id),
        form=_form() if form is _DEFAULT else form,
        client_ip=ip,
        **kw,
    )


def _rows(world, model, *where):
    with world.session() as session:
        return list(session.exec(select(model).where(*where)))


def test_offer_shows_merchant_plan_and_price(world):
    offer = signup.signup_offer("fit", str(world.plan_id))
    assert (offer.merchant_name, offer.plan_name, offer.price.amount_minor) == ("Fit Club", "Basic Monthly", 2900)
    assert offer.test_mode and not offer.stripe_mode
    assert signup.price_text(offer, "en") == "$29.00 per month"
    assert "29,00" in signup.price_text(offer, "es")


def test_new_signup_is_charged_welcomed_and_lands_through_a_single_use_grant(world):
    result = _start(world)
    assert result.outcome is SignupOutcome.LANDED and result.paid
    subscriber = _rows(world, Subscriber, Subscriber.email == "new.person@example.com")[0]
    (sub,) = _rows(world, Subscription, Subscription.subscriber_id == subscriber.id)
    assert sub.status == "active"
    (attempt,) = _rows(world, PaymentAttempt)
    assert attempt.status == "succeeded"
    (welcome,) = _rows(
        world, EmailMessage, EmailMessage.subscriber_id == subscriber.id, EmailMessage.kind == "invitation"
    )
    assert "/portal/" in welcome.body_text
    token = urlsplit(result.landing_url).path.rsplit("/", 1)[1]
    redeemed = portal_grants.redeem_portal_grant(token, ip="9.9.9.9")
    assert sessions.portal_identity(f"portal_session={redeemed.secret}") == (world.merchant_id, subscriber.id)
    assert portal_grants.redeem_portal_grant(token, ip="9.9.9.9") is None


def test_welcome_email_in_the_chosen_language(world):
    _start(world, _form(language="es"))
    subscriber = _rows(world, Subscriber, Subscriber.email == "new.person@example.com")[0]
    assert subscriber.language == "es"
    (welcome,) = _rows(
        world, EmailMessage, EmailMessage.subscriber_id == subscriber.id, EmailMessage.kind == "invitation"
    )
    assert "portal" in welcome.subject.lower() and "Your billing portal" not in welcome.subject


def test_existing_email_gets_the_same_answer_its_link_by_email_and_no_charge(world):
    first = _start(world)
    assert first.outcome is SignupOutcome.LANDED
    before_attempts = len(_rows(world, PaymentAttempt))
    links_before = [(link.id, link.revoked_at) for link in _rows(world, PortalLink)]
    again = _start(world, _form(email="New.Person@Example.com"))
    assert again.outcome is SignupOutcome.CHECK_EMAIL and again.landing_url == "" and again.pending is None
    assert len(_rows(world, PaymentAttempt)) == before_attempts  # no charge
    assert len(_rows(world, Subscription, Subscription.plan_id == world.plan_id)) == 1  # no second subscription
    assert len(_rows(world, Subscriber, Subscriber.email == "new.person@example.com")) == 1
    assert [(link.id, link.revoked_at) for link in _rows(world, PortalLink)] == links_before  # link kept
    mails = _rows(world, EmailMessage, EmailMessage.kind == "new_link")
    assert len(mails) == 1 and mails[0].to_address == "new.person@example.com"


def test_existing_email_with_a_declined_card_hears_the_same_decline(world):
    _start(world)
    with pytest.raises(SignupRefused) as new:
        _start(world, _form(email="someone.else@example.com", number=DECLINED))
    with pytest.raises(SignupRefused) as existing:
        _start(world, _form(number=DECLINED))
    assert signup.refusal_text(new.value, "en") == signup.refusal_text(existing.value, "en")
    assert new.value.field == existing.value.field == "number"
    assert not _rows(world, EmailMessage, EmailMessage.kind == "new_link")


def test_existing_email_with_a_3ds_card_gets_the_challenge_too(world):
    _start(world)
    existing = _start(world, _form(number=THREEDS))
    new = _start(world, _form(email="other@example.com", number=THREEDS))
    assert existing.outcome is new.outcome is SignupOutcome.REQUIRES_ACTION
    assert signup.confirm_signup_card(pending=existing.pending, approved=True).outcome is SignupOutcome.CHECK_EMAIL
    assert signup.confirm_signup_card(pending=new.pending, approved=True).outcome is SignupOutcome.LANDED


def test_declined_card_writes_nothing(world):
    with pytest.raises(SignupRefused) as err:
        _start(world, _form(number=DECLINED))
    assert err.value.field == "number" and "declined" in signup.refusal_text(err.value, "en").lower()
    assert not _rows(world, Subscriber, Subscriber.email == "new.person@example.com")
    assert not _rows(world, PaymentAttempt) and not _rows(world, EmailMessage)


def test_3ds_card_asks_the_bank_then_subscribes(world):
    result = _start(world, _form(number=THREEDS))
    assert result.outcome is SignupOutcome.REQUIRES_ACTION and result.pending.setup_ref
    assert not _rows(world, Subscriber, Subscriber.email == "new.person@example.com")
    done = signup.confirm_signup_card(pending=result.pending, approved=True)
    assert done.outcome is SignupOutcome.LANDED and done.paid
    # Replaying the bank's answer creates nothing more.
    assert signup.confirm_signup_card(pending=result.pending, approved=True).outcome is SignupOutcome.CHECK_EMAIL
    assert len(_rows(world, Subscription)) == 1


def test_3ds_refused_is_a_calm_refusal(world):
    result = _start(world, _form(number=THREEDS))
    with pytest.raises(SignupRefused) as err:
        signup.confirm_signup_card(pending=result.pending, approved=False)
    assert err.value.field == "number"
    assert not _rows(world, Subscriber, Subscriber.email == "new.person@example.com")


def test_first_charge_failing_still_lands_in_the_portal_to_fix_the_card(world):
    result = _start(world, _form(number=CHARGE_FAILS))
    assert result.outcome is SignupOutcome.LANDED and not result.paid
    assert _rows(world, Subscription)[0].status == "incomplete"


def test_archived_unknown_and_foreign_plans_are_one_not_available(world, engine):
    other = make_world(engine, slug="other", prefix="OTH")
    with world.session() as session, session.begin():
        archived = session.get(Plan, world.plan_id)
        archived.active = False
        session.add(archived)
    bad = [
        ("fit", world.plan_id),
        ("fit", other.plan_id),
        ("other", world.plan_id),
        ("nope", other.plan_id),
        ("fit", "0"),
        ("fit", "-1"),
        ("fit", "1e3"),
        ("fit", "9" * 40),
        ("fit", True),
        ("fit", None),
        ("FIT", other.plan_id),
        ("../x", 1),
        ({"slug": "fit"}, 1),
    ]
    for slug, plan_id in bad:
        with pytest.raises(NotAvailable):
            signup.signup_offer(slug, plan_id)
        with pytest.raises(NotAvailable):
            _start(world, slug=slug, plan_id=plan_id)
    assert signup.signup_offer("other", other.plan_id).merchant_name == "Other Inc."
    assert not _rows(world, AuditEvent, AuditEvent.kind == "subscriber_registered")


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"name": "", "email": "a@example.com"}, "name"),
        ({"name": "x" * 121, "email": "a@example.com"}, "name"),
        ({"name": "Eve\x00", "email": "a@example.com"}, "name"),
        ({"name": ["Eve"], "email": "a@example.com"}, "name"),
        ({"name": "Eve", "email": "not-an-email"}, "email"),
        ({"name": "Eve", "email": "a@" + "b" * 250 + ".com"}, "email"),
        ({"name": "Eve", "email": {"$ne": ""}}, "email"),
        ({"name": "Eve", "email": "a@example.com", "language": "fr"}, "language"),
    ],
)
def test_bad_fields_are_refused_with_the_field(world, form, field):
    with pytest.raises(SignupRefused) as err:
        _start(world, {**form, **card(VISA)})
    assert err.value.field == field
    assert signup.refusal_text(err.value, "es")
    assert not _rows(world, Subscriber, Subscriber.email == "a@example.com")


def test_card_data_sent_raw_is_refused(world):
    for form in (
        {"name": "Eve", "email": "e@example.com", **raw_card(VISA)},
        {"name": "Eve", "email": "e@example.com", **card(VISA), "number": VISA},
        {"name": "Eve", "email": "e@example.com", "payment_method": VISA},
        {"name": "Eve", "email": "e@example.com"},
        "pm_123",
        None,
    ):
        with pytest.raises(SignupRefused):
            _start(world, form)
    assert not _rows(world, PaymentAttempt) and not _rows(world, Subscriber, Subscriber.email == "e@example.com")


def test_rate_limited_per_ip_and_per_email(world, monkeypatch):
    monkeypatch.setattr(signup, "signup_ip_limiter", RateLimiter("s-ip2", limit=2, window_seconds=600))
    _start(world, _form(email="one@example.com"))
    _start(world, _form(email="two@example.com"))
    with pytest.raises(SignupRefused) as err:
        _start(world, _form(email="three@example.com"))
    assert err.value.text_key == "rate_limited"
    assert "try again" in signup.refusal_text(err.value, "en")
    _start(world, _form(email="three@example.com"), ip="8.8.8.8")  # another client is not held up
    monkeypatch.setattr(signup, "signup_email_limiter", RateLimiter("s-em2", limit=1, window_seconds=600))
    with pytest.raises(SignupRefused):
        _start(world, _form(email="four@example.com", number=DECLINED), ip="7.7.7.2")
    with pytest.raises(SignupRefused) as err:
        _start(world, _form(email="four@example.com"), ip="7.7.7.3")
    assert err.value.text_key == "rate_limited"


# --- Stripe mode: details first, then Elements confirms a SetupIntent (3DS in the browser) ----------


class ElementsGateway(SimulatedGateway):
    """The simulated gateway dressed as Stripe's card entry: a SetupIntent per customer, confirmed
    "in the browser" with a tokenized card; the server reads it back by its seti_ id."""

    card_entry = CardEntry.STRIPE_ELEMENTS
    publishable_key = "pk_test_signup"

    def __init__(self):
        super().__init__()
        self.intents: dict[str, tuple[str, str]] = {}  # seti_ -> (customer, pm_)

    def create_setup_intent(self, *, customer_ref):
        seti = f"seti_{len(self.intents) + 1}abc"
        self.intents[seti] = (customer_ref, "")
        return seti, f"{seti}_secret_xyz"

    def browser_confirms(self, seti: str, number: str = VISA) -> None:
        customer, _ = self.intents[seti]
        self.intents[seti] = (customer, card(number)["payment_method"])

    def attach_card(self, *, customer_ref, card_input):
        if "setup_intent" not in card_input:
            return super().attach_card(customer_ref=customer_ref, card_input=card_input)
        customer, pm = self.intents.get(card_input["setup_intent"], ("", ""))
        if customer != customer_ref or not pm:
            return SetupResult(SetupOutcome.DECLINED, decline_code="resource_missing")
        return super().attach_card(customer_ref=customer_ref, card_input={"payment_method": pm})


@pytest.fixture
def elements(world, monkeypatch):
    gateway = ElementsGateway()
    monkeypatch.setattr(signup, "get_gateway", lambda: gateway)
    return gateway


def _begin(world, form=None, ip="9.9.9.9"):
    return signup.begin_stripe_card_step(
        merchant_slug="fit",
        plan_id=world.plan_id,
        form=form or {"name": "Stripe Person", "email": "stripe@example.com", "language": "es"},
        client_ip=ip,
    )


def test_stripe_signup_details_then_elements_then_enrolment(world, elements):
    step = _begin(world)
    assert step.publishable_key == "pk_test_signup" and step.client_secret.endswith("_secret_xyz")
    assert not _rows(world, Subscriber, Subscriber.email == "stripe@example.com")  # nothing written yet
    seti = step.client_secret.split("_secret_")[0]
    elements.browser_confirms(seti)
    result = signup.finish_stripe_signup(details=step.details, setup_intent_id=seti)
    assert result.outcome is SignupOutcome.LANDED and result.paid
    (subscriber,) = _rows(world, Subscriber, Subscriber.email == "stripe@example.com")
    assert subscriber.language == "es" and subscriber.gateway_customer_id == step.details.customer_ref
    # The same email again: the same steps, then its link by email; no second subscription, no charge.
    again = _begin(world)
    seti = again.client_secret.split("_secret_")[0]
    elements.browser_confirms(seti)
    assert signup.finish_stripe_signup(details=again.details, setup_intent_id=seti).outcome is SignupOutcome.CHECK_EMAIL
    assert len(_rows(world, PaymentAttempt)) == 1


def test_stripe_signup_refuses_card_data_and_foreign_or_unconfirmed_intents(world, elements):
    with pytest.raises(SignupRefused):
        _begin(world, {"name": "Eve", "email": "eve@example.com", **raw_card()})
    step = _begin(world)
    other = _begin(world, {"name": "Other", "email": "other@example.com"})
    other_seti = other.client_secret.split("_secret_")[0]
    elements.browser_confirms(other_seti)
    for seti in (other_seti, step.client_secret.split("_secret_")[0], "pm_123", "seti_x\n", None):
        with pytest.raises(SignupRefused):
            signup.finish_stripe_signup(details=step.details, setup_intent_id=seti)
    assert not _rows(world, Subscriber, Subscriber.email == "stripe@example.com")


def test_a_trial_plan_takes_the_card_and_starts_trialing_without_a_charge(world):
    import sqlalchemy as sa

    from portal_app.models import Invoice, PaymentMethod, Plan

    with world.session() as session:
        session.execute(sa.update(Plan).where(Plan.id == world.plan_id).values(trial_days=14))
        session.commit()
    offer = signup.signup_offer("fit", str(world.plan_id))
    assert offer.trial_days == 14
    result = _start(world)
    assert result.outcome is SignupOutcome.LANDED and result.paid
    subscriber = _rows(world, Subscriber, Subscriber.email == "new.person@example.com")[0]
    (sub,) = _rows(world, Subscription, Subscription.subscriber_id == subscriber.id)
    assert sub.status == "trialing" and sub.trial_end is not None
    assert _rows(world, PaymentMethod, PaymentMethod.subscriber_id == subscriber.id)  # the card is taken
    assert _rows(world, Invoice) == [] and _rows(world, PaymentAttempt) == []
