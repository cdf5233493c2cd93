"""`make run` leaves the work tree clean: Reflex rewrites .gitignore (it merges its own entries in) and
reflex.lock/ (package.json and bun.lock, from the frontend install) on every init and compile, so the
committed files must be exactly what it writes. This migrates and builds the production frontend in a
clean copy of the tracked files, as `make run` does, and asks git what changed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.checkout import ROOT, clean_copy, makefile_env

pytestmark = pytest.mark.timeout(900)

BUN = ROOT / "tools" / "node_modules" / ".bin" / "bun"


@pytest.mark.skipif(not BUN.exists(), reason="bun is not installed in tools/ (make bun)")
def test_migrate_and_build_leave_git_status_empty(tmp_path):
    copy = clean_copy(tmp_path / "checkout")
    env = makefile_env()
    reflex = str(copy / ".venv" / "bin" / "reflex")
    for command in ([reflex, "db", "migrate"], [reflex, "export", "--frontend-only", "--no-zip"]):
        result = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=800)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=copy, capture_output=True, text=True, check=True
    ).stdout
    assert status == "", f"Reflex changed or left unignored files; commit what it writes:\n{status}"
    _serves_the_build(copy, env)


def _serves_the_build(copy, env) -> None:
    """The container's start command (deploy/serve.py) serves that build without rebuilding it: the
    page, the health check and Reflex's event socket (engine.io handshake), on one port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = copy / "serve.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "deploy/serve.py", "--host", "127.0.0.1", "--port", str(port)],
            cwd=copy,
            env={**env, "PUBLIC_URL": f"http://localhost:{port}"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        with urllib.request.urlopen(f"{base}/", timeout=10) as response:
            assert response.status == 200 and b"<html" in response.read().lower()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as ws:
            ws.sendall(
                b"GET /_event/?EIO=4&transport=websocket HTTP/1.1\r\nHost: localhost\r\n"
                b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            assert ws.recv(200).startswith(b"HTTP/1.1 101")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
