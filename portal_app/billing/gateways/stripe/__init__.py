"""The Stripe gateway: SDK client and retries, errors, settings check, object mapping, the gateway itself."""
