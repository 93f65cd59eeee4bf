"""One delivery attempt on the wire: the event POSTed to its endpoint, signed the Standard
Webhooks way, over connections kept open from one attempt to the next."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import urllib3
from standardwebhooks.webhooks import Webhook

from app.webhooks.guard import UnsafeUrl, check_url

log = logging.getLogger("registrar.webhooks")

REQUEST_TIMEOUT = 10  # seconds, API.md §3
MAX_ANSWER_READ = 64 * 1024


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
    """Sends attempts from many threads at once, keeping connections for the next attempt (to
    16 hosts, `concurrency` to each); takes no proxy or credentials from the environment."""

    def __init__(self, *, allow_private_urls: bool, concurrency: int):
        self.allow_private_urls = allow_private_urls
        timeout = urllib3.Timeout(connect=min(5, REQUEST_TIMEOUT), read=REQUEST_TIMEOUT)
        self._pools = urllib3.PoolManager(num_pools=16, maxsize=concurrency, timeout=timeout)

    def send(self, attempt: Attempt) -> int | None:
        """POST the event; the status it was answered with, or None if there was no answer.
        No redirect is followed and at most 64 KiB is read: a subscriber says a status, no more."""
        try:
            check_url(attempt.url, allow_private=self.allow_private_urls)
            response = self._post(attempt)
            _finish(response)
        except UnsafeUrl as refusal:
            log.warning("delivery %s not sent: %s", attempt.id, refusal)
            return None
        except Exception as error:
            log.info("delivery %s: no answer (%s)", attempt.id, type(error).__name__)
            return None
        return response.status

    def _post(self, attempt: Attempt) -> urllib3.BaseHTTPResponse:
        sent_at = datetime.now(UTC)
        headers = {
            "User-Agent": "Registrar-Webhooks/1",
            "Content-Type": "application/json",
            "webhook-id": attempt.event_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(attempt.secret).sign(attempt.event_id, sent_at, attempt.payload),
        }
        return self._pools.urlopen(
            "POST",
            attempt.url,
            body=attempt.payload.encode(),
            headers=headers,
            retries=False,
            redirect=False,
            preload_content=False,
            decode_content=False,
        )


def _finish(response: urllib3.BaseHTTPResponse) -> None:
    """Read a short answer to its end, handing its connection back; close a longer one's."""
    try:
        response.read(MAX_ANSWER_READ)
    finally:
        if not response.closed:
            response.close()
        response.release_conn()
