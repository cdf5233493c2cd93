"""Console forms read numbers typed with ASCII digits only, and any value of the wrong type (a dict, a
list where a choice belongs) is a calm field error, never a TypeError; nothing is written."""

from __future__ import annotations

import pytest

from portal_app import db
from portal_app.billing import accounts
from portal_app.billing.facades.console import forms as forms_facade
from portal_app.billing.facades.console import plans as plans_facade
from portal_app.billing.facades.console import registration as registration_facade
from portal_app.billing.facades.console import settings as settings_facade
from portal_app.billing.money import Money
from portal_app.settings import parse_dunning_schedule
from tests.builders import PLAN_FORM, table_snapshot

SETTINGS_FORM = {
    "name": "Acme",
    "invoice_prefix": "ACME",
    "support_email": "",
    "default_language": "en",
    "dunning_schedule_days": "1,3,5,7",
    "dunning_end_state": "unpaid",
}
HOSTILE_VALUES = [{}, {"value": "immediately"}, [], ["immediately"], 7, 1.5, True, "١٢٣", "²", "\uff11"]


@pytest.fixture
def merchant(engine, monkeypatch) -> tuple[int, int]:
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    with db.session_scope() as session:
        user = accounts.sign_up(
            session, company_name="Acme", email="owner@acme.example", password="long enough password"
        )
        return user.merchant_id, user.id


@pytest.mark.parametrize("price", ["١٢٣", "１２３", "۱۲۳", "1_000", "1e3", "²", " 12 3", "1,2,3", ",123", "12.", ".5"])
def test_prices_in_other_digits_or_notations_are_refused(engine, merchant, price):
    merchant_id, user_id = merchant
    before = table_snapshot(engine)
    with pytest.raises(forms_facade.ConsoleError) as err:
        plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "price": price})
    assert err.value.field == "price"
    assert table_snapshot(engine) == before


@pytest.mark.parametrize(("price", "minor"), [("123", 12300), ("1,299.50", 129950), (" 29.9 ", 2990), ("0.5", 50)])
def test_plain_ascii_prices_still_parse(price, minor):
    assert forms_facade.parse_price(price, "USD") == minor


def test_money_from_text_takes_ascii_digits_only():
    assert Money.from_decimal("123", "USD") == Money(12300, "USD")
    for text in ("١٢٣", "１２３", "1_000", "1e3"):
        with pytest.raises(ValueError):
            Money.from_decimal(text, "USD")


@pytest.mark.parametrize("count", ["١٢", "²", "１", "1_0"])
def test_interval_count_in_other_digits_is_a_field_error(merchant, count):
    merchant_id, user_id = merchant
    with pytest.raises(forms_facade.ConsoleError) as err:
        plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form={**PLAN_FORM, "interval_count": count})
    assert err.value.field == "interval_count"


@pytest.mark.parametrize("schedule", ["١,٣", "1,３", "1_0", "+3"])
def test_dunning_schedule_in_other_digits_is_refused(merchant, schedule):
    with pytest.raises(ValueError):
        parse_dunning_schedule(schedule)
    merchant_id, user_id = merchant
    with pytest.raises(forms_facade.ConsoleError) as err:
        settings_facade.save_merchant_settings(
            merchant_id=merchant_id, user_id=user_id, form={**SETTINGS_FORM, "dunning_schedule_days": schedule}
        )
    assert err.value.field == "dunning_schedule_days"


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
@pytest.mark.parametrize("key", ["name", "price", "currency", "interval", "interval_count", "cancellation_policy"])
def test_every_plan_field_of_the_wrong_type_is_a_field_error(engine, merchant, key, value):
    merchant_id, user_id = merchant
    form = {**PLAN_FORM, key: value}
    before = table_snapshot(engine)
    try:
        plans_facade.save_plan(merchant_id=merchant_id, user_id=user_id, form=form)
    except forms_facade.ConsoleError as err:
        assert err.message and err.field == key
        assert table_snapshot(engine) == before
    else:  # only a value that is a valid answer for this field may pass
        assert (key, value) in {("interval_count", 7), ("name", "١٢٣"), ("name", "²"), ("name", "\uff11")}


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
@pytest.mark.parametrize("key", list(SETTINGS_FORM))
def test_every_settings_field_of_the_wrong_type_is_a_field_error(engine, merchant, key, value):
    merchant_id, user_id = merchant
    before = table_snapshot(engine)
    try:
        settings_facade.save_merchant_settings(
            merchant_id=merchant_id, user_id=user_id, form={**SETTINGS_FORM, key: value}
        )
    except forms_facade.ConsoleError as err:
        assert err.message and err.field == key
        assert table_snapshot(engine) == before
    else:
        assert key == "name" and isinstance(value, str)  # any text is a company name


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=repr)
@pytest.mark.parametrize("key", ["name", "email", "language", "start_date", "send_invitation"])
def test_every_registration_field_of_the_wrong_type_is_a_field_error(engine, merchant, key, value):
    merchant_id, user_id = merchant
    form = {"name": "Ana", "email": "ana@example.com", "language": "en", "start_date": "", key: value}
    # Any text is a name and any value an unchecked box; every other field refuses these values.
    acceptable = key == "send_invitation" or (key == "name" and isinstance(value, str))
    with pytest.raises(forms_facade.BillingError) as err:  # the card or the unknown plan is refused later
        registration_facade.register_subscriber(merchant_id=merchant_id, user_id=user_id, plan_id=1, form=form)
    assert err.value.message
    assert (err.value.field != key) if acceptable else (err.value.field == key)
