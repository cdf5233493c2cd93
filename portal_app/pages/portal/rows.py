"""Pure view-model helpers of the portal page: invoice rows grouped by year (newest first, a
visible limit with "show more") and a sentence split around the words that become a link."""

from __future__ import annotations

from collections.abc import Sequence

from portal_app import i18n, routes
from portal_app.billing.facades.portal import InvoiceRow
from portal_app.billing.facades.portal_credit_notes import CreditNoteRow

FIRST_INVOICES = 6  # invoice rows shown before "Show more"
MORE_INVOICES = 12  # rows each "Show more" adds


def invoice_rows(
    rows: Sequence[InvoiceRow],
    years: dict[int, int],
    lang: str,
    limit: int,
    credit_notes: Sequence[CreditNoteRow] = (),
) -> tuple[list[dict[str, str]], bool]:
    """The first `limit` invoices and credit notes (newest first) as the page shows them, and whether
    more are hidden. The first row of each year carries that year's heading and its ZIP download
    ("year_head"); the year's count includes its credit notes, which its ZIP holds too."""
    years = dict(years)
    for note in credit_notes:
        years[note.issued_at.year] = years.get(note.issued_at.year, 0) + 1
    items = [(r.finalized_at, 0, r.invoice_id, _invoice_item(r, lang)) for r in rows]
    items += [(n.issued_at, 1, n.credit_note_id, _credit_note_item(n, lang)) for n in credit_notes]
    ordered = sorted(items, key=lambda item: item[:3], reverse=True)
    shown: list[dict[str, str]] = []
    last_year = None
    for moment, _kind, _id, item in ordered[: max(limit, 0)]:
        year = moment.year
        head = year != last_year
        last_year = year
        shown.append(
            {
                **item,
                "date": i18n.fmt_short_date(moment, lang),
                "year_head": "1" if head else "",
                "year": str(year),
                "year_label": i18n.t(lang, "download_year_aria", year=year, count=years.get(year, 0)) if head else "",
                "year_short": i18n.t(lang, "download_all", count=years.get(year, 0)) if head else "",
                "year_url": routes.invoice_year_zip_url(year) if head else "",
            }
        )
    return shown, len(ordered) > len(shown)


def _invoice_item(row: InvoiceRow, lang: str) -> dict[str, str]:
    return {
        "id": str(row.invoice_id),
        "number": row.number,
        "amount": i18n.fmt_money(row.total, lang),
        "status": row.status,
        "status_label": i18n.t(lang, f"s_{row.status}"),
        "url": routes.invoice_pdf_url(row.invoice_id),
        "aria": i18n.t(lang, "download_pdf", number=row.number),
        "payable": "1" if row.status == "open" else "",
        "pay_aria": i18n.t(lang, "pay_invoice_aria", number=row.number),
    }


def _credit_note_item(note: CreditNoteRow, lang: str) -> dict[str, str]:
    """A credit note beside the invoices: its number, the refunded amount (negative), its PDF."""
    return {
        "id": f"cn{note.credit_note_id}",
        "number": note.number,
        "amount": i18n.fmt_money(-note.total, lang),
        "status": "credit_note",
        "status_label": i18n.t(lang, "s_credit_note"),
        "url": routes.credit_note_pdf_url(note.credit_note_id),
        "aria": i18n.t(lang, "download_credit_note_pdf", number=note.number, invoice=note.invoice_number),
        "payable": "",
        "pay_aria": "",
    }


def around(text: str, words: str) -> tuple[str, str, str]:
    """(before, words, after): `text` split at the first `words` (the part shown as a link); the
    whole text before and nothing linked when `words` is empty or absent."""
    if not words or words not in text:
        return text, "", ""
    before, _, after = text.partition(words)
    return before, words, after
