"""/invalid-link: why a portal link or session opens nothing, true for each case.

?reason= (routes.INVALID_REASONS) and ?m=<merchant slug> come from the link exchange (revoked,
deleted) or from an ended session (ended); ?lang= is the subscriber's language. Everything is
validated by the facade: an unknown slug or reason reads as the generic page. Branded (name, logo,
support email) when the merchant is known; the "send me a new link" form answers the same whether
or not the address is known, and is offered wherever a link can be sent (never after a deletion)."""

from __future__ import annotations

import reflex as rx

from portal_app import i18n
from portal_app.billing.facades import invalid_link as facade
from portal_app.billing.facades.outage import ServiceUnavailable
from portal_app.components.document_language import document_language, page_title
from portal_app.ratelimit import RateLimiter

new_link_ip_limiter = RateLimiter("new-link-ip", limit=10, window_seconds=3600)
new_link_email_limiter = RateLimiter("new-link-email", limit=3, window_seconds=3600)


def _param(params: dict, name: str) -> str:
    value = params.get(name, "")
    return value if isinstance(value, str) and len(value) <= 60 else ""


class InvalidLinkState(rx.State):
    lang: str = "en"
    tx: dict[str, str] = i18n.invalid_text("en")
    reason: str = ""
    heading: str = i18n.invalid_t("en", "title_generic")
    body: str = i18n.invalid_t("en", "body_generic")
    merchant_name: str = ""
    logo_url: str = ""
    logo_alt: str = ""
    support_email: str = ""
    brand_color: str = ""  # the merchant's button colour ("" = the house accent)
    contact: str = ""
    answer: str = ""
    answer_is_error: bool = False

    @rx.event
    def load(self):
        """on_load: the case from the query string (all public, validated), in the reader's language."""
        params = self.router.page.params
        try:
            view = facade.invalid_link_view(
                reason=_param(params, "reason"),
                merchant_slug=_param(params, "m"),
                lang=_param(params, "lang"),
                accept_language=self.router.headers.accept_language,
                signature=_param(params, "s"),
            )
        except ServiceUnavailable:
            view = facade.InvalidLinkView(reason="", language=i18n.accept_language(self.router.headers.accept_language))
        lang = i18n.language(view.language)
        key = view.reason or "generic"
        merchant = view.merchant_name
        self.lang, self.tx, self.reason = lang, i18n.invalid_text(lang), view.reason
        self.heading = i18n.invalid_t(lang, f"title_{key}")
        self.body = i18n.invalid_t(lang, f"body_{key}", **({"merchant": merchant} if merchant else {}))
        self.merchant_name, self.logo_url, self.support_email = merchant, facade.logo_url(view), view.support_email
        self.brand_color = view.brand_color
        self.logo_alt = i18n.invalid_t(lang, "logo_alt", merchant=merchant) if merchant else ""
        self.contact = i18n.invalid_t(lang, "contact", merchant=merchant) if merchant and view.support_email else ""
        self.answer, self.answer_is_error = "", False

    @rx.event
    def request_link(self, form_data: dict):
        email = form_data.get("email") if isinstance(form_data, dict) else None
        if not isinstance(email, str) or not 3 <= len(email.strip()) <= 254 or "@" not in email:
            self.answer, self.answer_is_error = i18n.invalid_t(self.lang, "answer_invalid"), True
            return
        email = email.strip().lower()
        # Limits stop mail-bombing a subscriber or probing addresses; they count every address
        # alike, so "too many requests" says nothing about whether an address is known.
        if not (
            new_link_ip_limiter.hit(self.router.session.client_ip or "unknown") and new_link_email_limiter.hit(email)
        ):
            self.answer, self.answer_is_error = i18n.invalid_t(self.lang, "answer_limited"), True
            return
        try:
            facade.request_new_link(email=email)
        except ServiceUnavailable:
            self.answer, self.answer_is_error = i18n.invalid_t(self.lang, "answer_unavailable"), True
            return
        # The same answer whether or not the address is known, and true in both cases.
        self.answer, self.answer_is_error = i18n.invalid_t(self.lang, "answer_sent"), False


def _brand() -> rx.Component:
    return rx.cond(
        InvalidLinkState.merchant_name != "",
        rx.hstack(
            rx.cond(
                InvalidLinkState.logo_url != "",
                rx.image(
                    src=InvalidLinkState.logo_url,
                    alt=InvalidLinkState.logo_alt,
                    height="40px",
                    width="auto",
                    max_width="160px",
                ),
            ),
            rx.cond(
                InvalidLinkState.logo_url == "",
                rx.text(InvalidLinkState.merchant_name, weight="bold", size="4", data_testid="invalid-merchant"),
            ),
            align="center",
            width="100%",
        ),
    )


def _contact() -> rx.Component:
    """ "Questions? Contact <merchant>:" and its support address as a mailto link, set apart below."""
    return rx.cond(
        InvalidLinkState.contact != "",
        rx.vstack(
            rx.separator(size="4"),
            rx.flex(
                rx.text(InvalidLinkState.contact, size="2", color_scheme="gray"),
                rx.link(
                    InvalidLinkState.support_email,
                    href="mailto:" + InvalidLinkState.support_email,
                    size="2",
                    display="inline-flex",
                    align_items="center",
                    min_height="44px",
                    overflow_wrap="anywhere",
                    data_testid="invalid-support-email",
                ),
                align="center",
                column_gap="6px",
                wrap="wrap",
                data_testid="invalid-contact",
            ),
            spacing="2",
            width="100%",
        ),
    )


def _new_link_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.el.label(InvalidLinkState.tx["email_label"], html_for="new-link-email", font_weight="500"),
            rx.input(
                id="new-link-email",
                name="email",
                type="email",
                required=True,
                max_length=254,
                auto_complete="email",
                size="3",
                width="100%",
            ),
            rx.button(
                InvalidLinkState.tx["send_link"],
                type="submit",
                size="3",
                min_height="44px",
                width="100%",
                background=rx.cond(InvalidLinkState.brand_color != "", InvalidLinkState.brand_color, "var(--accent-9)"),
                color="white",
            ),
            spacing="2",
            width="100%",
        ),
        on_submit=InvalidLinkState.request_link,
        reset_on_submit=True,
        width="100%",
    )


def invalid_link_page() -> rx.Component:
    return rx.el.main(
        document_language(InvalidLinkState.lang, page_title("invalid", InvalidLinkState.lang)),
        rx.center(
            rx.card(
                rx.vstack(
                    _brand(),
                    rx.heading(InvalidLinkState.heading, size="6", as_="h1", data_testid="invalid-heading"),
                    rx.text(InvalidLinkState.body, color_scheme="gray", data_testid="invalid-body"),
                    # A deleted subscription has no link to send: only the merchant can help.
                    rx.cond(InvalidLinkState.reason != "deleted", _new_link_form()),
                    rx.cond(
                        InvalidLinkState.answer != "",
                        rx.cond(
                            InvalidLinkState.answer_is_error,
                            rx.callout(
                                InvalidLinkState.answer,
                                icon="triangle_alert",
                                color_scheme="red",
                                role="alert",
                                width="100%",
                                data_testid="new-link-answer",
                            ),
                            rx.callout(
                                InvalidLinkState.answer,
                                icon="info",
                                role="status",
                                width="100%",
                                data_testid="new-link-answer",
                            ),
                        ),
                    ),
                    _contact(),
                    spacing="4",
                    width="100%",
                ),
                width="100%",
                max_width="440px",
                size="3",
            ),
            min_height="100vh",
            padding="16px",
            background="var(--gray-2)",
        ),
        lang=InvalidLinkState.lang,
    )
