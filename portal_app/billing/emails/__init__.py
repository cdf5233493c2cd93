"""Customer emails: rendering (render.py), the outbox rows (outbox.py), their statuses (status.py),
SMTP conversation (smtp.py) and delivery with retries, crash recovery and resend (delivery.py)."""
