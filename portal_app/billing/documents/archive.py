"""Invoice PDF file names and the yearly ZIP of a subscriber's invoices (reproducible bytes)."""

from __future__ import annotations

import io
import zipfile

from portal_app.models import Invoice


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
