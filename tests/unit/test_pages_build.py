"""Every page's component tree builds (catches prop/type errors without a frontend build)."""

import pytest

from portal_app import portal_app


@pytest.mark.parametrize("route", sorted(portal_app.app._unevaluated_pages))
def test_page_builds(route):
    page = portal_app.app._unevaluated_pages[route]
    component = page.component() if callable(page.component) else page.component
    assert component is not None
