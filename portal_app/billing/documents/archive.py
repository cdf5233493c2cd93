"""Invoice PDF file names and the yearly ZIP of a subscriber's invoices (reproducible bytes)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime

from portal_app.models import Invoice


def invoice_pdf_filename(invoice: Invoice) -> str:
    """'ACME-2026-000001.pdf': the download and ZIP member name of an invoice."""
    if not invoice.number:
        raise ValueError("invoice has no number yet")
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in invoice.number)
    return f"{safe}.pdf"


def credit_note_pdf_filename(number: str) -> str:
    """'ACME-CN-2026-000001.pdf': the download and ZIP member name of a credit note."""
    if not number:
        raise ValueError("credit note has no number")
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in number) + ".pdf"


# An entry without a date (and any date before 1980, which ZIP cannot hold) gets this one.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _zip_date_time(moment: datetime | None) -> tuple[int, int, int, int, int, int]:
    """An entry's date as ZIP stores it: UTC wall time (ZIP has no zone), whole seconds."""
    if moment is None:
        return _ZIP_EPOCH
    if moment.tzinfo is None:
        raise ValueError("ZIP entry dates must be timezone-aware")
    utc = moment.astimezone(UTC)
    if utc.year < 1980:
        return _ZIP_EPOCH
    return (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)


def year_zip(files: Sequence[tuple[str, bytes] | tuple[str, bytes, datetime | None]]) -> bytes:
    """A ZIP of (file name, PDF bytes[, date]) in the given order, byte-for-byte reproducible.

    Each entry is dated by its date (the invoice's finalization, so a file manager sorts and shows
    the invoices by when they were issued); the same inputs always give the same bytes. Entries are
    stored, not deflated: fpdf2 already compresses a PDF's streams, deflating again saved about a
    quarter of the size for most of the ZIP's time (bench/year_zip.py).
    """
    seen: set[str] = set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data, *dated in files:
            if not name or "/" in name or "\\" in name or name.startswith(".") or name in seen:
                raise ValueError(f"bad or duplicate file name in ZIP: {name!r}")
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=_zip_date_time(dated[0] if dated else None))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3  # Unix, whatever the host: same bytes everywhere
            archive.writestr(info, data)
    return buffer.getvalue()
