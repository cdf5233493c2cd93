"""The console's one wording of a subscription's status (subscription_views.status_label): a trial says
when it ends, a pause when billing resumes, a scheduled pause when it starts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portal_app.billing.statuses import SubscriptionStatus as S
from portal_app.billing.subscription_views import status_label
from portal_app.models import Subscription

pytestmark = pytest.mark.unit

START = datetime(2027, 1, 31, 9, 30, tzinfo=UTC)
END = datetime(2027, 2, 28, 9, 30, tzinfo=UTC)


def _sub(**kw) -> Subscription:
    base = dict(
        merchant_id=1,
        subscriber_id=1,
        plan_id=1,
        status=S.ACTIVE,
        anchor_at=START,
        current_period_start=START,
        current_period_end=END,
    )
    return Subscription(**{**base, **kw})


@pytest.mark.parametrize(
    ("fields", "label"),
    [
        ({}, "Active"),
        ({"status": S.TRIALING, "trial_end": datetime(2027, 2, 14, 9, 30, tzinfo=UTC)}, "Trial · ends Feb 14, 2027"),
        ({"status": S.PAUSED, "resume_at": datetime(2027, 3, 15, tzinfo=UTC)}, "Paused · resumes Mar 15, 2027"),
        (
            {"pause_starts_at": END, "resume_at": datetime(2027, 3, 15, tzinfo=UTC)},
            "Active · pauses Feb 28, 2027",
        ),
        ({"cancel_at_period_end": True, "pause_starts_at": END}, "Active · cancels Feb 28, 2027"),
        ({"status": S.PAST_DUE}, "Past due"),
    ],
)
def test_the_label_names_the_date_that_matters(fields, label):
    assert status_label(_sub(**fields)) == label
