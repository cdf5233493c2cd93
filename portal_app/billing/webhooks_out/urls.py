"""Which endpoint URLs our server may POST to (a merchant-given URL is fetched by us: SSRF).

Production (ENVIRONMENT=production): https only, no credentials in the URL, and the host must not
be loopback, private, link-local (cloud metadata at 169.254.169.254), multicast or reserved - neither
as written (checked when the endpoint is created) nor as resolved (checked again before each
delivery, so a name that later points inside is refused then). Redirects are never followed.
Elsewhere (development, test) http:// and loopback hosts are allowed too, for local receivers.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from portal_app.billing.errors import BillingError

MAX_URL_LENGTH = 2048
_LOCAL_NAMES = ("localhost", "localhost.localdomain")


class EndpointUrlError(BillingError):
    code = "invalid_url"

    def __init__(self, message: str):
        super().__init__(message, field="url")


def _is_internal_ip(host: str) -> bool | None:
    """True/False for an IP literal, None for a name."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_endpoint_url(url: object, *, production: bool) -> str:
    """The URL, stripped, if we may deliver to it; EndpointUrlError (field "url") otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise EndpointUrlError("Enter the endpoint's URL.")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise EndpointUrlError(f"Enter a URL of at most {MAX_URL_LENGTH} characters, without spaces.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise EndpointUrlError("This is not a valid URL.") from exc
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme.lower() not in allowed or not host:
        raise EndpointUrlError("The URL must start with https://." if production else "Enter an http(s):// URL.")
    if parts.username is not None or parts.password is not None:
        raise EndpointUrlError("The URL must not contain a user name or password.")
    if production and (host in _LOCAL_NAMES or host.endswith(".localhost") or _is_internal_ip(host)):
        raise EndpointUrlError("The URL must point to a public address, not a local or private one.")
    return url


def resolves_to_internal(url: str) -> bool:
    """Whether the URL's host resolves to any non-public address (checked before each production
    delivery). A name that does not resolve is not internal: the POST then fails as unreachable."""
    host = urlsplit(url).hostname or ""
    literal = _is_internal_ip(host)
    if literal is not None:
        return literal
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return any(_is_internal_ip(info[4][0]) for info in infos)
