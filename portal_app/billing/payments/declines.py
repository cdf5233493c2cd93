"""Decline codes the engine itself produces (no gateway said them).

Codes are Stripe's `decline_code` names (the gateways report those). The domain hands codes on;
the words a customer reads are chosen at the edge by `portal_app.i18n.decline_message(code, lang)`.
"""

from __future__ import annotations

NO_PAYMENT_METHOD = "no_payment_method"  # nothing to charge: soft, dunning waits for a card
NEVER_REACHED = "processing_error"  # the gateway never saw the attempt: nothing was charged
AUTHENTICATION_REQUIRED = "authentication_required"  # default code of a REQUIRES_ACTION answer
CARD_GONE = "resource_missing"  # the gateway lost the customer or the card
