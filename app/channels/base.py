"""The port every channel implements, and the console channel of development."""

import logging
from dataclasses import dataclass
from typing import Protocol

from app.identity import mask

log = logging.getLogger("registrar.channels.console")


class DeliveryFailed(Exception):
    """The channel did not accept the message (refused, errored or timed out)."""


@dataclass(frozen=True)
class Message:
    """An SMS is its `text`; an email also has a subject and an HTML version of the text."""

    text: str
    subject: str | None = None
    html: str | None = None


class Sender(Protocol):
    def send(self, destination: str, message: Message) -> None:
        """Hand `message` to the channel for `destination`; raise DeliveryFailed if it is not taken."""


@dataclass(frozen=True)
class ConsoleSender:
    """Writes each message, code included, to the log: for development only."""

    channel: str

    def send(self, destination: str, message: Message) -> None:
        subject = f" [{message.subject}]" if message.subject else ""
        log.info("%s to %s%s: %s", self.channel, mask(self.channel, destination), subject, message.text)
