"""An email's two bodies from its translated pieces: plain text, and inline-styled HTML with the
merchant's logo (an inline CID image, see logo.py) and brand colour on the button and links.

Every text is escaped in the HTML, so user data (names, reasons) can never become markup. The logo
sits between LOGO_START and LOGO_END so delivery can swap it for the merchant's name when the image
is not there to attach (without_logo): an email never shows a broken image.
"""

from __future__ import annotations

import dataclasses
import html
import re

from portal_app.billing.emails.logo import EmailLogo

_FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;"
INK, MUTED, PAGE = "#18181b", "#52525b", "#f4f4f5"  # MUTED: 7.7:1 on white, 7:1 on the page grey
LOGO_START, LOGO_END = "<!--logo-->", "<!--/logo-->"
_LOGO_BLOCK = re.compile(re.escape(LOGO_START) + r".*?" + re.escape(LOGO_END), re.S)


@dataclasses.dataclass
class EmailContent:
    """One email's content as translated text pieces, before the text and HTML layouts."""

    subject: str
    paragraphs: list[str]
    facts: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    button: str = ""
    url: str = ""


@dataclasses.dataclass(frozen=True)
class Frame:
    """What surrounds every email: greeting, sign-off, footer lines, and the merchant's look."""

    greeting: str
    signoff: str
    footer: list[str]
    merchant_name: str
    lang: str
    link_hint: str  # "If the button does not work, copy this link into your browser:"
    color: str  # the brand colour ("#RRGGBB", white text readable on it)
    logo: EmailLogo | None = None
    support_email: str = ""  # linked (mailto:) wherever a footer line names it


def text_layout(email: EmailContent, frame: Frame) -> str:
    parts = [frame.greeting, *email.paragraphs]
    if email.facts:
        parts.append("\n".join(f"{label}: {value}" for label, value in email.facts))
    if email.url:
        parts.append(f"{email.button}:\n{email.url}")
    parts.append(frame.signoff)
    parts.append("--\n" + "\n".join(frame.footer))
    return "\n\n".join(parts) + "\n"


def name_header(merchant_name: str) -> str:
    return (
        f'<p style="{_FONT}margin:0 0 24px;font-size:18px;font-weight:700;color:{INK};">'
        f"{html.escape(merchant_name)}</p>"
    )


def _logo_header(logo: EmailLogo, merchant_name: str) -> str:
    e = html.escape
    return (
        f'{LOGO_START}<p style="margin:0 0 24px;"><img src="cid:{e(logo.cid, quote=True)}" '
        f'width="{logo.width}" height="{logo.height}" alt="{e(merchant_name, quote=True)}" '
        f'style="display:block;border:0;outline:none;width:{logo.width}px;height:{logo.height}px;'
        f'max-width:100%;{_FONT}font-size:18px;font-weight:700;color:{INK};"></p>{LOGO_END}'
    )


def without_logo(body_html: str, merchant_name: str) -> str:
    """The HTML with the logo replaced by the merchant's name (when the image cannot be attached)."""
    return _LOGO_BLOCK.sub(lambda _: name_header(merchant_name), body_html)


def logo_cid(body_html: str) -> str:
    """The Content-ID the HTML's logo refers to, or ""."""
    match = re.search(re.escape(LOGO_START) + r'.*?src="cid:([^"]+)"', body_html, re.S)
    return html.unescape(match.group(1)) if match else ""


def _footer_line(line: str, frame: Frame) -> str:
    e = html.escape
    if frame.support_email and frame.support_email in line:
        before, _, after = line.partition(frame.support_email)
        address = e(frame.support_email)
        link = (
            f'<a href="mailto:{e(frame.support_email, quote=True)}" style="color:{frame.color};'
            f'text-decoration:underline;">{address}</a>'
        )
        return f"{e(before)}{link}{e(after)}"
    return e(line)


def html_layout(email: EmailContent, frame: Frame) -> str:
    """Simple inline-styled HTML (mail clients ignore style sheets); every text is escaped."""
    e, color = html.escape, frame.color
    p_style = f"margin:0 0 16px;{_FONT}font-size:15px;line-height:1.5;color:{INK};"
    rows = "".join(
        f'<tr><td style="{_FONT}padding:4px 16px 4px 0;color:{MUTED};font-size:14px;">{e(label)}</td>'
        f'<td style="{_FONT}padding:4px 0;color:{INK};font-size:14px;font-weight:600;">'
        f"{e(value)}</td></tr>"
        for label, value in email.facts
    )
    facts = (
        f'<table role="presentation" style="border-collapse:collapse;margin:0 0 20px;">{rows}</table>' if rows else ""
    )
    button = ""
    if email.url:
        url = e(email.url, quote=True)
        button = (
            f'<p style="margin:8px 0 24px;"><a href="{url}" style="{_FONT}display:inline-block;'
            f"background:{color};color:#ffffff;text-decoration:none;font-size:15px;font-weight:600;"
            f'padding:12px 20px;border-radius:6px;">{e(email.button)}</a></p>'
            f'<p style="{p_style}font-size:13px;color:{MUTED};">{e(frame.link_hint)}<br>'
            f'<a href="{url}" style="color:{color};word-break:break-all;">{e(email.url)}</a></p>'
        )
    paragraphs = "".join(f'<p style="{p_style}">{e(text)}</p>' for text in email.paragraphs)
    footer_html = "<br>".join(_footer_line(line, frame) for line in frame.footer)
    header = _logo_header(frame.logo, frame.merchant_name) if frame.logo else name_header(frame.merchant_name)
    return (
        f'<!DOCTYPE html>\n<html lang="{e(frame.lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{e(email.subject)}</title></head>"
        f'<body style="margin:0;padding:0;background:{PAGE};">'
        '<div style="max-width:560px;margin:0 auto;padding:32px 16px;">'
        f'<div style="background:#ffffff;border-radius:8px;border-top:4px solid {color};padding:28px 24px;">'
        f"{header}"
        f'<p style="{p_style}">{e(frame.greeting)}</p>{paragraphs}{facts}{button}'
        f'<p style="{p_style}">{e(frame.signoff)}</p>'
        "</div>"
        f'<p style="{_FONT}margin:16px 0 0;font-size:12px;line-height:1.5;color:{MUTED};'
        f'text-align:center;">{footer_html}</p>'
        "</div></body></html>\n"
    )
