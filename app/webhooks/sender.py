"""One delivery attempt on the wire: the event POSTed to its endpoint, signed the Standard
Webhooks way, to an address checked just before, within a deadline, over connections kept open
from one attempt to the next."""

import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import NewConnectionError

from app.webhooks.deadline import Pool, TlsPool, attempt_deadline
from app.webhooks.guard import DNS_TIMEOUT, IPAddress, Target, UnsafeUrl, parse_url, resolve

log = logging.getLogger("registrar.webhooks")

REQUEST_TIMEOUT = 10  # seconds, API.md §3
MAX_ANSWER_READ = 64 * 1024
MAX_POOLS = 64  # hosts (at one address each) whose connections are kept


@dataclass(frozen=True)
class Attempt:
    """One delivery claimed for sending, until its lease (`token`) runs out at `lease_ends`
    (time.monotonic()); then another worker may claim it."""

    id: str
    endpoint_id: str
    event_id: str
    url: str
    secret: str
    payload: str
    attempts: int  # before this one
    token: str
    lease_ends: float


class WebhookSender:
    """Sends attempts from many threads at once, each to an address checked for it, within
    `deadline` seconds in all; keeps connections for the next attempt to the same host at the same
    address. Takes no proxy or credentials from the environment; trusts the system's CAs, or
    those of the file SSL_CERT_FILE names."""

    def __init__(self, *, allow_private_urls: bool, deadline: float = REQUEST_TIMEOUT):
        self.allow_private_urls = allow_private_urls
        self.deadline = deadline
        timeout = urllib3.Timeout(connect=5, read=REQUEST_TIMEOUT)
        # The least recently used pool is closed past MAX_POOLS.
        self._pools = urllib3.PoolManager(MAX_POOLS, maxsize=4, timeout=timeout)
        self._pools.pool_classes_by_scheme = {"http": Pool, "https": TlsPool}

    def send(self, attempt: Attempt) -> int | None:
        """POST the event; the status it was answered with, or None if there was no answer in
        time. No redirect is followed and at most 64 KiB is read: a subscriber says a status, no
        more. A URL that is not safe now is never connected to."""
        response = failure = None
        with attempt_deadline(self.deadline) as deadline:
            try:
                response = self._post(attempt)
                response.read(MAX_ANSWER_READ)
            except UnsafeUrl as refusal:
                log.warning("delivery %s not sent: %s", attempt.id, refusal)
                return None
            except Exception as error:
                failure = type(error).__name__
        # Out of the block the deadline watches the connection no more: back to its pool it goes,
        # closed unless its answer was read to the end.
        if response is not None:
            if not response.closed:
                response.close()
            response.release_conn()
        if deadline.passed or failure:  # cut short, what was read may look whole, and is not
            log.info("delivery %s: no answer (%s)", attempt.id, "deadline" if deadline.passed else failure)
            return None
        return response.status

    def _post(self, attempt: Attempt) -> urllib3.BaseHTTPResponse:
        target = parse_url(attempt.url)
        addresses = resolve(
            target, allow_private=self.allow_private_urls, timeout=min(DNS_TIMEOUT, self.deadline)
        )
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
        # TLS to the address, for the name: SNI and the certificate's check are the name's.
        tls = {"server_hostname": target.host} if target.scheme == "https" else None
        pool = self._pools.connection_from_host(str(address), target.port, target.scheme, pool_kwargs=tls)
        return pool.urlopen(
            "POST",
            target.path,
            body=payload.encode(),
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            decode_content=False,
        )
