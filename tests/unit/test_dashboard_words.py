"""The dashboard's "Recovered this month" note counts invoices in plain English (no "payment(s)")."""

from __future__ import annotations

import pytest

from portal_app.pages.console.dashboard import recovered_words

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("count", "words"),
    [
        (0, "No invoice paid after a failed payment yet"),
        (1, "1 invoice paid after a failed payment"),
        (3, "3 invoices paid after a failed payment"),
    ],
)
def test_recovered_words(count, words):
    assert recovered_words(count) == words
