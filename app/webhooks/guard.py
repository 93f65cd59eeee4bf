"""Where webhooks may go: http(s) URLs whose host is a plain DNS name or IP literal and resolves
only to public addresses, so that a subscriber cannot point the worker at the loopback interface,
the private network or a cloud metadata service. WEBHOOK_ALLOW_PRIVATE_URLS turns the address check
off (development, tests), never the check of the URL's form.

The URL is parsed here once, and the worker sends to what `parse_url` made of it, at an address
`resolve` checked: no other parser reads the URL, and no second DNS look-up comes in between."""

import ipaddress
import re
import socket
import string
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as LookupTimeout
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

MAX_URL_LENGTH = 2048
DNS_TIMEOUT = 5.0  # seconds a look-up may take
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# A last label of digits (or 0x…) is an IPv4 address to browsers and to getaddrinfo alike.
_NUMERIC = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
# getaddrinfo (which reads /etc/hosts too) in a thread of its own per name, so that a look-up can be
# given up on: a name whose DNS never answers holds one thread, and no other name waits behind it.
_running_lookups: dict[str, Future] = {}
_running_lookups_lock = threading.Lock()


class UnsafeUrl(ValueError):
    """The URL may not receive webhooks; the message says why, in English."""


@dataclass(frozen=True)
class Target:
    """Where a URL's requests go: `host` is a DNS name in ASCII (after IDNA) or an IP address."""

    scheme: str
    host: str
    port: int
    path: str  # path and query, percent-encoded ASCII

    @property
    def authority(self) -> str:
        """The Host header: the name, and the port unless it is the scheme's own."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == (443 if self.scheme == "https" else 80) else f"{host}:{self.port}"


def parse_url(url: str) -> Target:
    """Where an http(s) URL without credentials points, else UnsafeUrl."""
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrl(f"Use a URL of at most {MAX_URL_LENGTH} characters.")
    if not url.isprintable() or " " in url:
        raise UnsafeUrl("Use an http:// or https:// URL.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # an unclosed IPv6 bracket, a port out of range
        raise UnsafeUrl("Use an http:// or https:// URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        raise UnsafeUrl("Use an http:// or https:// URL.")
    if "@" in parts.netloc:
        raise UnsafeUrl("Put no credentials in the URL: verify the signature instead.")
    host = _plain_host(parts.hostname, bracketed=parts.netloc.startswith("["))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")  # the fragment stays behind
    port = port or (443 if parts.scheme == "https" else 80)
    return Target(parts.scheme, host, port, quote(path, string.punctuation))


def _plain_host(host: str, bracketed: bool) -> str:
    """The host as an IP literal or a DNS name of letters, digits and hyphens (after IDNA); a
    backslash, a space, a percent sign or anything else another parser could read otherwise is
    refused."""
    refusal = UnsafeUrl("Use a host that is a plain DNS name or IP address.")
    if bracketed:
        try:
            if "%" not in host:  # no zone: fe80::1%25eth0 means one interface of this machine
                return str(ipaddress.IPv6Address(host))
        except ValueError:
            pass
        raise refusal
    try:
        name = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        raise refusal from None
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise refusal
    if _NUMERIC.fullmatch(labels[-1]):
        try:
            return str(ipaddress.IPv4Address(name))  # four decimal numbers, no other spelling
        except ValueError:
            raise refusal from None
    return name


def resolve(target: Target, *, allow_private: bool, timeout: float = DNS_TIMEOUT) -> list[IPAddress]:
    """The addresses to send to, each checked now: UnsafeUrl if one of them is not public (unless
    `allow_private`), or if the name does not resolve within `timeout` seconds."""
    try:
        addresses = [ipaddress.ip_address(target.host)]
    except ValueError:  # a name
        addresses = _addresses(target.host, timeout)
    if not allow_private and not all(_public(address) for address in addresses):
        raise UnsafeUrl("This host is on a private, loopback or link-local network.")
    return addresses


def check_url(url: str, *, allow_private: bool) -> Target:
    """Where the URL points if webhooks may be sent to it now, else UnsafeUrl. Its addresses are
    looked up only when they are checked, that is unless `allow_private`."""
    target = parse_url(url)
    if not allow_private:
        resolve(target, allow_private=False)
    return target


def _addresses(host: str, timeout: float) -> list[IPAddress]:
    with _running_lookups_lock:  # the look-up of `host` already running, or one of its own
        lookup = _running_lookups.get(host)
        if lookup is None:
            lookup = _running_lookups[host] = Future()
            threading.Thread(target=_look_up, args=(host, lookup), name="webhook-dns", daemon=True).start()
    try:
        infos = lookup.result(timeout)
    except LookupTimeout:
        raise UnsafeUrl("This host did not resolve in time.") from None
    except (OSError, UnicodeError):
        raise UnsafeUrl("This host does not resolve.") from None
    # Each address once, in getaddrinfo's order of preference; a scope (fe80::1%eth0) dropped.
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def _look_up(host: str, lookup: Future) -> None:
    try:
        lookup.set_result(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
    except BaseException as error:
        lookup.set_exception(error)
    finally:
        with _running_lookups_lock:
            del _running_lookups[host]


# IPv6 forms that carry an IPv4 address, which is the one that counts.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return _public(embedded)
    return address.is_global and not address.is_multicast
