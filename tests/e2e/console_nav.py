"""Moving around the console as a merchant does: the left-hand menu on desktop, the menu button and
its sheet on a phone (< 768 px)."""

from __future__ import annotations

import re


def open_menu(page):
    """On a phone, open the navigation sheet with the menu button; returns the Console navigation."""
    button = page.get_by_role("button", name="Menu", exact=True)
    if button.is_visible():
        button = page.get_by_test_id("console-menu-button")  # the open sheet hides the rest from the a11y tree
        assert button.get_attribute("aria-expanded") == "false"
        button.click()
        assert button.get_attribute("aria-expanded") == "true"
        controls = button.get_attribute("aria-controls")
        assert controls and page.locator(f"[id='{controls}']").is_visible()
    return page.get_by_role("navigation", name="Console")


def open_nav(page, label: str, heading: str | re.Pattern) -> None:
    """Click `label` in the Console navigation (through the phone's menu when it is one) and wait for
    the page's h1 `heading`."""
    open_menu(page).get_by_role("link", name=label, exact=True).click()
    page.get_by_role("heading", name=heading, level=1).wait_for()
    page.get_by_role("dialog").wait_for(state="hidden")
    page.mouse.move(1, 1)  # no hover state left on the link for screenshots and axe
