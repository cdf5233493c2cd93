"""Page states as Reflex builds them for an event from a live connection (see portal_app/connections.py):
the handshake's cookie stays in this process's memory and the router headers carry only its key."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Iterator

import reflex as rx
from reflex.istate.data import RouterData

from portal_app import connections, db
from portal_app.billing import gateways, portal_links, sessions
from portal_app.billing.facades import portal as portal_facade
from portal_app.billing.gateways.simulated import SimulatedGateway
from portal_app.models import Subscriber
from tests.builders import subscribed_world


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


def run_handler(handler, state: rx.State, *args) -> list:
    """Call a handler as Reflex does (plain, generator, coroutine or async generator); all it emitted."""
    result = handler.fn(state, *args)
    if inspect.isasyncgen(result):

        async def drain():
            return [item async for item in result]

        return asyncio.run(drain())
    if inspect.iscoroutine(result):
        return [asyncio.run(result)]
    if inspect.isgenerator(result):
        return list(result)
    return [result]


def signed_in_portal_state(engine, monkeypatch, cls: type[rx.State], *, language: str = "") -> Iterator[rx.State]:
    """For a fixture (`yield from`): a subscribed world on the simulated gateway, its subscriber signed in
    to the portal, and `cls`'s state as an event of that live connection sees it."""
    monkeypatch.setattr(db, "get_engine", lambda: engine)
    monkeypatch.setattr(portal_facade, "get_engine", lambda: engine)
    gateway = SimulatedGateway()
    gateway.reset()
    monkeypatch.setattr(gateways, "get_gateway", lambda: gateway)
    monkeypatch.setattr(portal_facade, "get_gateway", lambda: gateway)
    world, _ = subscribed_world(engine, gateway)
    with db.session_scope() as session:
        subscriber = session.get(Subscriber, world.subscriber_id)
        if language:
            subscriber.language = language
        link = portal_links.resolve_portal_token(session, portal_links.issue_portal_link(session, subscriber))
        cookie = "portal_session=" + sessions.open_portal_session(session, link)
    with live_state(cls, cookie, path="/portal") as state:
        if language:
            state.lang = language
        yield state
