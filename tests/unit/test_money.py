"""Money: integer minor units, exact parsing, same-currency arithmetic, half-up tax rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_app.billing.money import CurrencyMismatch, Money, minor_digits, validate_currency


def test_from_decimal_respects_currency_exponent():
    assert Money.from_decimal("29.00", "USD") == Money(2900, "USD")
    assert Money.from_decimal(Decimal("0.5"), "usd") == Money(50, "USD")
    assert Money.from_decimal("1000", "JPY") == Money(1000, "JPY")
    assert Money.from_decimal("1.234", "KWD") == Money(1234, "KWD")
    assert Money.from_decimal(" -3.10 ", "EUR") == Money(-310, "EUR")


@pytest.mark.parametrize(("amount", "currency"), [("29.001", "USD"), ("1.5", "JPY"), ("0.0001", "KWD")])
def test_from_decimal_refuses_sub_minor_amounts(amount, currency):
    with pytest.raises(ValueError, match="more decimals"):
        Money.from_decimal(amount, currency)


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity"])
def test_from_decimal_refuses_non_finite(amount):
    with pytest.raises(ValueError):
        Money.from_decimal(amount, "USD")


def test_to_decimal():
    assert Money(2900, "USD").to_decimal() == Decimal("29.00")
    assert Money(1000, "JPY").to_decimal() == Decimal("1000")
    assert Money(1, "KWD").to_decimal() == Decimal("0.001")


def test_minor_digits():
    assert (minor_digits("USD"), minor_digits("JPY"), minor_digits("KWD")) == (2, 0, 3)


def test_currency_is_validated_and_upper_cased():
    assert Money(1, "eur").currency == "EUR"
    assert validate_currency(" gbp ") == "GBP"
    for bad in ("", "US", "USDX", "ZZZ", None):
        with pytest.raises(ValueError):
            Money(1, bad)


@pytest.mark.parametrize("amount", [1.5, "100", Decimal("1"), True])
def test_amount_must_be_an_int(amount):
    with pytest.raises(TypeError):
        Money(amount, "USD")


def test_arithmetic():
    a, b = Money(2900, "USD"), Money(150, "USD")
    assert a + b == Money(3050, "USD")
    assert a - b == Money(2750, "USD")
    assert a * 3 == 3 * a == Money(8700, "USD")
    assert -a == Money(-2900, "USD")
    assert b < a and b <= a and a <= a
    assert Money.zero("JPY") == Money(0, "JPY")


def test_currency_mismatch():
    usd, eur = Money(100, "USD"), Money(100, "EUR")
    for op in (lambda: usd + eur, lambda: usd - eur, lambda: usd < eur, lambda: usd <= eur):
        with pytest.raises(CurrencyMismatch):
            op()
    assert issubclass(CurrencyMismatch, ValueError)


def test_no_floats_anywhere():
    with pytest.raises(TypeError):
        Money(100, "USD") * 1.5
    with pytest.raises(TypeError):
        Money(100, "USD") + 1


def test_is_immutable():
    m = Money(100, "USD")
    with pytest.raises(AttributeError):
        m.amount_minor = 5


@pytest.mark.parametrize(
    ("amount", "bp", "expected"),
    [
        (1000, 2000, 200),  # 20% of $10.00
        (1, 5000, 1),  # 0.5 cent rounds half up
        (3, 5000, 2),  # 1.5 -> 2
        (1, 4999, 0),  # 0.4999 -> 0
        (-1, 5000, -1),  # half away from zero for credits
        (-3, 5000, -2),
        (999, 825, 82),  # 82.4175 -> 82
        (1000, 825, 83),  # 82.5 -> 83
        (12345, 0, 0),
    ],
)
def test_percent_bp_rounds_half_up(amount, bp, expected):
    assert Money(amount, "USD").percent_bp(bp) == Money(expected, "USD")


def test_format_is_locale_aware():
    assert Money(2900, "USD").format("en") == "$29.00"
    assert Money(2900, "USD").format("es") == "29,00\xa0US$"
    assert Money(1000, "JPY").format("en") == "¥1,000"
    assert Money(-2900, "EUR").format("de") == "-29,00\xa0€"
    assert Money(1234, "KWD").format("en").endswith("1.234")


# --------------------------------------------------------------------------- properties

currencies = st.sampled_from(["USD", "JPY", "KWD", "EUR"])
amounts = st.integers(min_value=-(10**15), max_value=10**15)


@given(currency=currencies, a=amounts, b=amounts, c=amounts)
def test_addition_is_associative_and_commutative(currency, a, b, c):
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert x - x == Money.zero(currency)


@given(currency=st.sampled_from(["USD", "JPY", "KWD"]), amount=amounts)
def test_decimal_roundtrip(currency, amount):
    m = Money(amount, currency)
    assert Money.from_decimal(m.to_decimal(), currency) == m
    assert Money.from_decimal(str(m.to_decimal()), currency) == m


@given(amount=st.integers(min_value=-(10**12), max_value=10**12), bp=st.integers(min_value=0, max_value=10**6))
def test_percent_bp_matches_decimal_half_up(amount, bp):
    exact = Decimal(amount) * Decimal(bp) / Decimal(10000)
    expected = int(exact.quantize(Decimal(1), rounding="ROUND_HALF_UP"))
    assert Money(amount, "USD").percent_bp(bp).amount_minor == expected
