"""The bundled DejaVu fonts, read once per process and cut to the code points an invoice needs.

fpdf2 re-reads, parses and subsets the whole 6,000-glyph font for every document, which costs more
than the rest of an invoice. So each process reads the files once and keeps small cuts of the font
(base Latin, punctuation and currency signs, plus the 128-code-point pages an invoice's text needs,
e.g. one Greek page), parsed once each; a document only gets a fresh, lazily parsed copy of its cut
for fpdf2 to subset.
"""

from __future__ import annotations

import copy
import io
import threading
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset as ft_subset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

# Beside this module, not in assets/: Reflex copies assets/ into the public web build, and the
# browser never needs the PDF fonts (1.4 MB).
FONT_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FAMILY = "dejavu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}

# Every font cut holds the base ranges (what labels, dates and amounts need) plus each 128-code-point
# page an invoice's text uses beyond them: "Ελένη" adds one Greek page, "Дмитрий" one Cyrillic page.
BASE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),  # Basic Latin
    (0x00A0, 0x00FF),  # Latin-1: é ñ ü ß ø, no-break space
    (0x2000, 0x206F),  # punctuation and the thin/narrow spaces babel puts in dates and amounts
    (0x20A0, 0x20CF),  # currency signs
    (0x2116, 0x2116),  # numero sign
    (0x2122, 0x2122),  # trade mark
    (0x2212, 0x2212),  # minus sign (some locales format negatives with it)
    (0xFFFD, 0xFFFD),  # replacement character
)
_BASE_CODEPOINTS = frozenset(cp for start, end in BASE_RANGES for cp in range(start, end + 1))
_PAGE_BITS = 7  # 128 code points per page
_CACHED_CUTS = 32
# Tables fpdf2 drops when it embeds a subset anyway; removing them up front makes each subset cheaper.
_UNUSED_TABLES = ["FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "kern"]


class FontFace:
    """One style of the bundled font, parsed once per process and cloned cheaply per document.

    fpdf2's add_font() re-reads and re-parses the TTF for every document; here the parsed metrics
    (cmap, widths, glyph ids, descriptor) are shared read-only, and each document only gets a fresh,
    lazily parsed fontTools object, because fpdf2 subsets that object in place when it writes the PDF.
    Relies on fpdf2's TTFFont internals (pinned fpdf2 version; covered by tests/unit/test_pdf.py).
    """

    def __init__(self, style: str, font_bytes: bytes):
        self.style = style
        self.font_bytes = font_bytes
        self._template = TTFFont(FPDF(), io.BytesIO(font_bytes), FONT_FAMILY + style, style)

    def install(self, pdf: FPDF) -> None:
        """Register a per-document copy of this face on pdf, like add_font() would."""
        template = self._template
        font = TTFFont.__new__(TTFFont)
        for slot in TTFFont.__slots__:
            if hasattr(template, slot):
                setattr(font, slot, getattr(template, slot))
        # Per-document state: fpdf2 mutates these while drawing and writing.
        font.i = len(pdf.fonts) + 1
        font.ttfont = ttLib.TTFont(io.BytesIO(self.font_bytes), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.cw = template.cw.copy()
        font.desc = copy.copy(template.desc)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font._hbfont = None
        font.subset = SubsetMap(font)
        pdf.fonts[font.fontkey] = font


def _cut_font(font_bytes: bytes, pages: frozenset[int]) -> bytes:
    """The font reduced to the base ranges plus the given pages, without hinting and layout tables.

    fpdf2 parses the whole font again for every document it writes, so a few hundred glyphs
    instead of DejaVu's 6,000 is most of the speed. Hinting is dropped too: PDF viewers do not
    need it, and it halves the embedded subset.
    """
    font = ttLib.TTFont(io.BytesIO(font_bytes), recalcTimestamp=False)
    options = ft_subset.Options(
        notdef_outline=True,
        recommended_glyphs=True,
        glyph_names=True,
        hinting=False,
        name_IDs=["*"],
        name_languages=["*"],
        layout_features=[],
    )
    options.drop_tables += _UNUSED_TABLES
    codepoints = set(_BASE_CODEPOINTS)
    for page in pages:
        codepoints.update(range(page << _PAGE_BITS, (page + 1) << _PAGE_BITS))
    subsetter = ft_subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(codepoints))
    subsetter.subset(font)
    # One Windows Unicode cmap is all fpdf2 reads; the duplicate Unicode-platform one only costs time.
    font["cmap"].tables = [t for t in font["cmap"].tables if (t.platformID, t.platEncID) == (3, 1)]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def extra_pages(text: Iterable[str]) -> frozenset[int]:
    """The 128-code-point pages text needs beyond the base ranges: the key of its font cut."""
    return frozenset(
        ord(ch) >> _PAGE_BITS
        for chunk in text
        for ch in chunk
        if ord(ch) not in _BASE_CODEPOINTS and ch not in "\n\r\t"
    )


class FontBank:
    """The bundled fonts: read from disk once; each cut built and parsed once (thread-safe LRU)."""

    def __init__(self, font_dir: Path = FONT_DIR, max_cuts: int = _CACHED_CUTS):
        self.font_dir = font_dir
        self.max_cuts = max_cuts
        self._lock = threading.Lock()
        self._files: dict[str, bytes] = {}
        self._cuts: OrderedDict[frozenset[int], dict[str, FontFace]] = OrderedDict()

    def faces_for(self, text: Iterable[str]) -> dict[str, FontFace]:
        """Regular and bold faces covering every character of text that DejaVu Sans has."""
        pages = extra_pages(text)
        with self._lock:
            faces = self._cuts.get(pages)
            if faces is None:
                faces = {style: FontFace(style, _cut_font(self._read(style), pages)) for style in FONT_FILES}
                self._cuts[pages] = faces
                while len(self._cuts) > self.max_cuts:
                    self._cuts.popitem(last=False)
            else:
                self._cuts.move_to_end(pages)
        return faces

    def _read(self, style: str) -> bytes:
        if style not in self._files:
            self._files[style] = (self.font_dir / FONT_FILES[style]).read_bytes()
        return self._files[style]


DEFAULT_FONTS = FontBank()
