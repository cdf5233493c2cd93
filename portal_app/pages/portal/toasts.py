"""The portal's toasts after an action: Sonner's rich colours with text dark enough to read (its own
green and red on their pale backgrounds fall under 4.5:1). A new toast replaces the previous one, so a
declined attempt's toast never lingers beside the success that followed it."""

from __future__ import annotations

import reflex as rx


def ok(message) -> list:
    return [rx.toast.dismiss(), rx.toast.success(message, style={"color": "var(--green-12)"})]


def fail(message) -> list:
    return [rx.toast.dismiss(), rx.toast.error(message, style={"color": "var(--red-12)"})]
