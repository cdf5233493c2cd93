"""When the database cannot be reached (server down, every pooled connection taken, a dropped
connection), callers get one calm, typed failure and the log gets one line: what failed and the
driver's own first line, never the SQL or its parameters (which may hold tokens or hashes)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import sqlalchemy.exc as sa_exc

from portal_app.billing.errors import BillingError

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

# Pool exhausted (TimeoutError), server unreachable or gone mid-query (OperationalError,
# InterfaceError, DisconnectionError): nothing we did wrong, and trying again later may work.
OUTAGES: tuple[type[Exception], ...] = (
    sa_exc.TimeoutError,
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
)


class ServiceUnavailable(BillingError):
    """The database is unreachable or out of connections: nothing was changed, try again shortly."""

    code = "service_unavailable"


def is_database_outage(exc: BaseException) -> bool:
    return isinstance(exc, OUTAGES)


def outage_summary(exc: BaseException) -> str:
    """'OperationalError: FATAL: sorry, too many clients already' (the driver's first line only)."""
    cause = getattr(exc, "orig", None) or exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first_line[:200]}"


def log_outage(exc: BaseException, where: str) -> None:
    log.error("database unavailable in %s: %s", where, outage_summary(exc))


def calm_on_database_outage(fn: Callable[P, R]) -> Callable[P, R]:
    """A facade call that raises ServiceUnavailable (logged once) instead of a raw database error."""

    @functools.wraps(fn)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except OUTAGES as exc:
            log_outage(exc, fn.__qualname__)
            raise ServiceUnavailable("We can't reach our records right now. Please try again in a minute.") from None

    return call
