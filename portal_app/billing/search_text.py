"""Search text that matches the way people type: case- and accent-insensitive, any script.

SQLite's lower() folds ASCII only, so "nunez" never found "Ñúñez". Instead every subscriber carries
`search_text` = fold(name) + " " + fold(email), kept by a mapper event (models.py), and a search
compares fold(query) against it with LIKE: one rule on SQLite and PostgreSQL, on an index.
"""

from __future__ import annotations

import unicodedata

MAX_LENGTH = 400  # Subscriber.search_text


def fold(text: str) -> str:
    """'  Zoë ÑÚÑEZ ' -> 'zoe nunez': NFKD, combining marks dropped, casefolded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def subscriber_search_text(name: str, email: str) -> str:
    return f"{fold(name)} {fold(email)}"[:MAX_LENGTH]
