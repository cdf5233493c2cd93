"""Customer emails: rendering (render.py) and the outbox with SMTP delivery (outbox.py)."""
