"""What the UI and the HTTP API may call: each call owns its transaction and returns plain read models."""
