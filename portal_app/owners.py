"""Protected states hold only the data of the identity calling now, checked before every event.

A Reflex client token travels in the websocket URL, so it can leak (proxy logs). Whoever holds it
can connect and send `hydrate_and_load`, which answers with the whole stored state, and page
handlers redirect a stranger without emptying what was loaded before. So each protected subtree
(the portal's PortalSessionState, the console's ConsoleAuthState) records whose data it holds
(`_loaded_for`, ids only, set by the identity check of state.py), and this Reflex middleware, run
before the handler of every event (hydrate included, so before its snapshot), re-checks the live
connection's cookie and resets the whole subtree to its defaults when the caller is someone else.
Handlers still authorize on their own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import reflex as rx
from reflex.middleware import Middleware

from portal_app.state import ConsoleAuthState, PortalSessionState, owner_key


@dataclasses.dataclass(frozen=True)
class ProtectedTree:
    root: type[rx.State]
    owner_of: Callable[[rx.State], str]  # the live caller's key ("" without a live session)


def _portal_owner(state: PortalSessionState) -> str:
    identity = state._portal_identity()
    return owner_key(identity.merchant_id, identity.subscriber_id) if identity else ""


def _console_owner(state: ConsoleAuthState) -> str:
    identity = state._console_identity()
    return owner_key(identity.merchant_id, identity.user_id) if identity else ""


PROTECTED_TREES = (ProtectedTree(PortalSessionState, _portal_owner), ProtectedTree(ConsoleAuthState, _console_owner))


def _tree(cls: type[rx.State]) -> list[type[rx.State]]:
    return [cls, *(c for sub in cls.get_substates() for c in _tree(sub))]


async def guard_tree(state: rx.State, tree: ProtectedTree) -> None:
    """Empty `tree` when it holds the data of someone other than the live caller."""
    top = await state.get_state(tree.root)
    if not top._loaded_for:
        return  # nothing loaded for anyone (the identity check records the first owner)
    if tree.owner_of(top) == top._loaded_for:
        return
    for cls in _tree(tree.root):  # the Redis manager loads a tree partially: load all of it first
        await state.get_state(cls)
    top.reset()  # every var of the tree to its default, `_loaded_for` included


class ProtectedStateGuard(Middleware):
    """Before any event is handled, protected trees loaded for someone else are emptied."""

    async def preprocess(self, app, state, event):
        for tree in PROTECTED_TREES:
            await guard_tree(state, tree)
        return None
