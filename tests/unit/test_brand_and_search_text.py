"""The brand colour rule (WCAG contrast of white text) and the search fold (accents, case, scripts)."""

from __future__ import annotations

import pytest

from portal_app.billing import brand
from portal_app.billing.errors import BillingError
from portal_app.billing.search_text import fold, subscriber_search_text

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("typed", ["#0d74ce", "0D74CE", " #0D74CE "])
def test_a_readable_colour_is_stored_normalized(typed):
    assert brand.validated_brand_color(typed) == "#0D74CE"


def test_short_hex_expands():
    assert brand.parse_color("#036") == "#003366"


@pytest.mark.parametrize("typed", ["#FFCC00", "#ffffff", "#9FE870"])
def test_a_colour_white_text_cannot_be_read_on_is_refused_with_its_ratio(typed):
    with pytest.raises(BillingError) as err:
        brand.validated_brand_color(typed)
    assert ":1" in err.value.message and err.value.field == "brand_color"


@pytest.mark.parametrize("typed", ["blue", "#12345", "#GGGGGG", "rgb(0,0,0)", "#0D74CE; x"])
def test_anything_but_hex_is_refused(typed):
    with pytest.raises(BillingError):
        brand.validated_brand_color(typed)


def test_empty_means_the_house_default():
    assert brand.validated_brand_color("  ") == ""
    assert brand.effective_color("") == brand.DEFAULT_COLOR
    assert brand.contrast_ratio(brand.DEFAULT_COLOR, "#FFFFFF") >= brand.MIN_CONTRAST


def test_contrast_of_black_on_white_is_21():
    assert brand.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)


def test_fold_drops_accents_case_and_extra_spaces():
    assert fold("  Zoë  ÑÚÑEZ ") == "zoe nunez"
    assert fold("STRASSE") == fold("Straße")
    assert fold("Ørsted") == "ørsted"  # no decomposition: kept, still lower-cased


def test_search_text_holds_name_and_email():
    assert subscriber_search_text("Zoë Ñúñez", "Zoe@Example.COM") == "zoe nunez zoe@example.com"
    assert len(subscriber_search_text("x" * 120, "y" * 254 + "@" + "z" * 200)) <= 400
