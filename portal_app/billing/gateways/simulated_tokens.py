"""The simulated gateway's tokenizer, its Stripe.js: the browser posts a card here (through our HTTP
endpoint, api/simulated_gateway.py) and gets back a `pm_…` id, so card numbers never pass through
Reflex events, state or logs. Seeding, the CLI and tests call tokenize_card() directly.

Ids are stateless, so every worker (and the cron CLI) can read them without a shared store:
    pm_ + base32(version, behaviour, brand, last4, expiry, issue time, nonce, HMAC-SHA256 under SECRET_KEY)
The HMAC makes them unforgeable; the issue time makes them short-lived (TOKEN_LIFETIME). An id holds
only what a saved card may keep (brand, last4, expiry, the test behaviour): never the number or CVC.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import re
import secrets
import struct
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from portal_app.billing.gateways.base import RAW_CARD_KEYS
from portal_app.billing.gateways.simulated_cards import (
    BEHAVIOUR_CODES,
    CODE_BEHAVIOURS,
    CardRefusal,
    check_card,
)
from portal_app.settings import get_settings

TOKEN_LIFETIME = timedelta(minutes=30)
_VERSION = 1
_BRANDS = ("visa", "mastercard", "amex", "discover", "unknown")
_PAYLOAD = struct.Struct(">BcB4sBHI4s")  # version, behaviour code, brand, last4, month, year, issued, nonce
_MAC_BYTES = 12
TOKEN_PATTERN = re.compile(r"pm_[A-Z2-7]{48}")


class CardRefused(Exception):
    """Stripe's card_error: the tokenizer will not accept these card details."""

    def __init__(self, refusal: CardRefusal):
        super().__init__(refusal.message)
        self.refusal = refusal


@dataclasses.dataclass(frozen=True)
class TokenizedCard:
    """A card behind a pm_ id: what a gateway may keep about it, plus its test behaviour."""

    id: str
    behaviour: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _key(secret_key: str | None) -> bytes:
    """A key for card tokens only, derived from SECRET_KEY (portal links use another derivation)."""
    root = (secret_key or get_settings().secret_key).encode()
    return hmac.new(root, b"simulated-gateway card tokens v1", hashlib.sha256).digest()


def _mac(payload: bytes, secret_key: str | None) -> bytes:
    return hmac.new(_key(secret_key), payload, hashlib.sha256).digest()[:_MAC_BYTES]


def tokenize_card(
    card: Mapping[str, object], *, now: datetime | None = None, secret_key: str | None = None
) -> TokenizedCard:
    """Check a card like Stripe does (number, expiry, CVC, test numbers only) and answer its pm_ id.

    `card` has number, exp_month, exp_year (2 or 4 digits) and cvc. Raises CardRefused with Stripe's
    code, param and message. Nothing about the card is kept anywhere.
    """
    now = now or datetime.now(UTC)
    checked = check_card(card, now=now)
    if isinstance(checked, CardRefusal):
        raise CardRefused(checked)
    payload = _PAYLOAD.pack(
        _VERSION,
        BEHAVIOUR_CODES[checked.behaviour].encode(),
        _BRANDS.index(checked.brand),
        checked.last4.encode(),
        checked.exp_month,
        checked.exp_year,
        int(now.timestamp()),
        secrets.token_bytes(4),
    )
    token = "pm_" + base64.b32encode(payload + _mac(payload, secret_key)).decode()
    return TokenizedCard(token, checked.behaviour, checked.brand, checked.last4, checked.exp_month, checked.exp_year)


def read_card_token(
    token: object, *, now: datetime | None = None, secret_key: str | None = None
) -> TokenizedCard | None:
    """The card behind a pm_ id this tokenizer issued, or None: malformed, forged, or past its lifetime."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    raw = base64.b32decode(token[3:])
    payload, mac = raw[: _PAYLOAD.size], raw[_PAYLOAD.size :]
    if len(payload) != _PAYLOAD.size or not hmac.compare_digest(mac, _mac(payload, secret_key)):
        return None
    version, code, brand, last4, month, year, issued, _nonce = _PAYLOAD.unpack(payload)
    behaviour = CODE_BEHAVIOURS.get(code.decode("ascii", "replace"))
    if version != _VERSION or behaviour is None or brand >= len(_BRANDS):
        return None
    age = (now or datetime.now(UTC)) - datetime.fromtimestamp(issued, UTC)
    if not timedelta(minutes=-1) <= age <= TOKEN_LIFETIME:
        return None
    return TokenizedCard(token, behaviour, _BRANDS[brand], last4.decode(), month, year)


def token_of_card_input(card_input: object) -> TokenizedCard:
    """attach_card's input, {"payment_method": "pm_..."}, checked: raw card data (even beside the id),
    any other key, or an id that is not a live token of this tokenizer raise ValueError."""
    if not isinstance(card_input, Mapping):
        raise TypeError('card_input must be {"payment_method": "pm_..."}')
    if RAW_CARD_KEYS & {str(k).lower() for k in card_input}:
        raise ValueError("Raw card data must never reach the gateway: tokenize the card first")
    if set(card_input) != {"payment_method"}:
        raise ValueError('card_input must be exactly {"payment_method": "pm_..."}')
    token = read_card_token(card_input["payment_method"])
    if token is None:
        raise ValueError("No such PaymentMethod: not a live card token of this gateway")
    return token
