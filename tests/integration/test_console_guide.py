"""The console as issue 13 asks for it, through its facades: one status wording everywhere (a
canceling subscription never reads as plain "Active"), search that folds accents and case on SQLite
and PostgreSQL, the true "Customer since", deletions apart from cancellations, the regenerate that
can email the new link, and the business details and branding settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import accounts, portal_links
from portal_app.billing import subscriptions as subscription_service
from portal_app.billing.errors import BillingError
from portal_app.billing.facades.console import business as business_facade
from portal_app.billing.facades.console import dashboard as dashboard_facade
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console import subscribers as subscribers_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.billing.subscription_views import current_subscription, status_label
from portal_app.models import EmailMessage, Invoice, Merchant, Subscriber, Subscription, utcnow
from tests.builders import PLAN_FORM, card_form


@pytest.fixture
def wired(any_engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: any_engine)
    gateway = SimulatedGateway()
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    return any_engine


def _setup(people=("Ana Lima",), name="Guide"):
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name=name, email=f"owner@{name.lower()}.example", password="long enough password"
        )
        merchant_id, user_id = user.merchant_id, user.id
    plan_id = plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form=PLAN_FORM)
    ids = []
    for i, person in enumerate(people):
        result = registration_facade.register_subscriber(
            merchant_id=merchant_id,
            user_id=user_id,
            plan_id=plan_id,
            form={"name": person, "email": f"person{i}.{name.lower()}@example.com", **card_form()},
        )
        assert result.active
        ids.append(result.subscriber_id)
    return merchant_id, user_id, plan_id, ids


def _cancel_at_period_end(merchant_id: int, subscriber_id: int, reason: str = "") -> datetime:
    with db.session_scope() as session:
        sub = current_subscription(session, merchant_id, subscriber_id)
        subscription_service.cancel_subscription(
            session, sub.id, merchant_id=merchant_id, actor="test", reason=reason, now=utcnow(), mode="at_period_end"
        )
        session.flush()
        session.refresh(sub)
        return sub.current_period_end


# --- one status wording ---------------------------------------------------------------------------


def test_a_canceling_subscriber_never_shows_as_plain_active(wired):
    merchant_id, _user, plan_id, (ana, ben) = _setup(("Ana Lima", "Ben Ortiz"))
    ends = _cancel_at_period_end(merchant_id, ana)
    day = f"{ends:%b} {ends.day}, {ends.year}"
    expected = f"Active · cancels {day}"

    rows = {r.name: r for r in subscribers_facade.search_subscribers(merchant_id=merchant_id).rows}
    assert (rows["Ana Lima"].status_label, rows["Ana Lima"].status) == (expected, "canceling")
    assert (rows["Ben Ortiz"].status_label, rows["Ben Ortiz"].status) == ("Active", "active")
    on_plan = {r.name: r for r in subscribers_facade.search_subscribers(merchant_id=merchant_id, plan_id=plan_id).rows}
    assert on_plan["Ana Lima"].status_label == expected
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ana)
    assert (profile.subscription.status_label, profile.subscription.status_key) == (expected, "canceling")
    # Past its period end but not yet ended by the billing run: still not plain "Active".
    later = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ana, now=ends + timedelta(hours=1))
    assert later.subscription.status_label == expected


def test_status_label_words_each_state():
    now = datetime(2026, 11, 3, 12, tzinfo=UTC)
    end = datetime(2026, 12, 21, tzinfo=UTC)
    base = {"merchant_id": 1, "subscriber_id": 1, "plan_id": 1, "anchor_at": now, "current_period_start": now}
    assert status_label(Subscription(**base, status="past_due", current_period_end=end)) == "Past due"
    assert (
        status_label(Subscription(**base, status="active", current_period_end=end, cancel_at_period_end=True))
        == "Active · cancels Dec 21, 2026"
    )
    assert (
        status_label(Subscription(**base, status="canceled", current_period_end=end, ended_at=now))
        == "Canceled · ended Nov 3, 2026"
    )
    assert (
        status_label(Subscription(**base, status="canceled", current_period_end=end, ended_at=now, deleted_at=now))
        == "Deleted · Nov 3, 2026"
    )


# --- search ------------------------------------------------------------------------------------------


def test_search_folds_accents_and_case_on_every_database(wired):
    merchant_id, *_ = _setup(("Zoë Ñúñez", "Nora Smith", "Percent 100% Sure", "Under_Score"))
    for query in ("nunez", "ÑÚÑEZ", "zoe", "Zoë", "  zoe   nunez ", "ZOË ÑÚÑEZ"):
        found = subscribers_facade.search_subscribers(merchant_id=merchant_id, query=query).rows
        assert [r.name for r in found] == ["Zoë Ñúñez"], query
    assert [r.name for r in subscribers_facade.search_subscribers(merchant_id=merchant_id, query="%").rows] == [
        "Percent 100% Sure"
    ]
    assert [r.name for r in subscribers_facade.search_subscribers(merchant_id=merchant_id, query="_").rows] == [
        "Under_Score"
    ]
    assert subscribers_facade.search_subscribers(merchant_id=merchant_id, query="n%z").rows == []
    by_email = subscribers_facade.search_subscribers(merchant_id=merchant_id, query="PERSON1.guide@").rows
    assert [r.name for r in by_email] == ["Nora Smith"]


def test_search_pages_by_keyset_with_a_query(wired):
    merchant_id, *_ = _setup([f"Núñez {i:02d}" for i in range(7)] + ["Other"])
    first = subscribers_facade.search_subscribers(merchant_id=merchant_id, query="nunez", page_size=4)
    second = subscribers_facade.search_subscribers(
        merchant_id=merchant_id, query="nunez", page_size=4, after=first.next_cursor
    )
    assert first.has_next and not second.has_next
    assert [r.name for r in first.rows + second.rows] == [f"Núñez {i:02d}" for i in range(7)]


# --- customer since ------------------------------------------------------------------------------------


def test_customer_since_is_the_first_billing_not_the_import(wired):
    merchant_id, _user, _plan, (ana, ben) = _setup(("Ana Lima", "Ben Ortiz"))
    started = datetime(2025, 3, 14, 9, tzinfo=UTC)
    invoiced = datetime(2024, 11, 2, 8, tzinfo=UTC)
    with Session(wired) as session:
        # An import: Ana's subscription has run since 2025; Ben was invoiced (an imported, paid
        # invoice) before his current subscription started.
        sub = session.exec(select(Subscription).where(Subscription.subscriber_id == ana)).one()
        sub.anchor_at = sub.current_period_start = started
        session.add(sub)
        session.add(
            Invoice(
                merchant_id=merchant_id,
                subscriber_id=ben,
                number="IMP-2024-1",
                status="paid",
                currency="USD",
                total_minor=2900,
                subtotal_minor=2900,
                period_start=invoiced,
                finalized_at=invoiced,
                paid_at=invoiced,
            )
        )
        session.commit()
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ana)
    assert profile.created_at.date() == utcnow().date()  # registered (imported) today
    assert profile.customer_since == started
    assert profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ben).customer_since == invoiced
    # Nothing billed or started yet: the record's own date.
    with Session(wired) as session:
        carl = Subscriber(merchant_id=merchant_id, name="Carl New", email="carl@example.com")
        session.add(carl)
        session.commit()
        carl_id, carl_created = carl.id, carl.created_at
    assert profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=carl_id).customer_since == (
        carl_created if carl_created.tzinfo else carl_created.replace(tzinfo=UTC)
    )


# --- deletions apart from cancellations ------------------------------------------------------------------


def test_a_deletion_is_not_a_cancellation(wired):
    merchant_id, user_id, _plan, (ana, ben, cleo) = _setup(("Ana Lima", "Ben Ortiz", "Cleo Park"))
    _cancel_at_period_end(merchant_id, ana, reason="too_expensive")
    profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ben)
    metrics = dashboard_facade.dashboard_metrics(merchant_id=merchant_id)
    assert metrics.cancellation_reasons == [("Too expensive", 1)]
    assert metrics.deleted == 1
    assert metrics.canceled == 0  # Ana's ends at the period end; Ben's was deleted, not canceled
    assert metrics.active == 2
    # A cancellation made before a later deletion stays a cancellation (with its reason).
    profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    metrics = dashboard_facade.dashboard_metrics(merchant_id=merchant_id)
    assert dict(metrics.cancellation_reasons) == {"Too expensive": 1}
    assert "No reason given" not in dict(metrics.cancellation_reasons)
    assert metrics.deleted == 2


# --- regenerate, and email the new link ---------------------------------------------------------------------


def _invitations(engine, subscriber_id: int) -> list[EmailMessage]:
    with Session(engine) as session:
        return session.exec(
            select(EmailMessage).where(EmailMessage.subscriber_id == subscriber_id, EmailMessage.kind == "invitation")
        ).all()


def test_regenerate_with_and_without_the_email(wired):
    merchant_id, user_id, _plan, (ana,) = _setup()
    before = len(_invitations(wired, ana))
    old = profile_facade.portal_link_url(merchant_id=merchant_id, subscriber_id=ana)

    quiet = profile_facade.regenerate_portal_link(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    assert quiet != old and len(_invitations(wired, ana)) == before
    emailed = profile_facade.regenerate_portal_link(
        merchant_id=merchant_id, user_id=user_id, subscriber_id=ana, email=True
    )
    mails = _invitations(wired, ana)
    assert len(mails) == before + 1
    assert emailed.rsplit("/", 1)[1] in mails[-1].body_text  # the new link, not the one it replaced
    assert quiet.rsplit("/", 1)[1] not in mails[-1].body_text
    with Session(wired) as session:
        for dead in (old, quiet):
            assert portal_links.resolve_portal_token(session, dead.rsplit("/", 1)[1]) is None
        assert portal_links.resolve_portal_token(session, emailed.rsplit("/", 1)[1]) is not None
    with pytest.raises(BillingError):
        profile_facade.regenerate_portal_link(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana, email="yes")


# --- business details and branding --------------------------------------------------------------------------


GOOD = {
    "legal_name": "Guide Fitness S.L.",
    "address": "Calle Mayor 1\r\n28013 Madrid\r\nSpain",
    "tax_id": "ESB12345678",
    "website_url": "https://guide.example/account",
    "brand_color": "#0b5cab",
}


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("website_url", "http://guide.example", "https://"),
        ("website_url", "javascript:alert(1)", "https://"),
        ("website_url", "https://user:pw@guide.example", "https://"),
        ("website_url", "https://" + "a" * 300 + ".example", "characters"),
        ("website_url", "https://guide example", "https://"),
        ("brand_color", "#FFEE00", "contrast"),
        ("brand_color", "blue", "hex"),
        ("tax_id", "x" * 41, "at most 40"),
        ("legal_name", "x" * 121, "at most 120"),
        ("address", "x" * 501, "at most 500"),
        ("address", "line\x00two", "control"),
    ],
)
def test_business_details_refuse_bad_input_by_field(wired, field, value, words):
    merchant_id, user_id, *_ = _setup(())
    with pytest.raises(BillingError) as refused:
        business_facade.save_business_details(merchant_id=merchant_id, user_id=user_id, form={**GOOD, field: value})
    assert refused.value.field == field and words in refused.value.message
    with Session(wired) as session:
        merchant = session.get(Merchant, merchant_id)
        assert (merchant.website_url, merchant.brand_color, merchant.tax_id) == ("", "", "")


def test_business_details_are_stored_and_read_back(wired):
    merchant_id, user_id, *_ = _setup(())
    saved = business_facade.save_business_details(merchant_id=merchant_id, user_id=user_id, form=GOOD)
    assert saved == business_facade.business_details(merchant_id=merchant_id)
    assert (saved.legal_name, saved.address, saved.tax_id) == (
        "Guide Fitness S.L.",
        "Calle Mayor 1\n28013 Madrid\nSpain",
        "ESB12345678",
    )
    assert (saved.website_url, saved.brand_color, saved.shown_color) == (
        "https://guide.example/account",
        "#0B5CAB",
        "#0B5CAB",
    )
    cleared = business_facade.save_business_details(
        merchant_id=merchant_id, user_id=user_id, form={**GOOD, "brand_color": "", "website_url": ""}
    )
    assert cleared.brand_color == "" and cleared.website_url == "" and cleared.shown_color.startswith("#")
    assert business_facade.readable_color("#ffee00") == "#FFEE00" and business_facade.readable_color("nope") == ""
