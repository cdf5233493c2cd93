"""`make bundle` (reflex export with our exclusions) ships the app and its migrations, never our bun
(tools/), the development secret and SQLite files (data/), the venv, Reflex's state files, test
screenshots or a .env."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from tests.checkout import clean_copy, makefile_env

pytestmark = pytest.mark.timeout(600)

# What a developer's checkout holds after `make run` / `make test` (never committed).
LOCAL_ONLY = {
    "tools/node_modules/.bin/bun": "bun binary",
    "tools/node_modules/bun/package.json": "{}",
    "data/secret_key": "development-secret-key-" + "s" * 40,
    "data/portal.db": "sqlite",
    "data/portal.db-wal": "sqlite write-ahead log",
    "data/simulated_gateway.db-shm": "shared memory",
    ".states/some-token.pkl": "pickled state",
    "test-artifacts/screenshots/portal.png": "png",
    ".env": "SECRET_KEY=production-secret-" + "p" * 40,
}


@pytest.fixture(scope="module")
def backend_zip(tmp_path_factory):
    copy = clean_copy(tmp_path_factory.mktemp("checkout"))
    for name, text in LOCAL_ONLY.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_text(text)
    out = tmp_path_factory.mktemp("bundle")
    # -o: the copy shares this checkout's installed .venv and fake bun; make must not reinstall them.
    result = subprocess.run(
        [
            "make",
            "-o",
            ".venv/.deps",
            "-o",
            "tools/node_modules/.bin/bun",
            "bundle",
            f"ARGS=--backend-only --zip-dest-dir {out}",
        ],
        cwd=copy,
        env=makefile_env(),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with zipfile.ZipFile(out / "backend.zip") as archive:
        return archive.namelist()


@pytest.mark.parametrize("top", ["tools", "data", ".venv", ".states", "test-artifacts", ".web", ".git"])
def test_local_only_folders_stay_out(backend_zip, top):
    assert not [name for name in backend_zip if name.split("/")[0] == top]


def test_no_secret_file_is_shipped(backend_zip):
    names = {name.rsplit("/", 1)[-1] for name in backend_zip}
    assert not names & {"secret_key", ".env", "portal.db", "portal.db-wal", "simulated_gateway.db-shm"}


def test_the_app_and_its_migrations_are_shipped(backend_zip):
    names = set(backend_zip)
    assert {"rxconfig.py", "requirements.txt", "alembic.ini", "alembic/env.py", "portal_app/portal_app.py"} <= names
    assert any(name.startswith("alembic/versions/") and name.endswith(".py") for name in names)
    assert any(name.startswith("portal_app/i18n/locale/es/") for name in names)
