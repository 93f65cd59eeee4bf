"""Codes on their way out: the message for the channel and locale, handed to its sender."""

import contextvars
import logging
import math
import threading
import time
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


class BackgroundCourier:
    """Sends codes in an executor and returns at once, so that an answer never waits for a
    channel. A code the channel refuses is only logged, under the request's log context. At
    most `max_queued` codes wait or leave at once (a flood is dropped, not held in memory),
    and a code that expired while it waited is dropped: the customer asks for a new one."""

    def __init__(self, courier: Courier, executor: Executor, max_queued: int = 1000):
        self.courier = courier
        self.executor = executor
        self.max_queued = max_queued
        self._room = threading.BoundedSemaphore(max_queued)

    def send_code(self, channel: str, to: str, code: str, locale: str) -> None:
        if not self._room.acquire(blocking=False):
            waiting = self.max_queued
            log.warning("%s code dropped: %d sign-in codes are on their way already", channel, waiting)
            return
        expires_at = time.monotonic() + self.courier.code_ttl

        def send() -> None:
            try:
                if time.monotonic() >= expires_at:
                    log.warning("%s code dropped: it expired before a sender was free", channel)
                    return
                self.courier.send_code(channel, to, code, locale)
            except DeliveryFailed as failure:
                # The reason names the provider and what it did, never the destination.
                log.warning("%s code not delivered: %s", channel, failure)
            except Exception as error:
                log.error("%s code not sent: %s", channel, type(error).__name__)
            finally:
                self._room.release()

        try:
            self.executor.submit(contextvars.copy_context().run, send)
        except RuntimeError:  # shut down
            self._room.release()
            raise

    def close(self) -> None:
        """Let the codes still queued leave (within gunicorn's graceful timeout)."""
        self.executor.shutdown(wait=True)
