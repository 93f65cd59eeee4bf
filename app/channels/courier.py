"""Codes on their way out: the message for the channel and locale, handed to its sender."""

import contextvars
import logging
import math
from concurrent.futures import Executor
from dataclasses import dataclass

from app.channels.base import DeliveryFailed, Sender
from app.channels.messages import code_message

log = logging.getLogger("registrar.channels")


@dataclass(frozen=True)
class Courier:
    """Sends each code by its channel's sender (`phone` or `email`), in the customer's language."""

    senders: dict[str, Sender]
    store_name: str
    code_ttl: int
    webotp_domain: str | None

    def send_code(self, channel: str, to: str, code: str, locale: str) -> None:
        """Raises DeliveryFailed when the channel does not take the message."""
        message = code_message(
            channel,
            code,
            locale=locale,
            store=self.store_name,
            minutes_left=math.ceil(self.code_ttl / 60),
            webotp_domain=self.webotp_domain,
        )
        self.senders[channel].send(to, message)


@dataclass(frozen=True)
class BackgroundCourier:
    """Sends codes in an executor and returns at once, so that an answer never waits for a
    channel. A code the channel refuses is only logged, under the request's log context."""

    courier: Courier
    executor: Executor

    def send_code(self, channel: str, to: str, code: str, locale: str) -> None:
        def send() -> None:
            try:
                self.courier.send_code(channel, to, code, locale)
            except DeliveryFailed as failure:
                # The reason names the provider and what it did, never the destination.
                log.warning("%s code not delivered: %s", channel, failure)
            except Exception as error:
                log.error("%s code not sent: %s", channel, type(error).__name__)

        self.executor.submit(contextvars.copy_context().run, send)

    def close(self) -> None:
        """Let the codes still queued leave (within gunicorn's graceful timeout)."""
        self.executor.shutdown(wait=True)
