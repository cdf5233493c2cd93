"""Benchmark: the portal's event round trip under load. N concurrent portal sessions (raw Socket.IO
clients, each with its own portal session cookie, as N browser tabs) each send a real event,
PortalState.load (what every portal page load runs), R times in a row; a round trip is send -> the
server's update for that event (the handler's delta, sent when it returns). The floor, measured in the same run at the same concurrency
right after: GET /api/health from N threads, R times each. Disk state manager (SQLite, one worker),
then the Redis state manager (PostgreSQL, --workers backend workers) when both are reachable.

Ends with `RATIO portal_event_p50_vs_floor_<mode> <x> target 5`, `RATIO portal_event_p50_ms_<mode>
<ms> target 50` and `RATIO portal_event_p95_ms_<mode> <ms> target 200`. Never asserts.

    .venv/bin/python bench/portal_events.py [--sessions 50] [--rounds 5] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_server import running_server  # noqa: E402

from portal_app import db, routes  # noqa: E402
from portal_app.billing import demo, portal_links, sessions  # noqa: E402
from portal_app.pages.portal.overview import PortalState  # noqa: E402
from tests.e2e.socket_client import ReflexSocket, event_name  # noqa: E402

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"


def _reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
        return True
    except OSError:
        return False


def _cookies(engine, count: int) -> list[str]:
    """`count` portal session cookies, spread over the demo subscribers (each a tab of its own)."""
    tokens = [link.token for link in demo.demo_portal_links(engine)]
    cookies = []
    with db.session_scope(engine) as session:
        for i in range(count):
            resolved = portal_links.resolve_portal_token(session, tokens[i % len(tokens)])
            cookies.append(f"{routes.PORTAL_SESSION_COOKIE}={sessions.open_portal_session(session, resolved)}")
    return cookies


def _answered_after(sock: ReflexSocket, start: int, timeout: float = 60) -> bool:
    """Whether the server sent this tab an update after index `start`: Reflex sends a handler's delta
    when the handler returns (an update carries no "done" flag since 0.9)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sock.received) > start:
            return True
        time.sleep(0.002)
    return False


def _event_round_trips(base: str, cookies: list[str], rounds: int) -> tuple[list[float], int]:
    """Seconds per round trip over every session and round, and how many never got an answer."""
    name = event_name(PortalState, "load")
    times, lost = [], [0]
    lock = threading.Lock()
    start_gate = threading.Barrier(len(cookies))

    def one(cookie: str) -> None:
        with ReflexSocket(base, cookie=cookie) as sock:
            sock.call(name, path=routes.PORTAL)  # warm: this tab's state exists before timing starts
            sock.wait_quiet(1.0, after=len(sock.received))  # and what that load chained has been answered
            start_gate.wait()
            for _ in range(rounds):
                start = len(sock.received)
                began = time.perf_counter()
                sock.send(name, path=routes.PORTAL)
                answered = _answered_after(sock, start)
                with lock:
                    if answered:
                        times.append(time.perf_counter() - began)
                    else:
                        lost[0] += 1

    threads = [threading.Thread(target=one, args=(c,)) for c in cookies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, lost[0]


def _health_round_trips(base: str, clients: int, rounds: int) -> list[float]:
    times = []
    lock = threading.Lock()
    gate = threading.Barrier(clients)

    def one() -> None:
        gate.wait()
        for _ in range(rounds):
            began = time.perf_counter()
            with urllib.request.urlopen(f"{base}/api/health", timeout=30) as resp:
                resp.read()
            with lock:
                times.append(time.perf_counter() - began)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(round(q * len(ordered))) - 1)]


def measure(mode: str, args) -> None:
    kind = "disk" if mode == "disk" else "redis"
    workers = 1 if kind == "disk" else args.workers
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_server(Path(tmp), kind=kind, database_server=PG_SERVER, redis_url=REDIS_URL, workers=workers) as (
            engine,
            base,
        ),
    ):
        cookies = _cookies(engine, args.sessions)
        events, lost = _event_round_trips(base, cookies, args.rounds)
        floor = _health_round_trips(base, args.sessions, args.rounds)
    if not events:
        print(f"{mode}: no event was answered ({lost} lost)")
        return
    p50, p95, floor_p50 = statistics.median(events), _p(events, 0.95), statistics.median(floor)
    print(
        f"{mode} ({workers} worker{'s' if workers > 1 else ''}), {args.sessions} sessions x {args.rounds}: "
        f"event p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, {lost} unanswered; "
        f"floor GET /api/health p50 {floor_p50 * 1000:.1f} ms, p95 {_p(floor, 0.95) * 1000:.1f} ms"
    )
    print(f"RATIO portal_event_p50_vs_floor_{mode} {p50 / floor_p50:.1f} target 5")
    print(f"RATIO portal_event_p50_ms_{mode} {p50 * 1000:.0f} target 50")
    print(f"RATIO portal_event_p95_ms_{mode} {p95 * 1000:.0f} target 200")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="backend workers in Redis mode")
    args = parser.parse_args()
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    measure("disk", args)
    if _reachable(5432) and _reachable(6379):
        measure("redis", args)
    else:
        print("redis: skipped (PostgreSQL on 5432 and Redis on 6379 are both needed)")


if __name__ == "__main__":
    main()
