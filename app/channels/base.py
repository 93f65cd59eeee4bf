"""The port every channel implements."""

from dataclasses import dataclass
from typing import Protocol


class DeliveryFailed(Exception):
    """The channel did not accept the message (refused, errored or timed out)."""


@dataclass(frozen=True)
class Message:
    """A message for one destination: an SMS is its `text`; an email also has a subject
    and an HTML version of the text."""

    text: str
    subject: str | None = None
    html: str | None = None


class Sender(Protocol):
    def send(self, destination: str, message: Message) -> None:
        """Hand `message` to the channel for `destination`; raise DeliveryFailed if it is not taken."""
