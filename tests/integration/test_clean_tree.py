"""`make run` leaves the work tree clean: Reflex rewrites .gitignore (it merges its own entries in) and
reflex.lock/ (package.json and bun.lock, from the frontend install) on every init and compile, so the
committed files must be exactly what it writes. This migrates and builds the production frontend in a
clean copy of the tracked files, as `make run` does, and asks git what changed."""

from __future__ import annotations

import subprocess

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
