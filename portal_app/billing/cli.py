"""`python -m portal_app.billing ...`: billing runs, demo data and demo portal links.

run [--now ISO]   renew due subscriptions, retry failed payments, settle unknown ones. Takes the
                  cluster-wide runner lock: if another run holds it, says so and exits 0. SIGTERM or
                  Ctrl+C stops it after the current batch (a second one is not caught); exits 0.
seed [--now ISO]  create the Acme Fitness demo (does nothing if it exists)
links [--new]     print the demo subscribers' current portal links (the same at every start, so
                  emailed links keep working); --new revokes them and prints new ones
api-key create --merchant SLUG [--name NAME]
                  create an API key for the merchant; its secret is printed once, alone on the
                  last line (only its hash is stored). Exits 2 for an unknown merchant.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from datetime import UTC, datetime

from portal_app import db
from portal_app.billing.api_keys import ApiKeyError, create_api_key_for_slug
from portal_app.billing.cluster_lock import hold_runner_lock
from portal_app.billing.demo import DEMO_PASSWORD, OWNER_EMAIL, demo_portal_links, seed_demo
from portal_app.billing.gateways import get_gateway
from portal_app.billing.runs import run_billing
from portal_app.logredact import unmasked_stdout
from portal_app.models import utcnow
from portal_app.routes import CONSOLE, portal_url
from portal_app.settings import get_settings


def _parse_now(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date/time: {text!r}") from None
    # A bare date or time means UTC: billing instants are always UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class NotMigrated(Exception):
    """The database is not at the newest migration: only `reflex db migrate` creates or changes tables."""


def _engine():
    engine = db.get_engine()
    if not db.schema_is_current(engine):
        raise NotMigrated
    return engine


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event):
    """SIGTERM/SIGINT set `stop` once (the run ends after its current batch); the previous handlers
    come back at once, so a second signal acts as it normally would."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def handler(signum, _frame):
        for sig, old in previous.items():
            signal.signal(sig, old)
        print(f"{signal.Signals(signum).name}: stopping after the current batch.", file=sys.stderr, flush=True)
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def cmd_run(args: argparse.Namespace) -> int:
    engine = _engine()
    with hold_runner_lock(engine) as lock:
        if lock is None:
            print(f"Billing run at {args.now.isoformat()}: skipped, another billing run holds the runner lock.")
            return 0
        return _run_holding_lock(args, engine, lock)


def _run_holding_lock(args: argparse.Namespace, engine, lock) -> int:
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            bar = bars[phase] = tqdm(total=total, desc=phase, unit="row", file=sys.stderr, leave=True)
        bar.total = max(bar.total or 0, total)
        bar.update(done - bar.n)

    stop = threading.Event()
    try:
        with _stop_on_signals(stop):
            summary = run_billing(
                engine,
                now=args.now,
                gateway=get_gateway(),
                progress=progress,
                should_stop=lambda: stop.is_set() or lock.lost.is_set(),
            )
    finally:
        for bar in bars.values():
            bar.close()
    print(f"Billing run at {args.now.isoformat()}: {summary.as_text()}")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:

    created = seed_demo(_engine(), now=args.now)
    print("Demo data created (Acme Fitness)." if created else "Demo data already present; nothing changed.")
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    """What `make run` prints: where to sign in, and each demo subscriber's current portal link
    (new ones, the old ones revoked, with --new: `make run NEW_DEMO_LINKS=1`)."""

    links = demo_portal_links(_engine(), renew=args.new)
    if not links:
        print("No demo data: run `python -m portal_app.billing seed` first.")
        return 1
    base = get_settings().public_url.rstrip("/")
    # The links are what the operator asked for: printed past the log mask (portal_app/logredact.py),
    # which would otherwise turn every token into "[redacted]".
    out = unmasked_stdout()
    print(f"Console: {base}{CONSOLE}  login: {OWNER_EMAIL} / {DEMO_PASSWORD}", file=out)
    for link in links:
        print(f"Portal: {portal_url(link.token)}  ({link.name}, {link.plan}, {link.status})", file=out)
    out.flush()
    return 0


def cmd_api_key_create(args: argparse.Namespace) -> int:
    """A new API key: what was created, then the secret alone on the last line (past the log mask)."""
    engine = _engine()
    try:
        with db.session_scope(engine) as session:
            view, secret = create_api_key_for_slug(session, slug=args.merchant, name=args.name or "")
    except ApiKeyError as err:
        print(f"api-key create: {err.message}", file=sys.stderr)
        return 2
    label = f" {view.name!r}" if view.name else ""
    print(f"API key{label} created for {args.merchant} ({view.prefix}…). Store it now: it is not shown again.")
    sys.stdout.flush()
    # The secret is what the operator asked for: printed past the mask (portal_app/logredact.py masks
    # spk_ keys), on its own line, and nowhere else.
    out = unmasked_stdout()
    print(secret, file=out)
    out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m portal_app.billing", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run billing (renewals, retries, settlement)")
    run.add_argument("--now", type=_parse_now, default=None, help="the run's instant (ISO 8601, default: now)")
    run.set_defaults(func=cmd_run)
    seed = commands.add_parser("seed", help="create the demo data")
    seed.add_argument("--now", type=_parse_now, default=None, help="the demo's 'today' (default: now)")
    seed.set_defaults(func=cmd_seed)
    links = commands.add_parser("links", help="print the demo portal links")
    links.add_argument("--new", action="store_true", help="revoke the demo links and issue new ones")
    links.set_defaults(func=cmd_links)
    api_key = commands.add_parser("api-key", help="manage merchant API keys")
    api_key_commands = api_key.add_subparsers(dest="api_key_command", required=True)
    api_key_create = api_key_commands.add_parser("create", help="create an API key (its secret is printed once)")
    api_key_create.add_argument("--merchant", required=True, metavar="SLUG", help="the merchant's slug, e.g. acme")
    api_key_create.add_argument("--name", default="", help="a name to tell the key apart (optional)")
    api_key_create.set_defaults(func=cmd_api_key_create)
    args = parser.parse_args(argv)
    if hasattr(args, "now") and args.now is None:
        args.now = utcnow()
    try:
        return args.func(args)
    except NotMigrated:
        print("The database is not migrated: run `reflex db migrate` first.", file=sys.stderr)
        return 2
