"""Console settings: the seller's business details (legal name, address, tax id: printed on invoices),
the website the portal's "Return to <merchant>" link opens, and the brand colour (billing/brand.py)."""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

from portal_app import db
from portal_app.billing.brand import effective_color, parse_color, validated_brand_color
from portal_app.billing.errors import BillingError, NotFound
from portal_app.billing.facades.console.forms import ConsoleError, form_dict, text_field
from portal_app.billing.facades.console.settings import update_merchant_fields
from portal_app.models import Merchant

MAX_WEBSITE_LENGTH = 300
MAX_ADDRESS_LENGTH = 500
_HOST = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
_ADDRESS_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class BusinessDetails:
    legal_name: str
    address: str
    tax_id: str
    website_url: str
    brand_color: str  # "" = the house default
    shown_color: str  # what the portal uses (brand.effective_color)


def business_details(*, merchant_id: int) -> BusinessDetails:
    with db.session_scope() as session:
        m = session.get(Merchant, merchant_id)
        if m is None:
            raise NotFound("Merchant not found")
        return BusinessDetails(
            m.legal_name, m.address, m.tax_id, m.website_url, m.brand_color, effective_color(m.brand_color)
        )


def website_url(text: str) -> str:
    """ "" or an https:// address of at most 300 characters with a real host name (no user or password
    in it, no spaces): what the portal's "Return to <merchant>" link opens."""
    if not text:
        return ""
    refused = ConsoleError(
        f"Website: an address starting with https://, such as https://example.com (at most {MAX_WEBSITE_LENGTH} "
        "characters).",
        field="website_url",
    )
    if len(text) > MAX_WEBSITE_LENGTH or any(ch.isspace() for ch in text):
        raise refused
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise refused from None
    if parts.scheme != "https" or "@" in parts.netloc or not parts.hostname or not _HOST.fullmatch(parts.hostname):
        raise refused
    del port  # parsed only to refuse a bad one
    return text


def readable_color(text: Any) -> str:
    """A typed colour as "#RRGGBB" when it is one (to show the refused swatch), else ""."""
    if not isinstance(text, str) or len(text) > 7:
        return ""
    try:
        return parse_color(text)
    except BillingError:
        return ""


def _address(form: dict) -> str:
    value = form.get("address", "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ConsoleError("Address: please enter text.", field="address")
    lines = [" ".join(line.split()) for line in value.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    value = "\n".join(line for line in lines if line)
    if len(value) > MAX_ADDRESS_LENGTH:
        raise ConsoleError(f"Address must be at most {MAX_ADDRESS_LENGTH} characters.", field="address")
    if _ADDRESS_CONTROL.search(value):
        raise ConsoleError("Address contains control characters.", field="address")
    return value


def save_business_details(*, merchant_id: int, user_id: int, form: Any) -> BusinessDetails:
    """Legal name, address, tax id, website URL and brand colour; each refusal names its field."""
    form = form_dict(form)
    legal_name = text_field(form, "legal_name", label="Legal name", max_length=120, required=False)
    address = _address(form)
    tax_id = text_field(form, "tax_id", label="Tax ID", max_length=40, required=False)
    site = website_url(text_field(form, "website_url", label="Website", max_length=MAX_WEBSITE_LENGTH, required=False))
    color_text = text_field(form, "brand_color", label="Brand colour", max_length=7, required=False)
    try:
        color = validated_brand_color(color_text)
    except BillingError as err:
        raise ConsoleError(err.message, field="brand_color") from None
    update_merchant_fields(
        merchant_id=merchant_id,
        user_id=user_id,
        values={
            "legal_name": legal_name,
            "address": address,
            "tax_id": tax_id,
            "website_url": site,
            "brand_color": color,
        },
    )
    return business_details(merchant_id=merchant_id)
