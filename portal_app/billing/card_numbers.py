"""Card number facts shared by the simulated gateway and the emails: the Luhn checksum and masking."""

from __future__ import annotations

import re

# 13 to 19 digits, optionally grouped by spaces or dashes: the shape of a card number.
_CARD_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every card number carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Replace anything that looks like a full card number with '•••• 1234'."""

    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group())
        return f"•••• {digits[-4:]}" if luhn_valid(digits) else match.group()

    return _CARD_NUMBER.sub(mask, text)
