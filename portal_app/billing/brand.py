"""The merchant's brand colour: validated once here, used by the portal, signup page, emails and PDFs.

A colour is accepted only if white text on it (buttons) reaches WCAG AA for normal text (4.5:1),
which also makes it readable as link/heading colour on white. "" means the house default.
"""

from __future__ import annotations

import re

from portal_app.billing.errors import BillingError

DEFAULT_COLOR = "#0D74CE"  # Radix blue-11: 4.6:1 against white
MIN_CONTRAST = 4.5
_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")


def parse_color(text: str) -> str:
    """'#1a2B3c' / '1a2b3c' / '#abc' -> '#1A2B3C'; raises BillingError for anything else."""
    match = _HEX.match((text or "").strip())
    if not match:
        raise BillingError("Enter the brand colour as a hex value such as #0D74CE.", field="brand_color")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits.upper()


def rgb(color: str) -> tuple[int, int, int]:
    digits = parse_color(color)[1:]
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def _luminance(color: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1.0 to 21.0."""
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def validated_brand_color(text: str) -> str:
    """The colour to store: "" (house default) or a normalized hex with white text readable on it."""
    if not (text or "").strip():
        return ""
    color = parse_color(text)
    ratio = contrast_ratio(color, "#FFFFFF")
    if ratio < MIN_CONTRAST:
        raise BillingError(
            f"White text on {color} has a contrast of {ratio:.1f}:1; choose a darker colour (at least 4.5:1).",
            field="brand_color",
        )
    return color


def effective_color(stored: str) -> str:
    """The colour to paint with: the merchant's, or the house default."""
    return stored or DEFAULT_COLOR
