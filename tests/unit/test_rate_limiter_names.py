"""Every rate limiter counts under its own name: names are the Redis keys' prefix, so two limiters
sharing one would eat each other's budget across workers (the console's merchant sign-up and the
hosted plan signup once did)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import portal_app
from portal_app.ratelimit import RateLimiter

pytestmark = pytest.mark.unit

SKIP = ("portal_app.portal_app",)  # builds the whole Reflex app; its limiters live in the modules below


def _limiters() -> list[tuple[str, RateLimiter]]:
    found = []
    for info in pkgutil.walk_packages(portal_app.__path__, "portal_app."):
        if info.name in SKIP or info.name.endswith(".__main__"):  # a module that runs the CLI
            continue
        module = importlib.import_module(info.name)
        found += [
            (f"{info.name}.{attr}", value) for attr, value in vars(module).items() if isinstance(value, RateLimiter)
        ]
    return found


def test_every_rate_limiter_has_a_name_of_its_own():
    limiters = {id(limiter): (where, limiter.name) for where, limiter in _limiters()}  # re-exports count once
    names = [name for _where, name in limiters.values()]
    assert len(names) >= 10
    duplicates = sorted({name for name in names if names.count(name) > 1})
    assert duplicates == [], [where for where, name in limiters.values() if name in duplicates]
