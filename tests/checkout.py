"""A throwaway copy of this checkout (its tracked and unignored files, as they are on disk), committed
into a git repository of its own, for tests that run Reflex's build or export the way a deployer or a
fresh clone would, without touching the developer's tree."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false"]


def tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return sorted({name for name in out.split("\0") if name and (ROOT / name).is_file()})


def clean_copy(dest: Path) -> Path:
    """`dest` holding this checkout's files as one commit, with .venv linked to this checkout's."""
    for name in tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    (dest / ".venv").symlink_to((ROOT / ".venv").resolve())
    subprocess.run([*GIT, "init", "-q"], cwd=dest, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "copy"], cwd=dest, check=True)
    return dest


def makefile_env() -> dict[str, str]:
    """The environment `make run` gives Reflex in a fresh checkout: the defaults of settings.py (SQLite
    and the development secret under data/), no calls home, our bun first on PATH."""
    env = {**os.environ}
    env.update(
        REFLEX_TELEMETRY_ENABLED="false",
        REFLEX_CHECK_LATEST_VERSION="false",
        PATH=f"{ROOT / 'tools/node_modules/.bin'}:{os.environ['PATH']}",
    )
    settings = ("DATABASE_URL", "SECRET_KEY", "ENVIRONMENT", "SIMULATED_GATEWAY_PATH", "REFLEX_REDIS_URL")
    for name in (*settings, "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    return env
