"""What a renewal bills: the plan (a scheduled plan change takes effect here), its period, and the
lines of its invoice (the plan's price, an accepted retention discount, credit owed to the subscriber),
with the subscription columns the renewal moves on. Pure: no queries, so a billing run computes
thousands of these per batch.

Money rules (integer minor units, the plan's currency):
- the discount comes off the plan price first: a percentage is rounded half-up once on the price; an
  amount never exceeds the price;
- credit then covers what is left, never more: the invoice total is never negative, and whatever
  credit the invoice could not take stays on the subscription for the next one;
- a total of zero is paid at once by the renewal (nothing to charge), see renewal_invoices.issue_renewal_invoices.

Line texts are stored in English with ISO dates and read again in the invoice's language by
documents/invoice_view.line_description (the PDF) and the portal: keep the patterns below in step.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from portal_app.billing.money import Money
from portal_app.billing.periods import period_bounds

DISCOUNT_PERCENT = "percent"
DISCOUNT_AMOUNT = "amount"
DISCOUNT_KINDS = (DISCOUNT_PERCENT, DISCOUNT_AMOUNT)

# Stored line texts (English, parsed back by documents/invoice_view.line_description).
DISCOUNT_PERCENT_LINE = "Discount ({value}% off)"
DISCOUNT_AMOUNT_LINE = "Discount"
CREDIT_LINE = "Credit applied"


@dataclasses.dataclass(frozen=True)
class RenewalLine:
    description: str
    amount_minor: int  # negative for a discount or credit


@dataclasses.dataclass(frozen=True)
class RenewalTerms:
    plan_id: int  # the plan this renewal bills (a scheduled change's target)
    period_start: datetime
    period_end: datetime
    lines: tuple[RenewalLine, ...]
    # Subscription columns the renewal sets besides the period (plan, anchor, credit, discount).
    updates: dict[str, Any]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for line in self.lines)


def period_description(plan_name: str, start: datetime, end: datetime) -> str:
    """Line text for one billing period; ISO dates so the stored text reads the same in every language."""
    return f"{plan_name} ({start:%Y-%m-%d} – {end:%Y-%m-%d})"


def discount_off(kind: str, value: int, price: Money) -> Money:
    """What a discount of `kind` and `value` takes off `price` (never more than the price, never < 0)."""
    if kind == DISCOUNT_PERCENT:
        if not 0 <= value <= 100:
            raise ValueError("a percentage discount is between 0 and 100")
        off = price.percent_bp(value * 100)
    elif kind == DISCOUNT_AMOUNT:
        if value < 0:
            raise ValueError("a discount amount is not negative")
        off = Money(value, price.currency)
    else:
        raise ValueError(f"unknown discount kind {kind!r}")
    return Money(min(max(off.amount_minor, 0), price.amount_minor), price.currency)


def discount_line(kind: str, value: int, price: Money) -> RenewalLine | None:
    off = discount_off(kind, value, price)
    if not off.amount_minor:
        return None
    text = DISCOUNT_PERCENT_LINE.format(value=value) if kind == DISCOUNT_PERCENT else DISCOUNT_AMOUNT_LINE
    return RenewalLine(text, -off.amount_minor)


def renewal_terms(row, plans: dict[int, Any]) -> RenewalTerms:
    """The next period of the due subscription `row` and its invoice lines.

    `row` has the Subscription columns plan_id, pending_plan_id, anchor_at, period_index,
    current_period_end, credit_minor, discount_kind, discount_value, discount_cycles_left; `plans`
    holds every plan it names. A scheduled plan change takes effect: the new plan is billed from the
    old period's end; when its interval differs, the anchor moves to that instant (same interval:
    the anchor stays, so Jan 31 -> Feb 28 -> Mar 31 does not drift)."""
    updates: dict[str, Any] = {}
    plan = plans[row.plan_id]
    anchor, index = row.anchor_at, row.period_index + 1
    if row.pending_plan_id is not None:
        new = plans[row.pending_plan_id]
        if new.currency != plan.currency:
            raise ValueError("a plan change keeps the currency")
        if (new.interval, new.interval_count) != (plan.interval, plan.interval_count):
            anchor, index = row.current_period_end, 0
            updates |= {"anchor_at": anchor}
        plan = new
        updates |= {"plan_id": new.id, "pending_plan_id": None}
    start, end = period_bounds(anchor, plan.interval, plan.interval_count, index)
    updates |= {"period_index": index}
    price = Money(plan.amount_minor, plan.currency)
    lines = [RenewalLine(period_description(plan.name, start, end), price.amount_minor)]
    left = price.amount_minor
    if row.discount_cycles_left > 0 and row.discount_kind:
        line = discount_line(row.discount_kind, row.discount_value, price)
        if line is not None:
            lines.append(line)
            left += line.amount_minor
        cycles = row.discount_cycles_left - 1
        updates |= {"discount_cycles_left": cycles}
        if cycles == 0:
            updates |= {"discount_kind": "", "discount_value": 0}
    if row.credit_minor > 0 and left > 0:
        applied = min(row.credit_minor, left)
        lines.append(RenewalLine(CREDIT_LINE, -applied))
        updates |= {"credit_minor": row.credit_minor - applied}
    return RenewalTerms(plan.id, start, end, tuple(lines), updates)
