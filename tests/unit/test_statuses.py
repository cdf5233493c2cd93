"""Status transitions: exactly the moves in ALLOWED_TRANSITIONS are legal, nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal_app.billing.statuses import (
    ALLOWED_TRANSITIONS,
    AttemptStatus,
    InvalidTransition,
    InvoiceStatus,
    RefundStatus,
    SubscriptionStatus,
    can_transition,
    check_transition,
    renews,
    transition,
)

TABLES = {
    SubscriptionStatus: "subscription",
    InvoiceStatus: "invoice",
    AttemptStatus: "payment_attempt",
    RefundStatus: "refund",
}


class Row:
    """Stands in for a table row: transition() only needs __tablename__ and status."""

    def __init__(self, tablename: str, status: str):
        self.__tablename__ = tablename
        self.status = status


def row(enum, status) -> Row:
    return Row(TABLES[enum], str(status))


def test_stripe_names():
    assert [s.value for s in SubscriptionStatus] == [
        "trialing", "active", "past_due", "canceled", "unpaid", "incomplete", "paused"
    ]  # fmt: skip
    assert [s.value for s in InvoiceStatus] == ["draft", "open", "paid", "void", "uncollectible"]
    assert [s.value for s in AttemptStatus] == [
        "pending",
        "succeeded",
        "failed",
        "requires_action",
        "unknown",
        "review",
        "refunded",
    ]


def test_every_status_has_a_row_in_its_table():
    for enum, table in ALLOWED_TRANSITIONS.items():
        assert set(table) == set(enum)
        for targets in table.values():
            assert all(isinstance(t, enum) for t in targets)


def test_terminal_states():
    terminal = {enum: {s for s, targets in table.items() if not targets} for enum, table in ALLOWED_TRANSITIONS.items()}
    assert terminal[SubscriptionStatus] == {SubscriptionStatus.CANCELED}
    assert terminal[InvoiceStatus] == {InvoiceStatus.PAID, InvoiceStatus.VOID}
    assert terminal[AttemptStatus] == {AttemptStatus.SUCCEEDED, AttemptStatus.REFUNDED}


@pytest.mark.parametrize(
    ("enum", "current", "new"),
    [
        (SubscriptionStatus, "active", "past_due"),
        (SubscriptionStatus, "past_due", "active"),
        (SubscriptionStatus, "past_due", "unpaid"),
        (SubscriptionStatus, "incomplete", "active"),
        (InvoiceStatus, "draft", "open"),
        (InvoiceStatus, "open", "paid"),
        (InvoiceStatus, "uncollectible", "paid"),
        (AttemptStatus, "pending", "unknown"),
        (AttemptStatus, "unknown", "succeeded"),
    ],
)
def test_legal_moves(enum, current, new):
    obj = row(enum, current)
    transition(obj, new)
    assert obj.status == new and type(obj.status) is str


@pytest.mark.parametrize(
    ("enum", "current", "new"),
    [
        (SubscriptionStatus, "canceled", "active"),  # canceled is final
        (SubscriptionStatus, "active", "trialing"),
        (InvoiceStatus, "paid", "open"),  # finalized money never goes back
        (InvoiceStatus, "draft", "paid"),  # must be finalized first
        (InvoiceStatus, "void", "open"),
        (AttemptStatus, "unknown", "pending"),  # settle by lookup, never re-charge
        (AttemptStatus, "refunded", "succeeded"),
        (AttemptStatus, "pending", "pending"),
    ],
)
def test_illegal_moves(enum, current, new):
    obj = row(enum, current)
    with pytest.raises(InvalidTransition) as info:
        transition(obj, new)
    assert obj.status == current  # untouched on refusal
    assert (info.value.current, info.value.new) == (current, new)
    assert enum.__name__ in str(info.value)


def test_unknown_status_names_are_refused():
    with pytest.raises(ValueError):
        check_transition(InvoiceStatus, "open", "settled")
    with pytest.raises(ValueError):
        transition(row(InvoiceStatus, "open"), "PAID")


# --------------------------------------------------------------------------- properties

pairs = st.sampled_from(list(ALLOWED_TRANSITIONS)).flatmap(
    lambda enum: st.tuples(st.just(enum), st.sampled_from(list(enum)), st.sampled_from(list(enum)))
)


@given(pairs)
def test_every_pair_follows_the_table(pair):
    enum, current, new = pair
    allowed = new in ALLOWED_TRANSITIONS[enum][current]
    assert can_transition(enum, current, new) is allowed
    obj = row(enum, current.value)
    if allowed:
        transition(obj, new)
        assert obj.status == new.value
    else:
        with pytest.raises(InvalidTransition):
            transition(obj, new)
        assert obj.status == current.value


def test_all_pairs_exhaustively():
    """The property above samples; this walks every pair once so no cell is ever skipped."""
    for enum, table in ALLOWED_TRANSITIONS.items():
        for current in enum:
            for new in enum:
                if new in table[current]:
                    check_transition(enum, current, new)
                else:
                    with pytest.raises(InvalidTransition):
                        check_transition(enum, current, new)


@pytest.mark.parametrize(
    ("status", "downloadable"),
    [("draft", False), ("open", True), ("paid", True), ("uncollectible", True), ("void", False)],
)
def test_only_finalized_unvoided_invoices_are_downloadable(status, downloadable):
    from portal_app.billing.invoices import is_downloadable

    assert is_downloadable(status) is downloadable


@pytest.mark.parametrize(
    ("status", "renewing"),
    [
        ("active", True),
        ("past_due", True),  # service goes on while dunning works on the open invoice
        ("trialing", True),  # its period ends at trial_end, where the run bills the first invoice (trials.py)
        ("incomplete", False),
        ("unpaid", False),
        ("canceled", False),
    ],
)
def test_which_statuses_renew(status, renewing):
    assert renews(status) is renewing
