"""Serve the production build on one port without rebuilding it (the container's start command).

`reflex run --env prod` compiles the pages and runs the frontend build (bun, minutes) on every start,
then serves backend and frontend on one port. The image does the build once (`reflex export
--frontend-only --no-zip` leaves it in .web/build/client); this is the second half of `reflex run
--env prod`, exactly as Reflex 0.10.1 does it (reflex/reflex.py `_run_prod`): the same port for both,
no compile in the workers, disk states reset, then `run_backend_prod` with the compiled frontend
mounted (Granian; worker count from GRANIAN_WORKERS, else 1 without Redis and 2 x CPUs + 1, at most
8, with REFLEX_REDIS_URL).

    python deploy/serve.py [--host 0.0.0.0] [--port 8000]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()

    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("REFLEX_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("REFLEX_CHECK_LATEST_VERSION", "false")

    from reflex.istate.manager import reset_disk_state_manager
    from reflex.utils import exec as reflex_exec
    from reflex.utils import prerequisites
    from reflex_base import constants
    from reflex_base.config import get_config
    from reflex_base.environment import environment

    index = prerequisites.get_web_dir() / constants.Dirs.STATIC / "index.html"
    if not index.exists():
        sys.exit(f"No frontend build at {index.parent}: run `reflex export --frontend-only --no-zip` first")

    environment.REFLEX_ENV_MODE.set(constants.Env.PROD)
    config = get_config()
    config._set_persistent(frontend_port=args.port, backend_port=args.port)  # what reflex run does
    environment.REFLEX_SKIP_COMPILE.set(True)
    reset_disk_state_manager()
    reflex_exec.run_backend_prod(
        args.host, args.port, config.loglevel.subprocess_level(), mount_frontend_compiled_app=True
    )


if __name__ == "__main__":
    main()
