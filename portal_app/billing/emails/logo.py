"""The merchant's logo inside HTML emails: a small inline image (multipart/related, Content-ID).

Inline rather than linked, so it shows offline and in clients that block remote images, with no
request back to the portal. The uploaded logo (PNG or JPEG, up to a few hundred KB) is scaled to at
most twice its display box (sharp on high-density screens, a few KB per email) once per process.
The Content-ID is derived from the image bytes, so an email rendered with one logo is never sent with
another: delivery attaches the logo only when the HTML names that very Content-ID.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import threading
from collections import OrderedDict

from PIL import Image

log = logging.getLogger(__name__)

DISPLAY_MAX = (180, 56)  # CSS px of the logo at the top of an email
_SCALE = 2  # pixels per CSS px stored: sharp on high-density screens
_CACHED = 32


@dataclasses.dataclass(frozen=True)
class EmailLogo:
    data: bytes
    subtype: str  # "png" or "jpeg" (image/<subtype>)
    cid: str  # Content-ID without the angle brackets: "logo-<hash>@portal"
    width: int  # CSS px
    height: int


def _prepare(raw: bytes) -> EmailLogo | None:
    try:
        with Image.open(io.BytesIO(raw)) as image:
            image.load()
            kind = image.format
            if kind not in ("PNG", "JPEG"):
                return None
            width, height = image.size
            scale = min(1.0, DISPLAY_MAX[0] / width, DISPLAY_MAX[1] / height)
            shown = (max(1, round(width * scale)), max(1, round(height * scale)))
            stored = (min(width, shown[0] * _SCALE), min(height, shown[1] * _SCALE))
            if stored != (width, height):
                image = image.resize(stored, Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if kind == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
            else:
                image.save(out, "PNG", optimize=True)
    except Exception:  # noqa: BLE001 - a broken logo must never block an email
        log.warning("merchant logo could not be read; emails show the merchant's name instead")
        return None
    data = out.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:20]
    return EmailLogo(data, kind.lower(), f"logo-{digest}@portal", shown[0], shown[1])


class _LogoCache:
    """Prepared logos keyed by the uploaded bytes (a bytes object caches its own hash: a billing run's
    thousands of receipts for one merchant cost one preparation and cheap lookups)."""

    def __init__(self, max_entries: int = _CACHED):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, EmailLogo | None] = OrderedDict()

    def get(self, raw: bytes | None) -> EmailLogo | None:
        if not raw:
            return None
        with self._lock:
            if raw in self._entries:
                self._entries.move_to_end(raw)
                return self._entries[raw]
        prepared = _prepare(raw)
        with self._lock:
            self._entries[raw] = prepared
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return prepared


_CACHE = _LogoCache()


def email_logo(raw: bytes | None) -> EmailLogo | None:
    """The merchant's logo as emails carry it, or None (no logo, or not a readable PNG/JPEG)."""
    return _CACHE.get(raw)
