"""One settings class for the whole product (env vars and `.env`), read once per process."""

from __future__ import annotations

import functools
import ipaddress
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
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

    # Reverse proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-For is believed
    # (portal_app/forwarded.py); empty: the socket's peer is the client.
    trusted_proxies: str = ""

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
        parse_trusted_proxies(self.trusted_proxies)
        return self

    @property
    def dunning_days(self) -> list[int]:
        return parse_dunning_schedule(self.dunning_schedule_days)

    @property
    def trusted_proxy_networks(self) -> TrustedNetworks:
        return parse_trusted_proxies(self.trusted_proxies)


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


TrustedNetworks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_trusted_proxies(text: str) -> TrustedNetworks:
    """'127.0.0.1, 10.0.0.0/8, ::1' -> networks (a bare address is a one-address network)."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


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
