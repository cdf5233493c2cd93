"""/console/dashboard: the "Retention offers" card: offers shown, accepted, and the revenue they kept
(the paid discounted invoices of subscribers who accepted; see billing/retention.retention_stats)."""

from __future__ import annotations

import reflex as rx

from portal_app.billing.facades.console import retention_stats
from portal_app.components.console_layout import section, stat
from portal_app.pages.console.base import ConsoleState, money


class ConsoleRetentionCardState(ConsoleState):
    offers_shown: int = 0
    offers_accepted: int = 0
    revenue_kept: str = "—"

    @rx.event
    def load_retention_card(self):
        identity = self._authorize()
        if identity is None:
            return
        stats = retention_stats.retention_card(merchant_id=identity.merchant_id)
        self.offers_shown, self.offers_accepted = stats.shown, stats.accepted
        self.revenue_kept = " + ".join(money(m) for m in stats.revenue_kept) or "—"


def retention_card() -> rx.Component:
    S = ConsoleRetentionCardState
    return section(
        rx.flex(
            stat("Shown", S.offers_shown, "retention-shown"),
            stat("Accepted", S.offers_accepted, "retention-accepted"),
            stat("Revenue kept", S.revenue_kept, "retention-kept", "paid discounted invoices of those who stayed"),
            spacing="3",
            wrap="wrap",
            width="100%",
        ),
        title="Retention offers",
        on_mount=S.load_retention_card,
        data_testid="retention-card",
    )
