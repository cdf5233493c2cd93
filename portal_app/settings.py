"""One settings class for the whole product (env vars and `.env`), read and checked once per process.

Every check runs when the settings are first read (rxconfig.py, the billing CLI): a bad setting stops
start-up with one line naming what to set (`load_or_exit`), never a traceback, never a value.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from portal_app.config_rules import (
    ConfigProblem,
    check_production,
    check_public_url,
    check_stripe_api_base,
    check_stripe_gateway,
)

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
    # Hosted signups (the form sent) per client address in 10 minutes: a person tries a few cards,
    # a card-testing script runs into it. Raise it for a kiosk or event desk behind one address.
    signup_ip_limit: int = Field(default=10, ge=1, le=100_000)
    # Cards the simulated gateway's tokenizer takes from one client address in 5 minutes: a customer
    # retyping a card stays far below; card testing from one address does not.
    card_token_ip_limit: int = Field(default=60, ge=1, le=100_000)

    @field_validator("stripe_api_base")
    @classmethod
    def _check_stripe_api_base(cls, value: str) -> str:
        return check_stripe_api_base(value)

    # Production with the simulated gateway: only a public demo that says so.
    demo_mode: bool = False
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"

    @field_validator("*", mode="before")
    @classmethod
    def _trim(cls, value: Any) -> Any:
        """Whitespace and newlines pasted around a value (keys copied from a dashboard) are dropped."""
        return value.strip() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_any_case(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _format_any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("dunning_schedule_days")
    @classmethod
    def _dunning_schedule(cls, value: str) -> str:
        try:
            parse_dunning_schedule(value)
        except ValueError:
            raise ConfigProblem("DUNNING_SCHEDULE_DAYS must be increasing whole days, e.g. 1,3,5,7") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        try:
            sa.engine.make_url(value)
        except Exception:  # noqa: BLE001 - the message must not echo a URL that may hold a password
            raise ConfigProblem(
                "DATABASE_URL must be an SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db"
            ) from None
        return value

    # Reverse proxies (IPs or CIDR networks, comma-separated) whose X-Forwarded-For is believed
    # (portal_app/forwarded.py); empty: the socket's peer is the client.
    trusted_proxies: str = ""

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key.lower() in _PLACEHOLDER_SECRETS:
            if self.environment == "production":
                raise ConfigProblem(
                    "SECRET_KEY must be set to a long random value in production, e.g. the output of "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
                )
            self.secret_key = _development_secret_key()
        if len(self.secret_key) < 32:
            raise ConfigProblem("SECRET_KEY must be at least 32 characters")
        check_public_url(self.public_url, environment=self.environment)
        check_stripe_gateway(
            gateway=self.gateway,
            secret=self.stripe_secret_key,
            publishable=self.stripe_publishable_key,
            webhook_secret=self.stripe_webhook_secret,
            environment=self.environment,
            public_url=self.public_url,
            api_base=self.stripe_api_base,
        )
        check_production(environment=self.environment, gateway=self.gateway, demo_mode=self.demo_mode)
        parse_trusted_proxies(self.trusted_proxies)
        return self

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

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
            raise ConfigProblem(f"TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network") from None
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


class ConfigError(Exception):
    """The deployment's settings cannot start the product; str() is one line saying what to set."""


def describe(error: ValidationError) -> str:
    """One line for the first problem, naming its environment variable; input values are never shown
    (pydantic's own message would echo them: a secret key, a Stripe key)."""
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    message = first["msg"].removeprefix("Value error, ").replace("\n", " ")
    fields = [str(part) for part in first["loc"] if isinstance(part, str)]
    if fields:
        field = Settings.model_fields.get(fields[0])
        alias = field.validation_alias if field is not None and isinstance(field.validation_alias, str) else None
        name = alias or fields[0].upper()
        if name not in message:
            message = f"{name}: {message}"
    return message


def load_settings() -> Settings:
    """The settings, checked; ConfigError (one clean line, no value in it) when they cannot start."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(describe(error)) from None
    except ValueError as error:  # pydantic-settings' own parse errors (e.g. a .env it cannot read)
        raise ConfigError(str(error).splitlines()[0]) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()


def load_or_exit() -> Settings:
    """At process start (rxconfig.py, the billing CLI): the settings, or `Configuration error: ...` on
    stderr and exit status 2."""
    try:
        return get_settings()
    except ConfigError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.stderr.flush()
        raise SystemExit(2) from None


_WARNED_ENV = "PORTAL_STARTUP_WARNED"  # inherited by the server's workers: they stay quiet


def warn_once(settings: Settings) -> None:
    """Start-up warnings, logged by the first process of a process tree only (not by every worker)."""
    if os.environ.get(_WARNED_ENV):
        return
    os.environ[_WARNED_ENV] = "1"
    if settings.environment == "production" and settings.uses_sqlite:
        logging.getLogger(__name__).warning(
            "DATABASE_URL is SQLite in production: one server only, no concurrent billing runners; "
            "use PostgreSQL for a real deployment"
        )
