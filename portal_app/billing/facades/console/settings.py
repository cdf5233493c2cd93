"""Console settings: company settings and dunning, the logo (checked by magic bytes), and the team."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import re
from datetime import datetime
from typing import Any

from PIL import Image
from sqlmodel import select

from portal_app import db
from portal_app.billing.accounts import AccountError, add_user
from portal_app.billing.audit import audit
from portal_app.billing.dunning import END_STATES
from portal_app.billing.errors import NotFound
from portal_app.billing.facades.console.forms import (
    LANGUAGES,
    ConsoleError,
    actor_for,
    choice_field,
    email_field,
    form_dict,
    text_field,
)
from portal_app.billing.gateways import get_gateway
from portal_app.billing.statuses import SubscriptionStatus
from portal_app.models import (
    Merchant,
    MerchantUser,
)
from portal_app.settings import parse_dunning_schedule

S = SubscriptionStatus

PREFIX_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{0,11}$")
MAX_LOGO_BYTES = 512 * 1024
LOGO_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


@dataclasses.dataclass(frozen=True)
class ConsoleHeader:
    """What every console page shows in its header."""

    merchant_name: str
    test_mode: bool  # the configured gateway moves no real money


def console_header(*, merchant_id: int) -> ConsoleHeader:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        return ConsoleHeader(merchant.name if merchant else "", get_gateway().test_mode)


@dataclasses.dataclass(frozen=True)
class MerchantSettings:
    name: str
    slug: str
    invoice_prefix: str
    support_email: str
    default_language: str
    dunning_schedule_days: str
    dunning_end_state: str
    has_logo: bool
    logo_version: str


def merchant_settings(*, merchant_id: int) -> MerchantSettings:

    with db.session_scope() as session:
        m = session.get(Merchant, merchant_id)
        if m is None:
            raise NotFound("Merchant not found")
        return MerchantSettings(
            m.name,
            m.slug,
            m.invoice_prefix,
            m.support_email,
            m.default_language,
            m.dunning_schedule_days,
            m.dunning_end_state,
            bool(m.logo_png),
            hashlib.sha256(m.logo_png).hexdigest()[:12] if m.logo_png else "",
        )


MAX_DUNNING_DAY = 60
MAX_DUNNING_STEPS = 10


def save_merchant_settings(*, merchant_id: int, user_id: int, form: Any) -> None:
    """Company name, invoice prefix, support email, default language, dunning schedule and end state."""
    form = form_dict(form)
    name = text_field(form, "name", label="Company name", max_length=120)
    prefix = text_field(form, "invoice_prefix", label="Invoice prefix", max_length=12).upper()
    if not PREFIX_RE.fullmatch(prefix):
        raise ConsoleError("Invoice prefix: letters, digits and dashes only (up to 12).", field="invoice_prefix")
    support = text_field(form, "support_email", label="Support email", max_length=254, required=False)
    support = email_field(support, "support_email") if support else ""
    language = choice_field(form, "default_language", LANGUAGES, message="Choose English or Spanish.")
    schedule_text = text_field(form, "dunning_schedule_days", label="Retry schedule", max_length=60)
    try:
        days = parse_dunning_schedule(schedule_text)
    except ValueError:
        raise ConsoleError(
            "Retry schedule: increasing whole days after the failure, e.g. 1, 3, 5, 7.", field="dunning_schedule_days"
        ) from None
    if len(days) > MAX_DUNNING_STEPS or days[-1] > MAX_DUNNING_DAY:
        raise ConsoleError(
            f"Retry schedule: at most {MAX_DUNNING_STEPS} retries within {MAX_DUNNING_DAY} days.",
            field="dunning_schedule_days",
        )
    end_state = choice_field(
        form,
        "dunning_end_state",
        END_STATES,
        message="After the last retry the subscription becomes unpaid or canceled.",
    )
    update_merchant_fields(
        merchant_id=merchant_id,
        user_id=user_id,
        values={
            "name": name,
            "invoice_prefix": prefix,
            "support_email": support,
            "default_language": language,
            "dunning_schedule_days": ",".join(str(d) for d in days),
            "dunning_end_state": end_state,
        },
    )


def update_merchant_fields(*, merchant_id: int, user_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Store already validated merchant settings; the fields that changed are audited
    ("settings_updated", with their new values) and returned."""
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        changed = {k: v for k, v in values.items() if getattr(merchant, k) != v}
        for key, value in changed.items():
            setattr(merchant, key, value)
        session.add(merchant)
        if changed:
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=None,
                actor=actor_for(user_id),
                kind="settings_updated",
                detail=changed,
            )
    return changed


