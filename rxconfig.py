"""Reflex configuration: everything comes from portal_app.settings (env vars / .env)."""

import os

import reflex as rx

# No calls home: these must be set before Reflex reads its environment.
os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")

from portal_app import logconfig, logredact
from portal_app.settings import load_or_exit, warn_once

# Every log line and console print of this process (the CLI and each backend worker import this
# file) is masked: card numbers, CVCs, cookies, portal tokens (portal_app/logredact.py).
logredact.install()
# Every setting is checked now: a bad one stops here with one `Configuration error: ...` line (exit 2).
settings = load_or_exit()
# Time, level, logger and request/event id on every line; LOG_FORMAT=json for log shippers.
logconfig.install(settings.log_level, settings.log_format)
logconfig.leave_reflex_logging_to_the_app()
warn_once(settings)

config = rx.Config(
    app_name="portal_app",
    db_url=settings.database_url,
    redis_url=settings.reflex_redis_url or None,
    telemetry_enabled=False,
    show_built_with_reflex=False,
    cors_allowed_origins=[settings.public_url],
    plugins=[
        rx.plugins.RadixThemesPlugin(
            theme=rx.theme(accent_color="indigo", gray_color="slate", radius="large", appearance="light")
        )
    ],
    disable_plugins=[rx.plugins.SitemapPlugin],
)
