"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses, so that a
subscriber cannot point the worker at the loopback interface, the private network or a cloud
metadata service. WEBHOOK_ALLOW_PRIVATE_URLS turns the address check off (development, tests)."""

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why, in English."""


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if webhooks may be sent to it now, else UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Use a URL of at most {MAX_URL_LENGTH} characters.")
    if not url.isprintable() or " " in url:
        raise UnsafeUrl("Use an http:// or https:// URL.")
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed IPv6 bracket, for one
        raise UnsafeUrl("Use an http:// or https:// URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeUrl("Use an http:// or https:// URL.")
    if parts.username or parts.password:
        raise UnsafeUrl("Put no credentials in the URL: verify the signature instead.")
    try:
        port = parts.port
    except ValueError:
        raise UnsafeUrl("Use an http:// or https:// URL.") from None
    if allow_private:
        return url
    for address in _addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80)):
        if not _public(address):
            raise UnsafeUrl("This host is on a private, loopback or link-local network.")
    return url


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeUrl("This host does not resolve.") from None
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


# IPv6 forms that carry an IPv4 address, which is the one that counts.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
    return address.is_global and not address.is_multicast
