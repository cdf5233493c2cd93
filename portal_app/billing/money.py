"""Money as integer minor units plus an ISO 4217 currency. Never float."""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision, list_currencies

_KNOWN_CURRENCIES = frozenset(list_currencies())
# ASCII digits only: Decimal() and int() also read other scripts' digits ("١٢٣" is 123), full-width
# digits, underscores and exponents, none of which a person typing a price means.
_AMOUNT_TEXT = re.compile(r"-?[0-9]{1,30}(\.[0-9]{1,30})?", re.ASCII)


class CurrencyMismatch(ValueError):
    """Arithmetic between two different currencies."""


def validate_currency(code: str) -> str:
    """Upper-cased ISO 4217 code, or ValueError for anything babel does not know."""
    code = (code or "").strip().upper()
    if len(code) != 3 or code not in _KNOWN_CURRENCIES:
        raise ValueError(f"unknown currency {code!r}")
    return code


def minor_digits(currency: str) -> int:
    """Digits after the decimal point: USD 2, JPY 0, KWD 3."""
    return get_currency_precision(currency)


@dataclasses.dataclass(frozen=True, slots=True)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount_minor, bool) or not isinstance(self.amount_minor, int):
            raise TypeError("amount_minor must be an int (minor units)")
        object.__setattr__(self, "currency", validate_currency(self.currency))

    @classmethod
    def from_decimal(cls, amount: Decimal | str, currency: str) -> Money:
        """Parse a major-unit amount ("29.00") exactly; refuses more decimals than the currency has."""
        currency = validate_currency(currency)
        if isinstance(amount, str):
            if not _AMOUNT_TEXT.fullmatch(amount.strip()):
                raise ValueError(f"{amount!r} is not a plain decimal number (ASCII digits, one point)")
            amount = Decimal(amount.strip())
        if not isinstance(amount, Decimal):
            raise TypeError("amount must be a Decimal or a decimal string")
        value = amount
        if not value.is_finite():
            raise ValueError("amount must be a finite number")
        scaled = value.scaleb(minor_digits(currency))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{amount} has more decimals than {currency} allows")
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-minor_digits(self.currency))

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if isinstance(factor, bool) or not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int")
        return Money(self.amount_minor * factor, self.currency)

    __rmul__ = __mul__

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor <= other.amount_minor

    def percent_bp(self, basis_points: int) -> Money:
        """This amount times basis_points/10000, rounded half-up to the minor unit (tax)."""
        numerator = self.amount_minor * basis_points
        sign = -1 if numerator < 0 else 1
        return Money(sign * ((abs(numerator) + 5000) // 10000), self.currency)

    def format(self, locale: str = "en") -> str:
        """Locale-aware text, e.g. '$29.00' (en) or '29,00 US$' (es). Only at the edges."""
        return format_currency(self.to_decimal(), self.currency, locale=locale)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)
