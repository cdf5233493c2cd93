"""/console/dashboard: MRR, subscription counts, recovered payments, cancellation reasons and
MRR over the last twelve months."""

from __future__ import annotations

import reflex as rx

from portal_app import routes
from portal_app.billing.facades.console import dashboard as dashboard_facade
from portal_app.components.console_layout import section, stat
from portal_app.pages.console.base import ConsoleState, console_page, money, to_sign_in
from portal_app.pages.console.retention_card import retention_card

__all__ = ["ConsoleState", "ConsoleDashboardState", "dashboard_page"]


def recovered_words(count: int) -> str:
    """The note under "Recovered this month": invoices paid this month after a failed attempt."""
    if count == 0:
        return "No invoice paid after a failed payment yet"
    return f"{count} invoice{'' if count == 1 else 's'} paid after a failed payment"


class ConsoleDashboardState(ConsoleState):
    mrr: str = ""
    mrr_other: str = ""
    active_count: int = 0
    past_due_count: int = 0
    canceled_count: int = 0
    deleted_count: int = 0
    recovered: str = ""
    recovered_count: int = 0
    recovered_note: str = ""
    needs_review_count: int = 0
    reasons: list[dict[str, str]] = []
    mrr_points: list[dict] = []
    mrr_currency: str = ""

    @rx.event
    def load(self):
        identity = self._load_console_header()
        if identity is None:
            return to_sign_in()
        metrics = dashboard_facade.dashboard_metrics(merchant_id=identity.merchant_id)
        self.mrr = money(metrics.mrr[0]) if metrics.mrr else "$0.00"
        self.mrr_other = " + ".join(money(m) for m in metrics.mrr[1:])
        self.active_count = metrics.active
        self.past_due_count = metrics.past_due
        self.canceled_count = metrics.canceled
        self.deleted_count = metrics.deleted
        self.recovered = " + ".join(money(m) for m in metrics.recovered) or "—"
        self.recovered_count = metrics.recovered_count
        self.recovered_note = recovered_words(metrics.recovered_count)
        self.needs_review_count = metrics.needs_review
        self.reasons = [{"label": label, "count": str(count)} for label, count in metrics.cancellation_reasons]
        # Chart values in major units (display only; the amounts themselves stay integers).
        self.mrr_points = [{"month": p.month, "mrr": float(p.amount.to_decimal())} for p in metrics.mrr_history]
        self.mrr_currency = metrics.mrr_history[0].amount.currency if metrics.mrr_history else ""


def _chart() -> rx.Component:
    return rx.box(
        rx.recharts.line_chart(
            rx.recharts.cartesian_grid(stroke_dasharray="3 3"),
            rx.recharts.x_axis(data_key="month"),
            rx.recharts.y_axis(width=60),
            rx.recharts.graphing_tooltip(),
            rx.recharts.line(
                data_key="mrr",
                name="MRR",
                stroke="var(--accent-9)",
                stroke_width=2,
                type_="monotone",
                is_animation_active=False,
            ),
            data=ConsoleDashboardState.mrr_points,
            width="100%",
            height=260,
        ),
        role="img",
        aria_label="MRR over the last twelve months, in " + ConsoleDashboardState.mrr_currency,
        width="100%",
    )


def dashboard_page() -> rx.Component:
    return console_page(
        rx.heading("Dashboard", size="6", as_="h1"),
        rx.flex(
            stat(
                "MRR",
                ConsoleDashboardState.mrr,
                "metric-mrr",
                rx.cond(ConsoleDashboardState.mrr_other != "", "+ " + ConsoleDashboardState.mrr_other, ""),
            ),
            stat("Active", ConsoleDashboardState.active_count, "metric-active"),
            stat("Past due", ConsoleDashboardState.past_due_count, "metric-past-due"),
            stat("Canceled", ConsoleDashboardState.canceled_count, "metric-canceled"),
            stat(
                "Deleted",
                ConsoleDashboardState.deleted_count,
                "metric-deleted",
                "removed by you: not counted as cancellations",
            ),
            stat(
                "Recovered this month",
                ConsoleDashboardState.recovered,
                "metric-recovered",
                ConsoleDashboardState.recovered_note,
            ),
            rx.cond(
                ConsoleDashboardState.needs_review_count > 0,
                stat(
                    "Payments to review",
                    ConsoleDashboardState.needs_review_count,
                    "metric-needs-review",
                    "outcome unknown: not charged automatically; see the subscriber's timeline",
                ),
            ),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        section(_chart(), title="MRR over time"),
        retention_card(),
        section(
            rx.cond(
                ConsoleDashboardState.reasons.length() > 0,
                rx.el.ul(
                    rx.foreach(
                        ConsoleDashboardState.reasons,
                        lambda r: rx.el.li(
                            rx.flex(
                                rx.text(r["label"]),
                                rx.badge(r["count"], size="2", color_scheme="gray"),
                                justify="between",
                                align="center",
                                width="100%",
                            ),
                            padding="8px 0",
                            border_bottom="1px solid var(--gray-4)",
                            list_style="none",
                        ),
                    ),
                    padding="0",
                    margin="0",
                    width="100%",
                    data_testid="cancellation-reasons",
                ),
                rx.text("No cancellations yet.", color_scheme="gray"),
            ),
            title="Cancellation reasons",
        ),
        current=routes.CONSOLE_HOME,
    )
