"""Plans: validation with named fields, updates, archive, tenancy."""

from __future__ import annotations

import pytest

from portal_app.billing.errors import NotFound
from portal_app.billing.plans import PlanError, archive_plan, create_plan, list_plans, plan_price, update_plan
from portal_app.db import new_session
from tests.builders import make_merchant


@pytest.fixture
def merchant_id(engine):
    with new_session(engine) as session, session.begin():
        return make_merchant(session).id


VALID = dict(
    name="Basic Monthly",
    amount_minor=2900,
    currency="usd",
    interval="month",
    interval_count=1,
    cancellation_policy="at_period_end",
)


@pytest.mark.parametrize(
    "field,value",
    [
        ("name", ""),
        ("name", "   "),
        ("name", "x" * 121),
        ("name", None),
        ("amount_minor", 0),
        ("amount_minor", -5),
        ("amount_minor", 29.0),
        ("amount_minor", "2900"),
        ("amount_minor", True),
        ("currency", "ZZZ"),
        ("currency", "dollars"),
        ("interval", "fortnight"),
        ("interval_count", 0),
        ("interval_count", 366),
        ("interval_count", 1.5),
        ("cancellation_policy", "never"),
    ],
)
def test_invalid_fields_are_named(engine, merchant_id, field, value):
    with new_session(engine) as session, session.begin(), pytest.raises(PlanError) as failure:
        create_plan(session, merchant_id=merchant_id, **{**VALID, field: value})
    assert failure.value.field == field and failure.value.message


def test_interval_count_limit_depends_on_interval(engine, merchant_id):
    with new_session(engine) as session, session.begin():
        create_plan(session, merchant_id=merchant_id, **{**VALID, "interval": "day", "interval_count": 365})
        with pytest.raises(PlanError):
            create_plan(session, merchant_id=merchant_id, **{**VALID, "interval": "year", "interval_count": 4})


def test_create_update_archive(engine, merchant_id):
    with new_session(engine) as session, session.begin():
        plan = create_plan(session, merchant_id=merchant_id, **VALID)
        assert plan.currency == "USD" and plan_price(plan).format() == "$29.00"
        update_plan(session, plan.id, merchant_id=merchant_id, name="  Basic  ", cancellation_policy="immediately")
        assert (plan.name, plan.cancellation_policy) == ("Basic", "immediately")
        with pytest.raises(PlanError):
            update_plan(session, plan.id, merchant_id=merchant_id, amount_minor=0)
        with pytest.raises(PlanError):
            update_plan(session, plan.id, merchant_id=merchant_id, merchant_id_=2)
        archive_plan(session, plan.id, merchant_id=merchant_id)
        assert list_plans(session, merchant_id=merchant_id) == []
        assert list_plans(session, merchant_id=merchant_id, include_inactive=True) == [plan]


def test_other_merchant_cannot_touch_a_plan(engine, merchant_id):
    with new_session(engine) as session, session.begin():
        other = make_merchant(session, "other", "OTH").id
        plan = create_plan(session, merchant_id=merchant_id, **VALID)
        with pytest.raises(NotFound):
            update_plan(session, plan.id, merchant_id=other, name="Mine now")
        assert list_plans(session, merchant_id=other) == []
