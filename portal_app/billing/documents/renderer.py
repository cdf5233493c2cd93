"""Invoice and receipt PDFs drawn with fpdf2 from an invoice view.

Deterministic: the PDF creation date is the invoice's finalized_at and fpdf2 derives the file ID
from the content, so the same input gives the same bytes. Callers still store the bytes once
rendered (Invoice.pdf_bytes): a later code change must never alter an issued invoice.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from portal_app.billing.documents.fonts import DEFAULT_FONTS, FONT_FAMILY, FontBank
from portal_app.billing.documents.invoice_view import FOOTER_SEPARATOR, InvoiceView, check_renderable, invoice_view
from portal_app.billing.documents.logos import DEFAULT_LOGOS, LOGO_MAX_H, LOGO_MAX_W, LogoCache
from portal_app.billing.statuses import InvoiceStatus
from portal_app.models import Invoice, InvoiceLine, Merchant

PAGE_MARGIN = 18.0  # mm
ACCENT_BAND = 3.0  # mm: the brand colour across the top of the first page

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

_PAGES_ALIAS = "{nb}"


LINE_COLUMNS = (100.0, 14.0, 30.0, 30.0)  # description, qty, unit price, amount (mm, = page width)
ROW_PAD = 2.0
ROW_LINE_H = 5.0


class _InvoicePDF(FPDF):
    """A4 page with the support line and page numbers in the footer of every page."""

    def __init__(self, text: InvoiceView):
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
        page = self.text.labels["page"] % {"page": self.page_no(), "pages": _PAGES_ALIAS}
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
        self.fonts = fonts or DEFAULT_FONTS
        self.logos = logos or DEFAULT_LOGOS

    def render(self, invoice: Invoice, lines: Sequence[InvoiceLine], merchant: Merchant) -> bytes:
        """PDF bytes; ValueError for a draft or inconsistent input."""
        check_renderable(invoice, lines, merchant)
        return self.render_view(invoice_view(invoice, lines, merchant))

    def render_view(self, text: InvoiceView) -> bytes:
        """PDF bytes of a document view (an invoice's, or a credit note's: documents/credit_note_view.py)."""
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

    # Header: a band of the brand colour; logo and merchant name on the left; title, number and
    # status badge on the right.
    def _header(self, pdf: _InvoicePDF, text: InvoiceView) -> None:
        pdf.set_fill_color(*text.accent)
        pdf.rect(0, 0, pdf.w, ACCENT_BAND, style="F")
        top = pdf.t_margin
        name_width = pdf.epw * 0.55
        # The logo stands for the name (said again in the seller block and the footer): one, not both.
        if text.logo and self._logo(pdf, text.logo, pdf.l_margin, top, text.merchant_name):
            left_bottom = top + LOGO_MAX_H
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
        self._status_badge(pdf, text, right_x + right_w - pdf.c_margin, pdf.y + 1.5)  # flush with the text
        pdf.set_y(max(left_bottom, pdf.y) + 10)

    def _logo(self, pdf: FPDF, logo: bytes, x: float, y: float, name: str) -> bool:
        """Place the logo scaled into its box, left aligned; False if the image is unreadable."""
        size = self.logos.install(pdf, logo)
        if size is None:
            return False
        width_px, height_px = size
        scale = min(LOGO_MAX_W / width_px, LOGO_MAX_H / height_px)
        pdf.image(io.BytesIO(logo), x=x, y=y, w=width_px * scale, h=height_px * scale, alt_text=name)
        return True

    def _status_badge(self, pdf: FPDF, text: InvoiceView, right: float, y: float) -> None:
        pdf.set_font(FONT_FAMILY, "B", 10)
        width = pdf.get_string_width(text.status_text) + 8
        pdf.set_fill_color(*STATUS_COLORS[text.status])
        pdf.rect(right - width, y, width, 7, style="F", round_corners=True, corner_radius=1.5)
        pdf.set_text_color(255, 255, 255)
        pdf.set_xy(right - width, y)
        pdf.cell(width, 7, text.status_text, align="C")
        pdf.set_y(y + 7)

    # Seller ("From") and buyer ("Bill to") on the left, number and dates on the right.
    def _parties(self, pdf: _InvoicePDF, text: InvoiceView) -> None:
        top = pdf.y
        half = pdf.epw / 2
        pdf.set_x(pdf.l_margin)
        self._party(pdf, text, text.labels["seller"], text.seller, half - 4)
        pdf.set_y(pdf.y + 5)
        pdf.set_x(pdf.l_margin)
        self._party(pdf, text, text.labels["bill_to"], text.bill_to, half - 4)
        left_bottom = pdf.y

        label_w, value_w = half * 0.45, half * 0.55
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

    @staticmethod
    def _party(pdf: _InvoicePDF, text: InvoiceView, label: str, rows: list[str], width: float) -> None:
        pdf.set_font(FONT_FAMILY, "B", 8)
        pdf.set_text_color(*text.accent)
        pdf.write_block(width, 5, label.upper())
        pdf.set_text_color(*INK)
        for i, row in enumerate(rows):
            pdf.set_font(FONT_FAMILY, "B" if i == 0 else "", 10 if i == 0 else 9.5)
            pdf.write_block(width, 5, row)

    # Lines: drawn by hand rather than with fpdf2's table(), which is several times slower;
    # rows never split across pages and the heading repeats on each new page.
    def _lines_table(self, pdf: _InvoicePDF, text: InvoiceView) -> None:
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

    def _lines_heading(self, pdf: _InvoicePDF, text: InvoiceView) -> None:
        labels = text.labels
        pdf.set_font(FONT_FAMILY, "B", 8.5)
        pdf.set_fill_color(*HEADER_FILL)
        pdf.set_text_color(*MUTED)
        pdf.set_x(pdf.l_margin)
        headings = (labels["description"], labels["quantity"], labels["unit_price"], labels["amount"])
        for i, (width, label) in enumerate(zip(LINE_COLUMNS, headings, strict=True)):
            pdf.cell(width, 8, label, align="L" if i == 0 else "R", fill=True)
        pdf.ln(8)

    def _totals(self, pdf: FPDF, text: InvoiceView) -> None:
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
                pdf.set_draw_color(*text.accent)
                pdf.set_line_width(0.5)
                pdf.line(x, pdf.y + 0.5, x + block_w, pdf.y + 0.5)
                pdf.set_line_width(0.2)
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


def render_view_pdf(text: InvoiceView) -> bytes:
    """PDF bytes of a prepared document view with the process-wide renderer."""
    return _DEFAULT_RENDERER.render_view(text)
