"""Runs localstripe for the Stripe integration tier, with the localstripe venv's Python (never .venv's):

    tools/localstripe-venv/bin/python tests/integration/localstripe_launcher.py --port N

Why not plain `localstripe --port N`: that binds every interface (`::`), and it pickles its whole
store to the fixed path /tmp/localstripe.pickle on every write, a file any other run on the machine
shares (and that a later start without --from-scratch would unpickle). Here the mock listens on
127.0.0.1 only and keeps its store in memory.

It also accepts two Stripe parameters that localstripe 1.15.10 refuses as "Unexpected" although the
real API takes them and they change no outcome: PaymentIntent `description` and Refund `reason`.
They are stored on the object (and so read back by the tests), nothing else; every answer still
comes from localstripe's own logic.
"""

from __future__ import annotations

import argparse

from aiohttp import web
from localstripe import resources, server


def _accept(cls: type, *names: str) -> None:
    original = cls.__init__

    def __init__(self, *args, **kwargs):
        extra = {name: kwargs.pop(name) for name in names if name in kwargs}
        original(self, *args, **kwargs)
        for name, value in extra.items():
            setattr(self, name, value)

    cls.__init__ = __init__


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    resources.store.dump_to_disk = lambda: None  # memory only (see the module docstring)
    _accept(resources.PaymentIntent, "description")
    _accept(resources.Refund, "reason")
    web.run_app(server.app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
