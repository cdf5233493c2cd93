"""One kind of customer email: the context keys it needs beyond merchant_name, those it reads when
present, and its builder (Values -> EmailContent). Each module of kinds exports KINDS; render.py
joins them, so a feature's emails live beside each other and not in one growing file."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from portal_app.billing.emails.layout import EmailContent
from portal_app.billing.emails.values import Values


@dataclasses.dataclass(frozen=True)
class EmailKind:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    build: Callable[[Values], EmailContent]
