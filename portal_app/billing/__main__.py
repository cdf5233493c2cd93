"""Entry point: `python -m portal_app.billing run|seed|links`."""

import sys

from portal_app.billing.cli import main

sys.exit(main())
