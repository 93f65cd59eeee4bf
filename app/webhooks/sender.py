"""One delivery attempt on the wire: the event POSTed to its endpoint, signed the Standard
Webhooks way, to an address checked just before, within a deadline, over connections kept open
from one attempt to the next."""

import contextlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import NewConnectionError

from app.webhooks.deadline import Deadline, Deadlines, Pool, TlsPool
from app.webhooks.guard import DNS_TIMEOUT, IPAddress, Target, UnsafeUrl, parse_url, resolve

log = logging.getLogger("registrar.webhooks")

REQUEST_TIMEOUT = 10  # seconds, API.md §3
MAX_ANSWER_READ = 64 * 1024
MAX_POOLS = 64  # hosts (at one address each) whose connections are kept
Resolver = Callable[..., list[IPAddress]]


@dataclass(frozen=True)
class Attempt:
    """One delivery claimed for sending."""

    id: str
    endpoint_id: str
    event_id: str
    url: str
    secret: str
    payload: str
    attempts: int  # before this one


class WebhookSender:
    """Sends attempts from many threads at once, each to an address checked for it, within
    `deadline` seconds in all; keeps connections for the next attempt to the same host at the same
    address. Takes no proxy or credentials from the environment. `resolve` is the DNS look-up
    (tests give their own); `ca_certs` adds trust roots to the system's."""

    def __init__(
        self,
        *,
        allow_private_urls: bool,
        deadline: float = REQUEST_TIMEOUT,
        resolver: Resolver = resolve,
        ca_certs: str | None = None,
    ):
        self.allow_private_urls = allow_private_urls
        self.deadline = deadline
        self.resolve = resolver
        self.ca_certs = ca_certs
        self._timeout = urllib3.Timeout(connect=min(5, REQUEST_TIMEOUT), read=REQUEST_TIMEOUT)
        self._deadlines = Deadlines()
        self._pools: OrderedDict[tuple, urllib3.HTTPConnectionPool] = OrderedDict()
        self._pools_lock = threading.Lock()

    def send(self, attempt: Attempt) -> int | None:
        """POST the event; the status it was answered with, or None if there was no answer in
        time. No redirect is followed and at most 64 KiB is read: a subscriber says a status, no
        more. A URL that is not safe now is never connected to."""
        with self._deadlines.running(self.deadline) as deadline:
            try:
                response = self._exchange(attempt, deadline)
            except UnsafeUrl as refusal:
                log.warning("delivery %s not sent: %s", attempt.id, refusal)
                return None
            except Exception as error:
                cause = "deadline" if deadline.passed else type(error).__name__
                log.info("delivery %s: no answer (%s)", attempt.id, cause)
                return None
        # Out of the block the deadline watches the connection no more: back to its pool it goes.
        _finish(response)
        if deadline.passed:  # cut short: what was read of the answer may look whole, and is not
            log.info("delivery %s: no answer (deadline)", attempt.id)
            return None
        return response.status

    def _exchange(self, attempt: Attempt, deadline: Deadline) -> urllib3.BaseHTTPResponse:
        target = parse_url(attempt.url)
        timeout = min(DNS_TIMEOUT, deadline.remaining)
        addresses = self.resolve(target, allow_private=self.allow_private_urls, timeout=timeout)
        response = self._post(attempt, target, addresses)
        try:
            response.read(MAX_ANSWER_READ)
        except BaseException:
            response.close()
            raise
        return response

    def _post(self, attempt: Attempt, target: Target, addresses: list[IPAddress]) -> urllib3.BaseHTTPResponse:
        sent_at = datetime.now(UTC)
        headers = {
            "Host": target.authority,
            "User-Agent": "Registrar-Webhooks/1",
            "Content-Type": "application/json",
            "webhook-id": attempt.event_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(attempt.secret).sign(attempt.event_id, sent_at, attempt.payload),
        }
        # The next address only when this one could not be connected to: nothing was sent yet.
        for address in addresses[:-1]:
            with contextlib.suppress(NewConnectionError):
                return self._post_to(address, target, headers, attempt.payload)
        return self._post_to(addresses[-1], target, headers, attempt.payload)

    def _post_to(
        self, address: IPAddress, target: Target, headers: dict, payload: str
    ) -> urllib3.BaseHTTPResponse:
        return self._pool(target, address).urlopen(
            "POST",
            target.path,
            body=payload.encode(),
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            decode_content=False,
        )

    def _pool(self, target: Target, address: IPAddress) -> urllib3.HTTPConnectionPool:
        """The pool of connections to `address` for `target`'s host; the least recently used
        pool is closed past MAX_POOLS."""
        key = (target.scheme, str(address), target.port, target.host)
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._new_pool(target, address)
                if len(self._pools) > MAX_POOLS:
                    self._pools.popitem(last=False)[1].close()
            self._pools.move_to_end(key)
        return pool

    def _new_pool(self, target: Target, address: IPAddress) -> urllib3.HTTPConnectionPool:
        options = {"timeout": self._timeout, "maxsize": 4, "deadlines": self._deadlines}
        if target.scheme == "http":
            return Pool(str(address), target.port, **options)
        # TLS to the address, for the name: SNI and the certificate's check are the name's.
        return TlsPool(
            str(address),
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=self.ca_certs,
            **options,
        )


def _finish(response: urllib3.BaseHTTPResponse) -> None:
    """Hand the connection of an answer read to its end back; close a longer one's."""
    try:
        if not response.closed:
            response.close()
    finally:
        response.release_conn()
