"""What the UI and the API may call: each call owns its transaction and returns typed read models."""
