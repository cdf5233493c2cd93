"""Merchant logos for invoices: decoded, scaled and compressed once per process."""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict

from fpdf import FPDF
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from PIL import Image

log = logging.getLogger(__name__)

LOGO_MAX_W, LOGO_MAX_H = 60.0, 20.0  # mm

LOGO_MAX_PX = (round(LOGO_MAX_W / 25.4 * 300), round(LOGO_MAX_H / 25.4 * 300))  # 300 dpi


class LogoCache:
    """Merchant logos decoded and compressed once per process, keyed by their bytes.

    fpdf2 would decode and re-compress the same logo for every invoice; here each document gets a
    copy of the parsed image entry instead. Logos larger than the logo box at 300 dpi are scaled
    down, which keeps invoices small when a merchant uploads a huge image.
    """

    def __init__(self, max_entries: int = 64):
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, ImageCache | None] = OrderedDict()

    def install(self, pdf: FPDF, logo: bytes) -> tuple[int, int] | None:
        """Put the parsed logo into pdf's image cache; its pixel size, or None if unreadable."""
        parsed = self._parsed(logo)
        if parsed is None:
            return None
        # The logo is the document's only image, so its index (1) and ICC profile index still hold.
        pdf.image_cache.images.update((name, RasterImageInfo(info, usages=0)) for name, info in parsed.images.items())
        pdf.image_cache.icc_profiles.update(parsed.icc_profiles)
        (info,) = parsed.images.values()
        return int(info["w"]), int(info["h"])

    def _parsed(self, logo: bytes) -> ImageCache | None:
        key = hashlib.sha256(logo).digest()
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        parsed = self._parse(logo)
        with self._lock:
            self._entries[key] = parsed
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return parsed

    @staticmethod
    def _parse(logo: bytes) -> ImageCache | None:
        try:
            with Image.open(io.BytesIO(logo)) as image:
                width, height = image.size
            scale = min(1.0, LOGO_MAX_PX[0] / width, LOGO_MAX_PX[1] / height)
            dims = None if scale == 1.0 else (max(1, round(width * scale)), max(1, round(height * scale)))
            parsed = ImageCache()
            preload_image(parsed, io.BytesIO(logo), dims)
        except Exception:  # noqa: BLE001 - a broken logo must never block an invoice
            log.warning("merchant logo could not be read; invoices render without it")
            return None
        return parsed


DEFAULT_LOGOS = LogoCache()
