"""A trialing subscription in the portal: "Trial ends <date>" and "Then <amount> on <date>", the
Trial badge, in English and Spanish, desktop and phone."""

from __future__ import annotations

import re

import pytest

from .conftest import assert_no_horizontal_scroll, open_portal, screenshot
from .lifecycle_builders import TRIAL, lifecycle_subscriber

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_portal_shows_the_trial_end_and_the_first_charge(server, page, language):
    _, token = lifecycle_subscriber(server["engine"], plan=TRIAL, language=language, days_ago=2)
    open_portal(page, server, token)
    ends = page.get_by_test_id("trial-ends")
    ends.wait_for()
    then = page.get_by_test_id("trial-then").inner_text()
    assert page.get_by_test_id("subscription-status").get_attribute("data-status") == "trialing"
    if language == "en":
        assert ends.inner_text().startswith("Trial ends ")
        assert re.match(r"Then \$29\.00 on .+ \d{4}", then)
        assert page.get_by_test_id("subscription-status").inner_text().strip() == "Trial"
    else:
        assert ends.inner_text().startswith("La prueba termina el ")
        assert re.match(r"Después, 29,00\s?US\$ el .+ \d{4}", then)
        assert page.get_by_test_id("subscription-status").inner_text().strip() == "Prueba"
    assert ends.inner_text().split(" ")[-1] in then  # the same day
    assert page.get_by_test_id("next-line").count() == 0  # the charge is said once, by the trial's lines
    assert_no_horizontal_scroll(page)
    screenshot(page, f"portal-trial-{language}")
