"""Console input checks: every argument from a hostile browser is type- and range-checked here;
a bad value raises ConsoleError with a message fit for the page (and the form field it names)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from portal_app.billing.accounts import AccountError, normalize_email
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.money import Money

PAGE_SIZE = 25
MAX_ID = 2**62
LANGUAGES = ("en", "es")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Prices as people type them: ASCII digits, optional thousands commas, one decimal point (a minus sign
# is read so that "-5" is told it must be greater than zero).
_PRICE = re.compile(r"-?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]+)?", re.ASCII)
_WHOLE_NUMBER = re.compile(r"[0-9]+", re.ASCII)


class ConsoleError(BillingError):
    """Bad input from the console; `field` names the form field when there is one."""

    code = "invalid_input"


def actor_for(user_id: int) -> str:
    return f"user:{int(user_id)}"


# --- argument checks ---------------------------------------------------------------------------


def parse_id(value: Any, what: str = "record") -> int:
    """A positive database id from the client (int or digit string), or NotFound."""
    if isinstance(value, bool):
        raise NotFound(f"{what.capitalize()} not found")
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if not isinstance(value, int) or not 0 < value < MAX_ID:
        raise NotFound(f"{what.capitalize()} not found")
    return value


def text_field(
    form: dict, key: str, *, label: str, max_length: int, required: bool = True, field: str | None = None
) -> str:
    value = form.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConsoleError(f"{label}: please enter text.", field=field or key)
    value = value.strip()
    if required and not value:
        raise ConsoleError(f"{label} is required.", field=field or key)
    if len(value) > max_length:
        raise ConsoleError(f"{label} must be at most {max_length} characters.", field=field or key)
    if _CONTROL.search(value):
        raise ConsoleError(f"{label} contains control characters.", field=field or key)
    return value


def choice_field(form: dict, key: str, choices, *, message: str, field: str | None = None) -> str:
    """One of `choices` (strings); anything else, of any type (a dict, a list), is a field error."""
    value = form.get(key, "")
    if not isinstance(value, str) or value not in tuple(choices):
        raise ConsoleError(message, field=field or key)
    return value


def whole_number_field(
    form: dict, key: str, *, message: str, default: str = "", max_digits: int = 6, field: str | None = None
) -> int:
    """A non-negative whole number typed with ASCII digits ("١٢" and "²" are refused, not read as 12 or 2)."""
    value = form.get(key, default)
    if value in (None, ""):
        value = default
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not _WHOLE_NUMBER.fullmatch(value.strip()) or len(value.strip()) > max_digits:
        raise ConsoleError(message, field=field or key)
    return int(value.strip())


def form_dict(form: Any) -> dict:
    if not isinstance(form, dict):
        raise ConsoleError("Invalid form data.")
    return form


def email_field(value: Any, field: str = "email") -> str:

    if not isinstance(value, str) or _CONTROL.search(value):
        raise ConsoleError("Enter a valid email address.", field=field)
    try:
        return normalize_email(value)
    except AccountError as err:
        raise ConsoleError(str(err), field=field) from None


def has_control_characters(text: str) -> bool:
    """NUL and other control characters (PostgreSQL refuses NUL in text; nobody types them)."""
    return bool(_CONTROL.search(text))


def checkbox(value: Any) -> bool:
    """HTML checkbox/switch values: "on"/"true"/True are checked; anything else is not."""
    return value is True or (isinstance(value, str) and value.lower() in ("on", "true", "1", "yes"))


def parse_price(text: Any, currency: str) -> int:
    """'29', '29.00', '1,299.5' -> minor units for the currency; ConsoleError otherwise."""
    if not isinstance(text, str) or len(text) > 20 or not _PRICE.fullmatch(text.strip()):
        raise ConsoleError("Enter the price as a number, e.g. 29.00.", field="price")
    try:
        amount = Decimal(text.strip().replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise ConsoleError("Enter the price as a number, e.g. 29.00.", field="price") from None
    if not amount.is_finite() or amount <= 0:
        raise ConsoleError("The price must be greater than zero.", field="price")
    try:
        return Money.from_decimal(amount, currency).amount_minor
    except ValueError:
        raise ConsoleError(f"{currency} prices can't have that many decimals.", field="price") from None
