"""One settings class for the whole product (env vars and `.env`), read once per process."""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
_SECRET_KEY_FILE = DATA_DIR / "secret_key"
_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev"}


class Settings(BaseSettings):
    """Deployment settings. Defaults run the embedded demo: SQLite, simulated gateway, outbox email."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = f"sqlite:///{DATA_DIR / 'portal.db'}"
    secret_key: str = ""
    public_url: str = "http://localhost:3000"

    gateway: Literal["simulated", "stripe"] = "simulated"
    stripe_secret_key: str = ""
    stripe_publishable_key: str = ""
    stripe_webhook_secret: str = ""
    # Where the server sends Stripe API calls ("" = Stripe itself); a local mock in tests (localstripe).
    stripe_api_base: str = ""
    # Where the simulated gateway keeps its charges (by idempotency key): a file of its own, never the
    # application database, so restarts and database restores behave as with a real processor.
    simulated_gateway_path: str = str(DATA_DIR / "simulated_gateway.db")

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = True
    email_from: str = "billing@localhost"

    reflex_redis_url: str = Field(default="", validation_alias="REFLEX_REDIS_URL")

    # Dunning default for new merchants: days after the first failure.
    dunning_schedule_days: str = "1,3,5,7"
    # Seconds between in-app billing runs; 0 switches the in-app runner off.
    billing_tick_seconds: int = 300

    @field_validator("stripe_api_base")
    @classmethod
    def _check_stripe_api_base(cls, value: str) -> str:
        return check_stripe_api_base(value)

    @model_validator(mode="after")
    def _check_secrets(self) -> Settings:
        if self.secret_key.strip().lower() in _PLACEHOLDER_SECRETS:
            if self.environment == "production":
                raise ValueError("SECRET_KEY must be set to a long random value in production")
            self.secret_key = _development_secret_key()
        if len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters")
        if self.gateway == "simulated" and self.stripe_secret_key.startswith(("sk_live_", "rk_live_")):
            raise ValueError(
                "A live Stripe key is configured beside the simulated gateway; "
                "set GATEWAY=stripe or remove the live key"
            )
        return self

    @property
    def dunning_days(self) -> list[int]:
        return parse_dunning_schedule(self.dunning_schedule_days)


def parse_dunning_schedule(text: str) -> list[int]:
    """'1,3,5,7' -> [1, 3, 5, 7]; strictly increasing positive day offsets."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    # ASCII digits only: int() would also read "١" or "3_0".
    if not all(part.isascii() and part.isdigit() and len(part) <= 4 for part in parts):
        raise ValueError(f"dunning schedule must be whole days, got {text!r}")
    days = [int(part) for part in parts]
    if not days or any(d <= 0 for d in days) or days != sorted(set(days)):
        raise ValueError(f"dunning schedule must be increasing positive days, got {text!r}")
    return days


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_stripe_api_base(value: str) -> str:
    """STRIPE_API_BASE normalised ("" = Stripe's own address), or ValueError.

    An https URL, or http on loopback only: every request carries the secret key, which plain http
    would send in clear. No credentials, query or fragment (the SDK appends /v1/... to it).
    """
    value = (value or "").strip()
    if not value:
        return ""
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        raise ValueError("STRIPE_API_BASE must be a URL such as https://api.stripe.com") from None
    if url.scheme not in ("https", "http") or not url.hostname or url.username or url.password:
        raise ValueError("STRIPE_API_BASE must be an http(s) URL with a host and no credentials")
    if url.query or url.fragment:
        raise ValueError("STRIPE_API_BASE must not have a query or a fragment")
    if url.scheme == "http" and url.hostname not in _LOOPBACK_HOSTS:
        raise ValueError(
            "STRIPE_API_BASE may use plain http only on localhost (it would carry the secret key in clear)"
        )
    return value.rstrip("/")


def _development_secret_key() -> str:
    """A random key generated once and kept in data/secret_key, so links survive restarts."""
    if _SECRET_KEY_FILE.exists():
        return _SECRET_KEY_FILE.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    _SECRET_KEY_FILE.write_text(key)
    _SECRET_KEY_FILE.chmod(0o600)
    return key


@functools.cache
def get_settings() -> Settings:
    return Settings()