def logo_content_type(data: bytes) -> str | None:
    """'image/png' or 'image/jpeg' by magic bytes (never by the file name or the browser's word)."""
    for magic, content_type in LOGO_TYPES.items():
        if data.startswith(magic):
            return content_type
    return None


LOGO_ERRORS = {
    "logo_missing": "Choose a PNG or JPEG file.",
    "logo_too_large": f"The logo must be at most {MAX_LOGO_BYTES // 1024} KB.",
    "logo_type": "The logo must be a PNG or JPEG image.",
    "logo_pixels": "The logo must be at most 4000 × 4000 pixels.",
    "logo_unreadable": "This file is not a readable PNG or JPEG image.",
}


def _logo_refused(code: str) -> ConsoleError:
    return ConsoleError(LOGO_ERRORS[code], code=code, field="logo")


def logo_error_message(code: object) -> str:
    """The sentence for a logo refusal code (the upload route reports codes), or ""."""
    return LOGO_ERRORS.get(code, "") if isinstance(code, str) else ""


def save_logo(*, merchant_id: int, user_id: int, data: Any) -> None:
    """Store a PNG or JPEG logo (checked by magic bytes and decoded once, at most MAX_LOGO_BYTES).
    Refusals are ConsoleErrors whose code is a key of LOGO_ERRORS."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise _logo_refused("logo_missing")
    if len(data) > MAX_LOGO_BYTES:
        raise _logo_refused("logo_too_large")
    content_type = logo_content_type(bytes(data))
    if content_type is None:
        raise _logo_refused("logo_type")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise ValueError(image.format)
            if image.width > 4000 or image.height > 4000:
                raise _logo_refused("logo_pixels")
            image.verify()
    except ConsoleError:
        raise
    except Exception:  # noqa: BLE001 - any decoding failure means "not an image we can use"
        raise _logo_refused("logo_unreadable") from None
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        merchant.logo_png = bytes(data)
        merchant.logo_content_type = content_type
        session.add(merchant)
        audit(
            session,
            merchant_id=merchant_id,
            subscriber_id=None,
            actor=actor_for(user_id),
            kind="logo_updated",
            detail={"bytes": len(data), "type": content_type},
        )


def remove_logo(*, merchant_id: int, user_id: int) -> None:
    with db.session_scope() as session:
        merchant = session.get(Merchant, merchant_id)
        if merchant is None:
            raise NotFound("Merchant not found")
        merchant.logo_png = None
        merchant.logo_content_type = ""
        session.add(merchant)
        audit(session, merchant_id=merchant_id, subscriber_id=None, actor=actor_for(user_id), kind="logo_removed")


@dataclasses.dataclass(frozen=True)
class TeamMember:
    user_id: int
    email: str
    name: str
    created_at: datetime


def list_team(*, merchant_id: int) -> list[TeamMember]:
    with db.session_scope() as session:
        return [
            TeamMember(u.id, u.email, u.name, u.created_at)
            for u in session.exec(
                select(MerchantUser).where(MerchantUser.merchant_id == merchant_id).order_by(MerchantUser.id)
            )
        ]


def add_team_member(*, merchant_id: int, user_id: int, form: Any) -> str:
    """Another console user for this merchant (email + password); returns the email."""

    form = form_dict(form)
    name = text_field(form, "name", label="Name", max_length=120, required=False)
    email = form.get("email", "")
    password = form.get("password", "")
    if not isinstance(email, str) or not isinstance(password, str):
        raise ConsoleError("Enter an email and a password.")
    if len(password) > 256:
        raise ConsoleError("Use a password of 12 to 256 characters.", field="password")
    try:
        with db.session_scope() as session:
            user = add_user(session, merchant_id=merchant_id, email=email[:300], password=password, name=name)
            audit(
                session,
                merchant_id=merchant_id,
                subscriber_id=None,
                actor=actor_for(user_id),
                kind="user_added",
                detail={"user_id": user.id, "email": user.email},
            )
            return user.email
    except AccountError as err:
        raise ConsoleError(str(err)) from None
