"""The gettext catalogues on disk: the compiled .mo when it is current, else the .po compiled in memory.

`make messages-compile` builds the .mo files (never committed). On a fresh clone, or after a .po edit
without recompiling, the .po is compiled in memory on first use instead, so pytest or any entry point
works without make; nothing is written at run time.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def NC_(context: str, message: str) -> str:
    """Marks a message with its msgctxt for `pybabel extract` (babel.cfg keyword NC_:1c,2); translated later."""
    return message


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compile_po(po: Path) -> gettext.GNUTranslations:
    """The .po file as translations, compiled in memory the way `pybabel compile` does (fuzzy skipped)."""
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@functools.cache
def translation(language: str) -> gettext.GNUTranslations:
    """The translations of one supported language ("en" or "es"), loaded once per process."""
    po = po_path(language)
    mo = po.with_suffix(".mo")
    if mo.is_file() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    log.info("%s has no current .mo (make messages-compile); compiling it in memory", po)
    return compile_po(po)
