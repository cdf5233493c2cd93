"""The console facade (billing/facades/console/): tenancy (merchant A can neither read nor change
anything of merchant B by id), bad input refused with a message and nothing written, and the
behaviour each console page relies on."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from portal_app import db
from portal_app.billing import accounts, portal_links
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.facades.console import dashboard as dashboard_facade
from portal_app.billing.facades.console import forms as forms_facade
from portal_app.billing.facades.console import outbox as outbox_facade
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import profile as profile_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.billing.facades.console import subscribers as subscribers_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import (
    EmailMessage,
    Invoice,
    Merchant,
    MerchantUser,
    PaymentAttempt,
    PortalLink,
    Subscriber,
    utcnow,
)
from tests.builders import PLAN_FORM, card_form, table_snapshot


@pytest.fixture
def wired(engine, monkeypatch):
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    gateway = SimulatedGateway()
    import portal_app.billing.gateways as gateways

    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    return engine


def _merchant(name: str) -> tuple[int, int]:
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name=name, email=f"owner@{name.lower()}.example", password="long enough password"
        )
        return user.merchant_id, user.id


def _setup(name: str, people=("Ana Lima",)):
    """A merchant with one plan and registered subscribers: (merchant_id, user_id, plan_id, [subscriber ids])."""
    merchant_id, user_id = _merchant(name)
    plan_id = plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form=PLAN_FORM)
    ids = []
    for person in people:
        email = person.lower().replace(" ", ".") + f"@{name.lower()}.example"
        result = registration_facade.register_subscriber(
            merchant_id=merchant_id,
            user_id=user_id,
            plan_id=plan_id,
            form={"name": person, "email": email, "send_invitation": "on", **card_form()},
        )
        assert result.active
        ids.append(result.subscriber_id)
    return merchant_id, user_id, plan_id, ids


# --- tenancy ------------------------------------------------------------------------------------


def test_merchant_a_gets_nothing_of_merchant_b(wired):
    a_id, a_user, a_plan, _ = _setup("Acme")
    b_id, b_user, b_plan, (b_sub,) = _setup("Bravo")
    with Session(wired) as session:
        b_invoice = session.exec(select(Invoice.id).where(Invoice.merchant_id == b_id)).first()
    before = table_snapshot(wired)

    attempts = {
        "get_plan": lambda: plans_facade.get_plan(merchant_id=a_id, plan_id=b_plan),
        "save_plan": lambda: plans_facade.save_plan(merchant_id=a_id, user_id=a_user, form=PLAN_FORM, plan_id=b_plan),
        "search": lambda: subscribers_facade.search_subscribers(merchant_id=a_id, plan_id=b_plan),
        "register": lambda: registration_facade.register_subscriber(
            merchant_id=a_id,
            user_id=a_user,
            plan_id=b_plan,
            form={"name": "Mallory", "email": "m@x.example", **card_form()},
        ),
        "profile": lambda: profile_facade.subscriber_profile(merchant_id=a_id, subscriber_id=b_sub),
        "timeline": lambda: profile_facade.subscriber_timeline(merchant_id=a_id, subscriber_id=b_sub),
        "regenerate": lambda: profile_facade.regenerate_portal_link(
            merchant_id=a_id, user_id=a_user, subscriber_id=b_sub
        ),
        "invite": lambda: profile_facade.send_invitation(merchant_id=a_id, user_id=a_user, subscriber_id=b_sub),
        "delete": lambda: profile_facade.delete_subscription(merchant_id=a_id, user_id=a_user, subscriber_id=b_sub),
        "invoice_pdf": lambda: profile_facade.invoice_pdf(merchant_id=a_id, invoice_id=b_invoice),
    }
    for name, attempt in attempts.items():
        with pytest.raises(NotFound):
            attempt()
            pytest.fail(f"{name} accepted another merchant's id")
    assert table_snapshot(wired) == before, "a refused call changed something"

    # Lists and metrics of A contain nothing of B.
    assert [r.plan_id for r in plans_facade.list_plans(merchant_id=a_id)] == [a_plan]
    everyone = subscribers_facade.search_subscribers(merchant_id=a_id, page_size=100).rows
    assert everyone and all("bravo" not in r.email for r in everyone)
    assert all(m.to_address.endswith("acme.example") for m in outbox_facade.list_outbox(merchant_id=a_id)[0])
    assert [m.email for m in settings_facade.list_team(merchant_id=a_id)] == ["owner@acme.example"]
    metrics = dashboard_facade.dashboard_metrics(merchant_id=a_id)
    assert metrics.active == 1
    assert settings_facade.merchant_settings(merchant_id=a_id).name == "Acme"


def test_settings_and_team_only_touch_the_callers_merchant(wired):
    a_id, a_user, _, _ = _setup("Acme", people=())
    b_id, _, _, _ = _setup("Bravo", people=())
    settings_facade.save_merchant_settings(
        merchant_id=a_id,
        user_id=a_user,
        form={
            "name": "Acme 2",
            "invoice_prefix": "ac-2",
            "support_email": "help@acme.example",
            "default_language": "es",
            "dunning_schedule_days": "2, 4",
            "dunning_end_state": "canceled",
        },
    )
    settings_facade.add_team_member(
        merchant_id=a_id,
        user_id=a_user,
        form={"email": "two@acme.example", "password": "another long password", "name": "Two"},
    )
    with Session(wired) as session:
        a, b = session.get(Merchant, a_id), session.get(Merchant, b_id)
        assert (a.name, a.invoice_prefix, a.dunning_schedule_days, a.dunning_end_state) == (
            "Acme 2",
            "AC-2",
            "2,4",
            "canceled",
        )
        assert (b.name, b.invoice_prefix) == ("Bravo", "BRAV")
        new_user = session.exec(select(MerchantUser).where(MerchantUser.email == "two@acme.example")).one()
        assert new_user.merchant_id == a_id
    assert len(settings_facade.list_team(merchant_id=b_id)) == 1


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": 12}, "name"),
        ({"price": "-5"}, "price"),
        ({"price": "0"}, "price"),
        ({"price": "abc"}, "price"),
        ({"price": "1e400"}, "price"),
        ({"price": "29.001"}, "price"),
        ({"price": 29}, "price"),
        ({"price": "9" * 30}, "price"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": ""}, "currency"),
        ({"currency": ["USD"]}, "currency"),
        ({"interval": "fortnight"}, "interval"),
        ({"interval_count": "0"}, "interval_count"),
        ({"interval_count": "-1"}, "interval_count"),
        ({"interval_count": "99999"}, "interval_count"),
        ({"cancellation_policy": "whenever"}, "cancellation_policy"),
    ],
)
def test_bad_plan_input_is_refused_and_nothing_written(wired, change, field):
    merchant_id, user_id = _merchant("Acme")
    before = table_snapshot(wired)
    with pytest.raises(forms_facade.ConsoleError) as err:
        plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, **change})
    assert err.value.field == field and err.value.message
    assert table_snapshot(wired) == before


def test_plan_form_parses_money_exactly_and_edits(wired):
    merchant_id, user_id = _merchant("Acme")
    jpy = plans_facade.save_plan(
        merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "price": "1,200", "currency": "JPY"}
    )
    usd = plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "price": "19.99"})
    with pytest.raises(forms_facade.ConsoleError):
        plans_facade.save_plan(
            merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "price": "1.5", "currency": "JPY"}
        )
    plans_facade.save_plan(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=str(usd),
        form={
            **PLAN_FORM,
            "name": "Renamed",
            "price": "20",
            "cancellation_policy": "not_allowed",
            "active": None,
            "active_present": "1",
        },
    )
    rows = {r.plan_id: r for r in plans_facade.list_plans(merchant_id=merchant_id)}
    assert rows[jpy].price.amount_minor == 1200 and rows[jpy].price.currency == "JPY"
    assert (rows[usd].name, rows[usd].price.amount_minor, rows[usd].cancellation_policy, rows[usd].active) == (
        "Renamed",
        2000,
        "not_allowed",
        False,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "a\x00b"}, "name"),
        ({"email": "not-an-email"}, "email"),
        ({"email": None}, "email"),
        ({"language": "fr"}, "language"),
        ({"start_date": "2020-01-01"}, "start_date"),
        ({"start_date": "2999-01-01"}, "start_date"),
        ({"start_date": "yesterday"}, "start_date"),
        # card data beside the card component's id is refused, never dropped
        ({"number": "4242 4242 4242 4242"}, "number"),
        ({"expiry": "12/30"}, "number"),
        ({"cvc": "123"}, "number"),
        ({"exp_month": "12"}, "number"),
        ({"payment_method": "pm_abc\n"}, "number"),
        ({"payment_method": "4242424242424242"}, "number"),
    ],
)
def test_bad_registration_is_refused_and_leaves_nothing(wired, change, field):
    merchant_id, user_id, plan_id, _ = _setup("Acme", people=())
    before = table_snapshot(wired)
    form = {"name": "Ana", "email": "ana@example.com", "send_invitation": "on", **card_form(), **change}
    with pytest.raises(BillingError) as err:
        registration_facade.register_subscriber(merchant_id=merchant_id, user_id=user_id, plan_id=plan_id, form=form)
    assert err.value.message
    assert err.value.field == field
    assert table_snapshot(wired) == before


@pytest.mark.parametrize("bad_id", [None, True, -1, 0, "abc", "1; DROP TABLE plan", 2**70, 1.5, [], {}])
def test_hostile_ids_are_not_found(wired, bad_id):
    merchant_id, user_id, _, _ = _setup("Acme")
    for call in (
        lambda: plans_facade.get_plan(merchant_id=merchant_id, plan_id=bad_id),
        lambda: profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=bad_id),
        lambda: profile_facade.regenerate_portal_link(merchant_id=merchant_id, user_id=user_id, subscriber_id=bad_id),
        lambda: profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=bad_id),
        lambda: profile_facade.invoice_pdf(merchant_id=merchant_id, invoice_id=bad_id),
    ):
        with pytest.raises(NotFound):
            call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "x" * 101}, "at most"),
        ({"query": 5}, "at most"),
        ({"status": "deleted"}, "status"),
        ({"after": "nope"}, "page"),
        ({"after": ["x" * 500, 1]}, "page"),
    ],
)
def test_bad_search_arguments(wired, kwargs, message):
    merchant_id, *_ = _setup("Acme", people=())
    with pytest.raises(forms_facade.ConsoleError, match=f"(?i){message}"):
        subscribers_facade.search_subscribers(merchant_id=merchant_id, **kwargs)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"invoice_prefix": "has space"}, "invoice_prefix"),
        ({"invoice_prefix": "A" * 13}, "invoice_prefix"),
        ({"support_email": "nope"}, "support_email"),
        ({"default_language": "de"}, "default_language"),
        ({"dunning_schedule_days": "3,1"}, "dunning_schedule_days"),
        ({"dunning_schedule_days": "1,2,3,4,5,6,7,8,9,10,11"}, "dunning_schedule_days"),
        ({"dunning_schedule_days": "1,365"}, "dunning_schedule_days"),
        ({"dunning_schedule_days": "-1"}, "dunning_schedule_days"),
        ({"dunning_end_state": "deleted"}, "dunning_end_state"),
    ],
)
def test_bad_settings_are_refused(wired, change, field):
    merchant_id, user_id = _merchant("Acme")
    before = table_snapshot(wired)
    form = {
        "name": "Acme",
        "invoice_prefix": "ACME",
        "support_email": "",
        "default_language": "en",
        "dunning_schedule_days": "1,3,5,7",
        "dunning_end_state": "unpaid",
        **change,
    }
    with pytest.raises(forms_facade.ConsoleError) as err:
        settings_facade.save_merchant_settings(merchant_id=merchant_id, user_id=user_id, form=form)
    assert err.value.field == field
    assert table_snapshot(wired) == before


def _image(fmt: str, size=(60, 20)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "PNG or JPEG"),
        (b"GIF89a....", "PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "PNG or JPEG"),
        (b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, "readable"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (settings_facade.MAX_LOGO_BYTES + 1), "at most"),
        ("a string", "PNG or JPEG"),
    ],
)
def test_bad_logos_are_refused(wired, data, message):
    merchant_id, user_id = _merchant("Acme")
    with pytest.raises(forms_facade.ConsoleError, match=message):
        settings_facade.save_logo(merchant_id=merchant_id, user_id=user_id, data=data)
    assert settings_facade.merchant_settings(merchant_id=merchant_id).has_logo is False


def test_png_and_jpeg_logos_are_stored_with_their_type(wired):
    merchant_id, user_id = _merchant("Acme")
    for fmt, content_type in (("PNG", "image/png"), ("JPEG", "image/jpeg")):
        settings_facade.save_logo(merchant_id=merchant_id, user_id=user_id, data=_image(fmt))
        with Session(wired) as session:
            assert session.get(Merchant, merchant_id).logo_content_type == content_type
    settings_facade.remove_logo(merchant_id=merchant_id, user_id=user_id)
    assert settings_facade.merchant_settings(merchant_id=merchant_id).has_logo is False


def test_team_member_errors(wired):
    merchant_id, user_id = _merchant("Acme")
    for form in (
        {"email": "x", "password": "long enough password"},
        {"email": "two@acme.example", "password": "short"},
        {"email": "owner@acme.example", "password": "long enough password"},
        {"email": ["a"], "password": "long enough password"},
        "not a dict",
    ):
        with pytest.raises(forms_facade.ConsoleError):
            settings_facade.add_team_member(merchant_id=merchant_id, user_id=user_id, form=form)
    assert len(settings_facade.list_team(merchant_id=merchant_id)) == 1


# --- behaviour ----------------------------------------------------------------------------------


def test_register_sends_invitation_with_a_working_link_or_not(wired):
    merchant_id, user_id, plan_id, (ana,) = _setup("Acme")
    with Session(wired) as session:
        invitation = session.exec(
            select(EmailMessage).where(EmailMessage.subscriber_id == ana, EmailMessage.kind == "invitation")
        ).one()
        url = re.search(r"http\S+/portal/(\S+)", invitation.body_text)
        assert portal_links.resolve_portal_token(session, url.group(1)) is not None
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ana)
    assert profile.has_portal_link
    assert profile_facade.portal_link_url(merchant_id=merchant_id, subscriber_id=ana).endswith(url.group(1))
    assert profile.subscription.status == "active" and profile.card.last4 == "4242"

    quiet = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Quiet", "email": "quiet@example.com", **card_form()},
    )
    assert not quiet.invitation_sent
    with Session(wired) as session:
        kinds = session.exec(select(EmailMessage.kind).where(EmailMessage.subscriber_id == quiet.subscriber_id)).all()
    assert "invitation" not in kinds
    assert profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=quiet.subscriber_id).has_portal_link
    with pytest.raises(forms_facade.ConsoleError, match="already has"):
        registration_facade.register_subscriber(
            merchant_id=merchant_id,
            user_id=user_id,
            plan_id=plan_id,
            form={"name": "Again", "email": "QUIET@example.com", **card_form()},
        )


def test_register_backdated_start_and_failing_first_charge(wired):
    merchant_id, user_id, plan_id, _ = _setup("Acme", people=())
    now = utcnow()
    start = (now - timedelta(days=10)).date().isoformat()
    result = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Late", "email": "late@example.com", "start_date": start, **card_form()},
    )
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=result.subscriber_id)
    assert profile.subscription.current_period_start.date().isoformat() == start
    failing = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Fails", "email": "fails@example.com", **card_form("4000 0000 0000 0341")},
    )
    assert failing.outcome is registration_facade.RegistrationOutcome.PAYMENT_FAILED and "failed" in failing.message
    with Session(wired) as session:
        (invoice,) = session.exec(select(Invoice).where(Invoice.subscriber_id == failing.subscriber_id)).all()
        (attempt,) = session.exec(select(PaymentAttempt).where(PaymentAttempt.invoice_id == invoice.id)).all()
    # A failed first renewal is dunned like any other: retried on schedule.
    assert attempt.trigger == "renewal" and invoice.status == "open" and invoice.next_retry_at is not None
    assert (
        profile_facade.subscriber_profile(
            merchant_id=merchant_id, subscriber_id=failing.subscriber_id
        ).subscription.status
        == "incomplete"
    )


def test_regenerate_revokes_old_link_and_delete_closes_the_portal(wired):
    merchant_id, user_id, _, (ana,) = _setup("Acme")
    old_url = profile_facade.portal_link_url(merchant_id=merchant_id, subscriber_id=ana)
    new_url = profile_facade.regenerate_portal_link(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    assert new_url != old_url
    with Session(wired) as session:
        assert portal_links.resolve_portal_token(session, old_url.rsplit("/", 1)[1]) is None
        assert portal_links.resolve_portal_token(session, new_url.rsplit("/", 1)[1]) is not None
    assert profile_facade.send_invitation(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana).startswith("ana")
    profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    with Session(wired) as session:
        assert portal_links.resolve_portal_token(session, new_url.rsplit("/", 1)[1]) is None
        assert all(
            link.revoked_at is not None for link in session.exec(select(PortalLink))
        )  # revoked, not only refused
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=ana)
    assert profile.deleted and not profile.has_portal_link and profile.subscription is None
    with pytest.raises(BillingError, match="deleted"):
        profile_facade.portal_link_url(merchant_id=merchant_id, subscriber_id=ana)
    for call in (profile_facade.regenerate_portal_link, profile_facade.send_invitation):
        with pytest.raises(BillingError, match="deleted"):
            call(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    with pytest.raises(NotFound):
        profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ana)
    titles = [e.title for e in profile_facade.subscriber_timeline(merchant_id=merchant_id, subscriber_id=ana)]
    for expected in (
        "Subscription deleted",
        "Portal link regenerated (old link revoked)",
        "Card changed",
        "Subscription started",
    ):
        assert expected in titles
    assert any(t.startswith("Charge of $29.00 succeeded") for t in titles)
    assert any(t.startswith("Email not sent (no mail server)") for t in titles)


def test_search_pages_filters_and_plan_counts(wired):
    names = [f"Person {i:02d}" for i in range(30)] + ["Zoë Ñúñez"]
    merchant_id, user_id, plan_id, ids = _setup("Acme", people=names)
    first = subscribers_facade.search_subscribers(merchant_id=merchant_id, plan_id=plan_id, page_size=25)
    assert len(first.rows) == 25 and first.has_next
    second = subscribers_facade.search_subscribers(merchant_id=merchant_id, plan_id=plan_id, after=first.next_cursor)
    assert [r.name for r in first.rows + second.rows] == sorted(names)
    assert not second.has_next
    assert [r.name for r in subscribers_facade.search_subscribers(merchant_id=merchant_id, query="ZOË").rows] == [
        "Zoë Ñúñez"
    ]
    assert len(subscribers_facade.search_subscribers(merchant_id=merchant_id, query="person.0").rows) == 10  # by email
    assert (
        subscribers_facade.search_subscribers(merchant_id=merchant_id, query="%").rows == []
    )  # LIKE wildcards are literal
    profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ids[0])
    assert (
        subscribers_facade.search_subscribers(merchant_id=merchant_id, status="canceled").rows == []
    )  # deleted: not live
    assert (
        len(subscribers_facade.search_subscribers(merchant_id=merchant_id, status="active", page_size=100).rows) == 30
    )
    (row,) = plans_facade.list_plans(merchant_id=merchant_id)
    assert row.subscriber_count == 30 and row.mrr.amount_minor == 30 * 2900


def test_dashboard_metrics(wired):
    merchant_id, user_id, plan_id, ids = _setup("Acme", people=("A One", "B Two", "C Three"))
    yearly = plans_facade.save_plan(
        merchant_id=merchant_id,
        user_id=user_id,
        form={**PLAN_FORM, "name": "Yearly", "price": "120", "interval": "year"},
    )
    registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=yearly,
        form={"name": "D Four", "email": "d@example.com", **card_form()},
    )
    portal_facade.cancel(merchant_id=merchant_id, subscriber_id=ids[0], reason_code="too_expensive", reason_text="")
    profile_facade.delete_subscription(merchant_id=merchant_id, user_id=user_id, subscriber_id=ids[1])
    metrics = dashboard_facade.dashboard_metrics(merchant_id=merchant_id)
    # A (canceling at period end, still paying), C, and the yearly one at 120/12.
    assert [m.amount_minor for m in metrics.mrr] == [2 * 2900 + 1000]
    assert metrics.active == 3 and metrics.past_due == 0
    assert ("Too expensive", 1) in metrics.cancellation_reasons
    assert len(metrics.mrr_history) == 12 and metrics.mrr_history[-1].amount.amount_minor > 0


def test_monthly_amount_normalization():
    assert plans_facade.monthly_amount_minor(12000, "year", 1) == 1000
    assert plans_facade.monthly_amount_minor(2900, "month", 1) == 2900
    assert plans_facade.monthly_amount_minor(2900, "month", 3) == 967
    assert plans_facade.monthly_amount_minor(1000, "week", 1) == 4333
    assert plans_facade.monthly_amount_minor(100, "day", 1) == 3042


def test_invoice_pdf_for_the_merchant_shows_new_branding(wired):
    merchant_id, user_id, plan_id, _ = _setup("Acme", people=())
    settings_facade.save_merchant_settings(
        merchant_id=merchant_id,
        user_id=user_id,
        form={
            "name": "Acme Renamed",
            "invoice_prefix": "NEW",
            "support_email": "",
            "default_language": "en",
            "dunning_schedule_days": "1,3",
            "dunning_end_state": "unpaid",
        },
    )
    settings_facade.save_logo(merchant_id=merchant_id, user_id=user_id, data=_image("PNG"))
    result = registration_facade.register_subscriber(
        merchant_id=merchant_id,
        user_id=user_id,
        plan_id=plan_id,
        form={"name": "Ana", "email": "ana@example.com", **card_form()},
    )
    (invoice,) = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=result.subscriber_id).invoices
    assert invoice.number.startswith("NEW-")
    filename, data = profile_facade.invoice_pdf(merchant_id=merchant_id, invoice_id=invoice.invoice_id)
    assert filename.startswith("NEW-") and data.startswith(b"%PDF")
    with Session(wired) as session:
        assert session.get(Invoice, invoice.invoice_id).merchant_name == "Acme Renamed"


def test_no_console_call_writes_the_card_number(wired):
    _setup("Acme")
    with wired.connect() as conn:
        dump = "\n".join(
            str(row)
            for name in ("subscriber", "payment_method", "audit_event", "email_message")
            for row in conn.execute(sa.text(f"SELECT * FROM {name}"))
        )
    assert "4242424242424242" not in dump.replace(" ", "")


@pytest.mark.parametrize(
    ("number", "says"), [("4000 0000 0000 0002", "declined"), ("4000 0027 6000 3184", "3D Secure")]
)
def test_a_refused_card_at_registration_is_recorded_and_another_card_resumes_it(wired, number, says):
    merchant_id, user_id, plan_id, _ = _setup("Acme", people=())
    form = {"name": "Ana", "email": "ana@example.com", "send_invitation": "on", **card_form()}
    refused = registration_facade.register_subscriber(
        merchant_id=merchant_id, user_id=user_id, plan_id=plan_id, form={**form, **card_form(number)}
    )
    assert refused.outcome is registration_facade.RegistrationOutcome.CARD_REFUSED and not refused.active
    assert refused.field == "number" and says.lower() in refused.message.lower()
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=refused.subscriber_id)
    assert profile.subscription.status == "incomplete" and profile.card is None
    assert [(i.status, i.downloadable) for i in profile.invoices] == [("open", True)]
    titles = [
        e.title
        for e in profile_facade.subscriber_timeline(merchant_id=merchant_id, subscriber_id=refused.subscriber_id)
    ]
    for expected in ("Registered in the console", "Subscription started", "Card refused at registration"):
        assert expected in titles
    with Session(wired) as session:
        assert session.exec(select(PaymentAttempt)).all() == []  # nothing was charged
        (invitation,) = session.exec(select(EmailMessage).where(EmailMessage.kind == "invitation")).all()

    resumed = registration_facade.register_subscriber(
        merchant_id=merchant_id, user_id=user_id, plan_id=plan_id, form=form
    )
    assert resumed.active and (resumed.subscriber_id, resumed.subscription_id) == (
        refused.subscriber_id,
        refused.subscription_id,
    )
    profile = profile_facade.subscriber_profile(merchant_id=merchant_id, subscriber_id=resumed.subscriber_id)
    assert profile.subscription.status == "active" and [i.status for i in profile.invoices] == ["paid"]
    with Session(wired) as session:
        assert len(session.exec(select(Subscriber)).all()) == 1
        assert len(session.exec(select(EmailMessage).where(EmailMessage.kind == "invitation")).all()) == 1
    with pytest.raises(forms_facade.ConsoleError, match="already has"):
        registration_facade.register_subscriber(merchant_id=merchant_id, user_id=user_id, plan_id=plan_id, form=form)
