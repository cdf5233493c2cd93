"""Entry point: `python -m portal_app.billing run|seed|links`."""

import os
import sys

from portal_app import logconfig, logredact
from portal_app.billing.cli import main
from portal_app.settings import load_or_exit, warn_once

# As rxconfig.py does for the server: masked output, settings checked (one line and exit 2 when a
# setting is wrong), one log format.
logredact.install()
settings = load_or_exit()
logconfig.install(settings.log_level, settings.log_format)
warn_once(settings)
if settings.log_format == "json":
    os.environ.setdefault("TQDM_DISABLE", "1")  # stderr is for JSON lines only: no progress bars

sys.exit(main())
