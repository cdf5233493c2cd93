"""A plan change's invoice lines read in the invoice's language on the PDF (stored in English, ISO dates)."""

from __future__ import annotations

import pytest

from portal_app.billing.documents.invoice_view import line_description
from portal_app.billing.plan_change_preview import REMAINING_LINE, UNUSED_LINE
from portal_app.billing.renewal_terms import period_description
from tests.builders import UTC

pytestmark = pytest.mark.unit


def test_proration_lines_are_translated_with_their_dates():
    from datetime import datetime

    start, end = datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 2, 28, tzinfo=UTC)
    unused = period_description(UNUSED_LINE.format(plan="Basic Monthly"), start, end)
    remaining = period_description(REMAINING_LINE.format(plan="Pro"), start, end)
    assert line_description(unused, "en").startswith("Unused time on Basic Monthly (Feb 10")
    assert line_description(unused, "es") == "Tiempo no usado de Basic Monthly (10–28 feb 2026)"
    assert line_description(remaining, "es") == "Tiempo restante de Pro (10–28 feb 2026)"
    # A plan whose own name merely contains the words is left alone unless it starts with them.
    assert line_description(period_description("Pro", start, end), "es") == "Pro (10–28 feb 2026)"
