"""Page states as Reflex builds them for an event from a live connection (see portal_app/connections.py):
the handshake's cookie stays in this process's memory and the router headers carry only its key."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import reflex as rx
from reflex.istate.data import RouterData

from portal_app import connections


def router_for(connection_key: str, *, path: str, params: dict | None = None) -> RouterData:
    return RouterData.from_router_data(
        {"headers": {connections.CONNECTION_HEADER: connection_key}, "pathname": path, "query": params or {}}
    )


@contextlib.contextmanager
def live_state(cls: type[rx.State], cookie: str, *, path: str, params: dict | None = None) -> Iterator[rx.State]:
    """`cls`'s instance in a fresh state tree, reached by a live connection whose handshake sent `cookie`."""
    with connections.live_connection(cookie) as key:
        root = rx.State(_reflex_internal_init=True)
        root.router = router_for(key, path=path, params=params)
        yield root.get_substate(cls.get_full_name().split(".")[1:])
