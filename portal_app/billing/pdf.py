"""Invoice and receipt PDFs (fpdf2) from finalized invoices, plus the yearly ZIP download.

The renderer reads only the invoice's finalization snapshot (names, address, language, amounts) and
is deterministic: the PDF creation date is the invoice's finalized_at and fpdf2 derives the file ID
from the content, so the same input gives the same bytes. Callers still store the bytes once
rendered (Invoice.pdf_bytes): a later code change must never alter an issued invoice.

Fonts: DejaVu Sans is bundled in assets/fonts. fpdf2 re-reads, parses and subsets the whole
6,000-glyph font for every document, which costs more than the rest of an invoice. So each process
reads the files once and keeps small cuts of the font (base Latin, punctuation and currency signs,
plus the 128-code-point pages an invoice's text needs, e.g. one Greek page), parsed once each;
a document only gets a fresh, lazily parsed copy of its cut for fpdf2 to subset.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import logging
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from babel.dates import format_date, format_interval
from babel.numbers import format_decimal, format_percent
from fontTools import subset as ft_subset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont
from fpdf.image_datastructures import ImageCache, RasterImageInfo
from fpdf.image_parsing import preload_image
from PIL import Image

from portal_app.billing.money import Money
from portal_app.billing.statuses import InvoiceStatus
from portal_app.billing.text import language_and_locale
from portal_app.models import Invoice, InvoiceLine, Merchant

log = logging.getLogger(__name__)

FONT_DIR = Path(__file__).resolve().parents[2] / "assets" / "fonts"
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

PAGE_MARGIN = 18.0  # mm
LOGO_MAX_W, LOGO_MAX_H = 60.0, 20.0  # mm

INK = (24, 24, 27)
MUTED = (113, 113, 122)
RULE = (212, 212, 216)
HEADER_FILL = (244, 244, 245)
STATUS_COLORS = {
    InvoiceStatus.PAID: (21, 128, 61),
    InvoiceStatus.OPEN: (180, 83, 9),
    InvoiceStatus.VOID: (82, 82, 91),
    InvoiceStatus.UNCOLLECTIBLE: (185, 28, 28),
}

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "invoice": "Invoice",
        "receipt": "Receipt",
        "invoice_number": "Invoice number",
        "issue_date": "Issue date",
        "due_date": "Due date",
        "service_period": "Service period",
        "paid_date": "Paid on",
        "bill_to": "Bill to",
        "tax_id": "Tax ID",
        "description": "Description",
        "quantity": "Qty",
        "unit_price": "Unit price",
        "amount": "Amount",
        "subtotal": "Subtotal",
        "tax": "Tax ({rate})",
        "total": "Total",
        "amount_paid": "Amount paid",
        "amount_due": "Amount due",
        "note_paid": "Paid on {date}. Thank you!",
        "note_open": "Please pay {amount} by {date}.",
        "note_open_no_due": "Please pay {amount}.",
        "note_void": "This invoice has been voided and is not payable.",
        "note_uncollectible": "This invoice has been marked as uncollectible.",
        "support": "Questions? Contact {email}",
        "page": "Page {page} of {pages}",
        "status_paid": "PAID",
        "status_open": "OPEN",
        "status_void": "VOID",
        "status_uncollectible": "UNCOLLECTIBLE",
    },
    "es": {
        "invoice": "Factura",
        "receipt": "Recibo",
        "invoice_number": "Número de factura",
        "issue_date": "Fecha de emisión",
        "due_date": "Fecha de vencimiento",
        "service_period": "Periodo de servicio",
        "paid_date": "Pagada el",
        "bill_to": "Facturar a",
        "tax_id": "Identificación fiscal",
        "description": "Descripción",
        "quantity": "Cant.",
        "unit_price": "Precio unitario",
        "amount": "Importe",
        "subtotal": "Subtotal",
        "tax": "Impuestos ({rate})",
        "total": "Total",
        "amount_paid": "Importe pagado",
        "amount_due": "Importe pendiente",
        "note_paid": "Pagada el {date}. ¡Gracias!",
        "note_open": "Por favor, pague {amount} antes del {date}.",
        "note_open_no_due": "Por favor, pague {amount}.",
        "note_void": "Esta factura ha sido anulada y no debe pagarse.",
        "note_uncollectible": "Esta factura se ha marcado como incobrable.",
        "support": "¿Preguntas? Escríbanos a {email}",
        "page": "Página {page} de {pages}",
        "status_paid": "PAGADA",
        "status_open": "PENDIENTE",
        "status_void": "ANULADA",
        "status_uncollectible": "INCOBRABLE",
    },
}

_PAGES_ALIAS = "{nb}"
FOOTER_SEPARATOR = " · "


# --------------------------------------------------------------------------- fonts


class _FontFace:
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
        self._cuts: OrderedDict[frozenset[int], dict[str, _FontFace]] = OrderedDict()

    def faces_for(self, text: Iterable[str]) -> dict[str, _FontFace]:
        """Regular and bold faces covering every character of text that DejaVu Sans has."""
        pages = extra_pages(text)
        with self._lock:
            faces = self._cuts.get(pages)
            if faces is None:
                faces = {style: _FontFace(style, _cut_font(self._read(style), pages)) for style in FONT_FILES}
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


_DEFAULT_FONTS = FontBank()


# --------------------------------------------------------------------------- logos

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


_DEFAULT_LOGOS = LogoCache()


# --------------------------------------------------------------------------- content


@dataclasses.dataclass(frozen=True)
class _Line:
    description: str
    quantity: str
    unit_price: str
    amount: str


@dataclasses.dataclass(frozen=True)
class _InvoiceText:
    """Everything printed on the invoice, already translated and formatted for its locale."""

    labels: dict[str, str]
    status: InvoiceStatus
    title: str
    status_text: str
    merchant_name: str
    support_line: str
    number: str
    meta: list[tuple[str, str]]
    bill_to: list[str]
    lines: list[_Line]
    totals: list[tuple[str, str]]
    balance: tuple[str, str] | None
    note: str
    logo: bytes | None
    title_meta: str
    creation_date: datetime
    language: str

    def all_text(self) -> list[str]:
        """Every string drawn (labels and page footers included), to choose the font cut."""
        texts = [self.title, self.status_text, self.merchant_name, self.support_line, self.number]
        texts += [self.note, FOOTER_SEPARATOR, *self.bill_to, *self.labels.values()]
        texts += [label.upper() for label in self.labels.values()]
        texts += [part for pair in self.meta + self.totals for part in pair]
        texts += list(self.balance or ())
        for line in self.lines:
            texts += [line.description, line.quantity, line.unit_price, line.amount]
        return texts


def _utc_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        raise ValueError("invoice timestamps must be timezone-aware")
    return moment.astimezone(UTC).date()


def _check_renderable(invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> None:
    """Only finalized invoices have a number and immutable content worth printing."""
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValueError("draft invoices cannot be rendered; finalize the invoice first")
    InvoiceStatus(invoice.status)  # ValueError for an unknown status
    if not invoice.number or invoice.finalized_at is None:
        raise ValueError("invoice is not finalized (no number or finalized_at)")
    if merchant.id is not None and invoice.merchant_id not in (None, merchant.id):
        raise ValueError("invoice belongs to another merchant")
    for line in lines:
        if invoice.id is not None and line.invoice_id not in (None, invoice.id):
            raise ValueError("invoice line belongs to another invoice")
        if line.currency.upper() != invoice.currency.upper():
            raise ValueError("invoice line currency differs from the invoice currency")


def _invoice_text(invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> _InvoiceText:
    lang, locale = language_and_locale(invoice.language)
    labels = LABELS[lang]
    status = InvoiceStatus(invoice.status)

    def money(amount_minor: int) -> str:
        return Money(amount_minor, invoice.currency).format(locale)

    def day(moment: datetime) -> str:
        return format_date(_utc_date(moment), "long", locale=locale)

    meta = [
        (labels["invoice_number"], invoice.number or ""),
        (labels["issue_date"], day(invoice.finalized_at)),
    ]
    if invoice.due_at is not None:
        meta.append((labels["due_date"], day(invoice.due_at)))
    if invoice.period_start is not None and invoice.period_end is not None:
        period = format_interval(_utc_date(invoice.period_start), _utc_date(invoice.period_end), "yMMMd", locale=locale)
        meta.append((labels["service_period"], period))
    if status == InvoiceStatus.PAID and invoice.paid_at is not None:
        meta.append((labels["paid_date"], day(invoice.paid_at)))

    bill_to = [invoice.billing_name, invoice.billing_email]
    bill_to += (invoice.billing_address or "").splitlines()
    if invoice.tax_id:
        bill_to.append(f"{labels['tax_id']}: {invoice.tax_id}")
    bill_to = [row.strip() for row in bill_to if row and row.strip()]

    rate = format_percent(Decimal(invoice.tax_rate_bp) / 10000, locale=locale, decimal_quantization=False)
    totals = [(labels["subtotal"], money(invoice.subtotal_minor))]
    if invoice.tax_rate_bp or invoice.tax_minor:
        totals.append((labels["tax"].format(rate=rate), money(invoice.tax_minor)))
    totals.append((labels["total"], money(invoice.total_minor)))

    total = money(invoice.total_minor)
    balance: tuple[str, str] | None = None
    if status == InvoiceStatus.PAID:
        balance = (labels["amount_paid"], total)
        paid_on = day(invoice.paid_at or invoice.finalized_at)
        note = labels["note_paid"].format(date=paid_on)
    elif status == InvoiceStatus.OPEN:
        balance = (labels["amount_due"], total)
        note = (
            labels["note_open"].format(amount=total, date=day(invoice.due_at))
            if invoice.due_at is not None
            else labels["note_open_no_due"].format(amount=total)
        )
    elif status == InvoiceStatus.UNCOLLECTIBLE:
        balance = (labels["amount_due"], total)
        note = labels["note_uncollectible"]
    else:
        note = labels["note_void"]

    merchant_name = invoice.merchant_name or merchant.name
    support_email = merchant.support_email.strip()
    title = labels["receipt"] if status == InvoiceStatus.PAID else labels["invoice"]
    return _InvoiceText(
        labels=labels,
        status=status,
        title=title,
        status_text=labels[f"status_{status.value}"],
        merchant_name=merchant_name,
        support_line=labels["support"].format(email=support_email) if support_email else "",
        number=invoice.number or "",
        meta=meta,
        bill_to=bill_to,
        lines=[
            _Line(
                description=line.description,
                quantity=format_decimal(line.quantity, locale=locale),
                unit_price=Money(line.unit_amount_minor, line.currency).format(locale),
                amount=Money(line.amount_minor, line.currency).format(locale),
            )
            for line in lines
        ],
        totals=totals,
        balance=balance,
        note=note,
        logo=merchant.logo_png or None,
        title_meta=f"{title} {invoice.number}",
        creation_date=invoice.finalized_at.astimezone(UTC),
        language=lang,
    )


# --------------------------------------------------------------------------- drawing


LINE_COLUMNS = (100.0, 14.0, 30.0, 30.0)  # description, qty, unit price, amount (mm, = page width)
ROW_PAD = 2.0
ROW_LINE_H = 5.0


class _InvoicePDF(FPDF):
    """A4 page with the support line and page numbers in the footer of every page."""

    def __init__(self, text: _InvoiceText):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.text = text

    def footer(self) -> None:
        self.set_y(-PAGE_MARGIN + 2)
        self.set_draw_color(*RULE)
        self.line(self.l_margin, self.y - 2, self.w - self.r_margin, self.y - 2)
        self.set_font(FONT_FAMILY, "", 8)
        self.set_text_color(*MUTED)
        parts = (self.text.merchant_name, self.text.support_line)
        footer_left = FOOTER_SEPARATOR.join(part for part in parts if part)
        self.cell(0, 5, footer_left, align="L")
        self.set_x(self.l_margin)
        page = self.text.labels["page"].format(page=self.page_no(), pages=_PAGES_ALIAS)
        self.cell(0, 5, page, align="R")

    def write_block(self, w: float, h: float, text: str, align: str = "L") -> None:
        """Text in a box of width w, wrapped if needed; leaves x where it started, y below.

        cell() when the text fits on one line: fpdf2's multi_cell() line breaking costs about
        ten times more, and most invoice text is short.
        """
        if self.get_string_width(text) <= w - 2 * self.c_margin:
            self.cell(w, h, text, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)
        else:
            self.multi_cell(w, h, text, align=align, new_x=XPos.LEFT, new_y=YPos.NEXT)

    def line_count(self, w: float, text: str) -> int:
        if self.get_string_width(text) <= w - 2 * self.c_margin:
            return 1
        return max(1, len(self.multi_cell(w, ROW_LINE_H, text, dry_run=True, output="LINES")))


class InvoiceRenderer:
    """Renders a finalized invoice (its lines and merchant) as PDF bytes.

    Stateless apart from the shared, parsed fonts and logos: safe to share between threads.
    """

    def __init__(self, fonts: FontBank | None = None, logos: LogoCache | None = None):
        self.fonts = fonts or _DEFAULT_FONTS
        self.logos = logos or _DEFAULT_LOGOS

    def render(self, invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> bytes:
        """PDF bytes; ValueError for a draft or inconsistent input."""
        _check_renderable(invoice, lines, merchant)
        text = _invoice_text(invoice, lines, merchant)
        pdf = _InvoicePDF(text)
        for face in self.fonts.faces_for(text.all_text()).values():
            face.install(pdf)
        pdf.set_creation_date(text.creation_date)
        pdf.set_title(text.title_meta)
        pdf.set_author(text.merchant_name)
        pdf.set_creator("Subscriber Portal")
        pdf.set_lang(text.language)
        pdf.alias_nb_pages(_PAGES_ALIAS)
        pdf.set_margins(PAGE_MARGIN, PAGE_MARGIN, PAGE_MARGIN)
        pdf.set_auto_page_break(True, margin=PAGE_MARGIN + 6)
        pdf.add_page()
        self._header(pdf, text)
        self._parties(pdf, text)
        self._lines_table(pdf, text)
        self._totals(pdf, text)
        return bytes(pdf.output())

    # Header: logo and merchant name on the left; title, number and status badge on the right.
    def _header(self, pdf: _InvoicePDF, text: _InvoiceText) -> None:
        top = pdf.t_margin
        name_width = pdf.epw * 0.55
        if text.logo and self._logo(pdf, text.logo, pdf.l_margin, top):
            pdf.set_xy(pdf.l_margin, top + LOGO_MAX_H + 2)
            pdf.set_font(FONT_FAMILY, "B", 12)
        else:
            pdf.set_xy(pdf.l_margin, top)
            pdf.set_font(FONT_FAMILY, "B", 18)
        pdf.set_text_color(*INK)
        pdf.write_block(name_width, 7, text.merchant_name)
        left_bottom = pdf.y

        right_x = pdf.l_margin + name_width
        right_w = pdf.epw - name_width
        pdf.set_xy(right_x, top)
        pdf.set_font(FONT_FAMILY, "B", 22)
        pdf.cell(right_w, 10, text.title, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT_FAMILY, "", 10)
        pdf.set_text_color(*MUTED)
        pdf.cell(right_w, 6, text.number, align="R", new_x=XPos.LEFT, new_y=YPos.NEXT)
        self._status_badge(pdf, text, right_x + right_w, pdf.y + 1.5)
        pdf.set_y(max(left_bottom, pdf.y) + 10)

    def _logo(self, pdf: FPDF, logo: bytes, x: float, y: float) -> bool:
        """Place the logo scaled into its box, left aligned; False if the image is unreadable."""
        size = self.logos.install(pdf, logo)
        if size is None:
            return False
        width_px, height_px = size
        scale = min(LOGO_MAX_W / width_px, LOGO_MAX_H / height_px)
        pdf.image(io.BytesIO(logo), x=x, y=y, w=width_px * scale, h=height_px * scale)
        return True

    def _status_badge(self, pdf: FPDF, text: _InvoiceText, right: float, y: float) -> None:
        pdf.set_font(FONT_FAMILY, "B", 10)
        width = pdf.get_string_width(text.status_text) + 8
        pdf.set_fill_color(*STATUS_COLORS[text.status])
        pdf.rect(right - width, y, width, 7, style="F", round_corners=True, corner_radius=1.5)
        pdf.set_text_color(255, 255, 255)
        pdf.set_xy(right - width, y)
        pdf.cell(width, 7, text.status_text, align="C")
        pdf.set_y(y + 7)

    # Bill-to block on the left, number and dates on the right.
    def _parties(self, pdf: _InvoicePDF, text: _InvoiceText) -> None:
        top = pdf.y
        half = pdf.epw / 2
        pdf.set_x(pdf.l_margin)
        pdf.set_font(FONT_FAMILY, "B", 8)
        pdf.set_text_color(*MUTED)
        pdf.write_block(half - 4, 5, text.labels["bill_to"].upper())
        pdf.set_text_color(*INK)
        for i, row in enumerate(text.bill_to):
            pdf.set_font(FONT_FAMILY, "B" if i == 0 else "", 10)
            pdf.write_block(half - 4, 5, row)
        left_bottom = pdf.y

        label_w, value_w = half * 0.42, half * 0.58
        pdf.set_y(top)
        for label, value in text.meta:
            pdf.set_x(pdf.l_margin + half)
            pdf.set_font(FONT_FAMILY, "", 9)
            pdf.set_text_color(*MUTED)
            pdf.cell(label_w, 5.5, label)
            pdf.set_font(FONT_FAMILY, "B", 9)
            pdf.set_text_color(*INK)
            pdf.write_block(value_w, 5.5, value, align="R")
        pdf.set_y(max(left_bottom, pdf.y) + 8)

    # Lines: drawn by hand rather than with fpdf2's table(), which is several times slower;
    # rows never split across pages and the heading repeats on each new page.
    def _lines_table(self, pdf: _InvoicePDF, text: _InvoiceText) -> None:
        self._lines_heading(pdf, text)
        pdf.set_draw_color(*RULE)
        pdf.set_text_color(*INK)
        desc_w, *number_ws = LINE_COLUMNS
        for line in text.lines:
            pdf.set_font(FONT_FAMILY, "", 9.5)
            height = pdf.line_count(desc_w, line.description) * ROW_LINE_H + 2 * ROW_PAD
            if pdf.will_page_break(height):
                pdf.add_page()
                self._lines_heading(pdf, text)
                pdf.set_font(FONT_FAMILY, "", 9.5)
                pdf.set_draw_color(*RULE)
                pdf.set_text_color(*INK)
            top = pdf.y
            pdf.set_xy(pdf.l_margin, top + ROW_PAD)
            pdf.write_block(desc_w, ROW_LINE_H, line.description)
            x = pdf.l_margin + desc_w
            for width, value in zip(number_ws, (line.quantity, line.unit_price, line.amount), strict=True):
                pdf.set_xy(x, top + ROW_PAD)
                pdf.cell(width, ROW_LINE_H, value, align="R")
                x += width
            pdf.line(pdf.l_margin, top + height, pdf.l_margin + pdf.epw, top + height)
            pdf.set_xy(pdf.l_margin, top + height)
        pdf.ln(4)

    def _lines_heading(self, pdf: _InvoicePDF, text: _InvoiceText) -> None:
        labels = text.labels
        pdf.set_font(FONT_FAMILY, "B", 8.5)
        pdf.set_fill_color(*HEADER_FILL)
        pdf.set_text_color(*MUTED)
        pdf.set_x(pdf.l_margin)
        headings = (labels["description"], labels["quantity"], labels["unit_price"], labels["amount"])
        for i, (width, label) in enumerate(zip(LINE_COLUMNS, headings, strict=True)):
            pdf.cell(width, 8, label, align="L" if i == 0 else "R", fill=True)
        pdf.ln(8)

    def _totals(self, pdf: FPDF, text: _InvoiceText) -> None:
        block_w = 92.0
        x = pdf.l_margin + pdf.epw - block_w
        label_w, value_w = block_w - 36, 36.0
        rows = len(text.totals) + (1 if text.balance else 0)
        if pdf.will_page_break(rows * 7 + 22):
            pdf.add_page()
        last = len(text.totals) - 1
        for i, (label, value) in enumerate(text.totals):
            is_total = i == last
            if is_total:
                pdf.set_draw_color(*RULE)
                pdf.line(x, pdf.y + 0.5, x + block_w, pdf.y + 0.5)
                pdf.set_y(pdf.y + 1.5)
            pdf.set_x(x)
            pdf.set_font(FONT_FAMILY, "B" if is_total else "", 11 if is_total else 9.5)
            pdf.set_text_color(*(INK if is_total else MUTED))
            height = 7 if is_total else 6
            pdf.cell(label_w, height, label)
            pdf.set_text_color(*INK)
            pdf.cell(value_w, height, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if text.balance:
            label, value = text.balance
            pdf.set_x(x)
            pdf.set_font(FONT_FAMILY, "B", 9.5)
            pdf.set_text_color(*STATUS_COLORS[text.status])
            pdf.cell(label_w, 6, label)
            pdf.cell(value_w, 6, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(6)
        pdf.set_font(FONT_FAMILY, "", 9.5)
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 5, text.note, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


_DEFAULT_RENDERER = InvoiceRenderer()


def render_invoice_pdf(invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> bytes:
    """PDF bytes of a finalized invoice with the process-wide renderer (fonts parsed once)."""
    return _DEFAULT_RENDERER.render(invoice, lines, merchant)


def invoice_pdf_filename(invoice: Invoice) -> str:
    """'ACME-2026-000001.pdf': the download and ZIP member name of an invoice."""
    if not invoice.number:
        raise ValueError("invoice has no number yet")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in invoice.number)
    return f"{safe}.pdf"


# Zip entries carry a fixed timestamp so the same PDFs always give the same ZIP bytes.
_ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


def year_zip(files: list[tuple[str, bytes]]) -> bytes:
    """A ZIP of (file name, PDF bytes) pairs, in the given order, byte-for-byte reproducible."""
    seen: set[str] = set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files:
            if not name or "/" in name or "\\" in name or name.startswith(".") or name in seen:
                raise ValueError(f"bad or duplicate file name in ZIP: {name!r}")
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the host: same bytes everywhere
            archive.writestr(info, data)
    return buffer.getvalue()
