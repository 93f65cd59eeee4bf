"""Where webhooks may go: http(s) URLs whose host resolves only to public addresses.

A subscriber's URL is the attacker's to choose. Without this guard it could point the
worker at the loopback interface, the private network or a cloud metadata service
(169.254.169.254, fd00:ec2::254) and read or poke at them. WEBHOOK_ALLOW_PRIVATE_URLS
turns the address check off, for development and tests.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why, in English."""


def check_url(url: str, *, allow_private: bool) -> str:
    """The URL if webhooks may be sent to it now, else UnsafeUrl."""
    parts = urlsplit(url)
    if len(url) > MAX_URL_LENGTH or parts.scheme not in ("http", "https") or not parts.hostname:
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


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast
