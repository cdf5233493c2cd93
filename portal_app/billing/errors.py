"""Named failures of the billing engine: each carries a code and a message for the person on the page."""

from __future__ import annotations


class BillingError(Exception):
    """A failure the caller may show as is: `message` is written for the person on the page."""

    code = "billing_error"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code


class NotFound(BillingError):
    """No such row for this merchant (another merchant's id is reported the same way)."""

    code = "not_found"


class NotAllowed(BillingError):
    """The action is not allowed in the row's current state or by the plan's policy."""

    code = "not_allowed"
