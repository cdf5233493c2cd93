"""The portal gallery: a screenshot of every portal state (active, past due, incomplete, canceling,
canceled, after the fix), each decline of the simulated gateway's test cards in the card form and the
bank's 3DS challenge, in English and Spanish, at both viewports (the `page` fixture). Every view is
also checked: axe-core, no horizontal scroll, tap targets, and in Spanish no English and no "tú".

Screenshots: test-artifacts/screenshots/portal-<view>-<lang>-<viewport>.png."""

from __future__ import annotations

import pytest

from tests.language_leaks import english_leaks, informal_spanish

from .conftest import (
    assert_accessible,
    assert_no_horizontal_scroll,
    assert_tap_targets,
    make_subscriber,
    open_portal,
    screenshot,
)

pytestmark = pytest.mark.e2e

LANGS = ("en", "es")
STATES = ("active", "past_due", "incomplete", "canceling", "canceled")
NAMES = {"en": "Lucía Fernández", "es": "Lucía Fernández"}  # a name that is neither language's UI words
# Data on the page that is legitimately English: the demo plan and merchant, card brands.
ALLOW = ("Basic Monthly", "Acme Fitness", "Visa", "Mastercard", "American Express", "US$", NAMES["es"])
# The simulated gateway's declining test cards (simulated_cards.py) and the words the form answers with.
DECLINES = {
    "generic": ("4000 0000 0000 0002", {"en": "check with your bank", "es": "consulte con su banco"}),
    "insufficient-funds": ("4000 0000 0000 9995", {"en": "insufficient funds", "es": "fondos"}),
    "expired": ("4000 0000 0000 0069", {"en": "expired", "es": "caducado"}),
    "incorrect-cvc": ("4000 0000 0000 0127", {"en": "security code", "es": "código de seguridad"}),
    "lost": ("4000 0000 0000 9987", {"en": "another card", "es": "otra tarjeta"}),
    "stolen": ("4000 0000 0000 9979", {"en": "another card", "es": "otra tarjeta"}),
}


@pytest.fixture(scope="module")
def subscribers(server):
    """One subscriber per (state, language), built once per module through the billing engine."""
    built: dict[tuple[str, str], str] = {}

    def get(state: str, lang: str) -> str:
        if (state, lang) not in built:
            built[state, lang] = make_subscriber(server["engine"], state=state, language=lang, name=NAMES[lang])[1]
        return built[state, lang]

    return get


def check_view(page, lang: str) -> None:
    """What every gallery view must pass."""
    assert_accessible(page)
    assert_no_horizontal_scroll(page)
    assert_tap_targets(page)
    if lang == "es":
        text = page.evaluate("document.body.innerText")
        assert english_leaks(text, allow=ALLOW) == []
        assert informal_spanish(text) == []


def _open_card_form(page) -> None:
    page.get_by_test_id("edit-card").click()
    page.locator("#card-number").wait_for()


def _submit_card(page, number: str) -> None:
    page.locator("#card-number").fill(number)
    page.locator("#card-expiry").fill("12/30")
    page.locator("#card-cvc").fill("123")
    page.locator("form[aria-label] button[type=submit]").click()


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("state", STATES)
def test_every_state(server, page, subscribers, state, lang):
    open_portal(page, server, subscribers(state, lang))
    status = page.get_by_test_id("subscription-status").get_attribute("data-status")
    assert status == {"canceling": "canceling"}.get(state, state)
    assert (page.get_by_test_id("fix-alert").count() == 1) == (state in ("past_due", "incomplete"))
    screenshot(page, f"portal-{state.replace('_', '-')}-{lang}")
    check_view(page, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_after_the_fix(server, page, lang):
    """Past due -> a card whose charges decline (saved, payment refused) -> a good card -> active."""
    _, token = make_subscriber(server["engine"], state="past_due", language=lang, name=NAMES[lang])
    open_portal(page, server, token)
    page.get_by_test_id("fix-action").click()
    _submit_card(page, "4000 0000 0000 0341")
    page.get_by_test_id("card-result").wait_for()
    page.wait_for_timeout(700)  # the toast saying it has finished sliding in
    screenshot(page, f"portal-decline-charge-{lang}")
    check_view(page, lang)
    page.get_by_test_id("fix-action").click()
    _submit_card(page, "4242 4242 4242 4242")
    page.wait_for_function("document.querySelector('[data-testid=subscription-status]').dataset.status === 'active'")
    assert page.get_by_test_id("fix-alert").count() == 0
    page.wait_for_timeout(700)  # the toast saying it has finished sliding in
    screenshot(page, f"portal-fixed-{lang}")
    check_view(page, lang)


@pytest.mark.parametrize("lang", LANGS)
def test_each_decline_in_the_card_form(server, page, subscribers, lang):
    open_portal(page, server, subscribers("active", lang))
    for name, (number, words) in DECLINES.items():
        _open_card_form(page)
        _submit_card(page, number)
        error = page.get_by_test_id("card-error")
        error.wait_for()
        assert words[lang] in error.inner_text().lower(), (name, error.inner_text())
        screenshot(page, f"portal-decline-{name}-{lang}")
        check_view(page, lang)
        page.locator("form[aria-label] button[type=button]").click()  # close the form, nothing saved
        page.get_by_test_id("edit-card").wait_for()


@pytest.mark.parametrize("lang", LANGS)
def test_3ds_challenge(server, page, subscribers, lang):
    open_portal(page, server, subscribers("active", lang))
    _open_card_form(page)
    _submit_card(page, "4000 0025 0000 3155")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    page.wait_for_timeout(300)  # the dialog's opening animation
    screenshot(page, f"portal-3ds-{lang}")
    check_view(page, lang)
    dialog.locator("button").last.click()  # fail authentication: the card on file stays
    page.get_by_test_id("card-error").wait_for()
