"""Outgoing webhooks (Standard Webhooks): the event outbox written with each change (events.py), the
merchant's endpoints (endpoints.py), delivery by the billing runner with backoff (delivery.py), the
URL rule that keeps our server from being pointed at itself (urls.py), and reading (queries.py)."""
