"""Payments: charging (claim, call, record), settlement of unknown outcomes, cards, card updates, declines."""
