"""Console login throttling that slows guessing without letting strangers lock the owner out.

Failed logins count per client IP, per account + IP, and per account from untrusted clients. A
browser that signed in to the account before carries a device cookie (billing/login_devices.py):
it is not held back by the strangers' counters, only by its own, so when attackers exhaust an
account's budget every unknown client waits, and the owner's own browser still signs in (OWASP,
"Slow Down Online Guessing Attacks with Device Cookies"). A throttled attempt gets the same answer
as a wrong password, after the same Argon2 work.
"""

from __future__ import annotations

from portal_app.ratelimit import RateLimiter

WINDOW_SECONDS = 900
# Any accounts from one address (an office behind one NAT stays well inside it).
login_ip_limiter = RateLimiter("login-ip", limit=30, window_seconds=WINDOW_SECONDS)
# One account from one address: a person mistyping is fine, a script is not.
login_account_ip_limiter = RateLimiter("login-account-ip", limit=5, window_seconds=WINDOW_SECONDS)
# One account from every untrusted client together: a botnet spreading guesses over addresses.
login_account_limiter = RateLimiter("login-account", limit=10, window_seconds=WINDOW_SECONDS)
# One known device of one account (a stolen device cookie is held back on its own).
login_device_limiter = RateLimiter("login-device", limit=10, window_seconds=WINDOW_SECONDS)


def _device_key(account: str, device: str) -> str:
    return f"{account}|{device}"


def may_attempt(*, account: str, ip: str, device: str | None) -> bool:
    """Whether this attempt is checked at all (else it is refused like a wrong password).

    A known device of the account answers only to its own counter; anyone else to the shared ones.
    """
    if device is not None:
        return not login_device_limiter.blocked(_device_key(account, device))
    return not (
        login_ip_limiter.blocked(ip)
        or login_account_ip_limiter.blocked(f"{account}|{ip}")
        or login_account_limiter.blocked(account)
    )


def record_failure(*, account: str, ip: str, device: str | None) -> None:
    """A wrong password: a known device spends its own budget, anyone else the shared ones."""
    if device is not None:
        login_device_limiter.hit(_device_key(account, device))
        return
    login_ip_limiter.hit(ip)
    login_account_ip_limiter.hit(f"{account}|{ip}")
    login_account_limiter.hit(account)
