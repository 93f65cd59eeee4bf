"""The development channel: a message is written to the service log instead of being sent."""

import logging

from app.channels.base import Message
from app.identity import mask

log = logging.getLogger("registrar.channels.console")


class ConsoleSender:
    """Writes each message, code included, to the log. For development only: in
    production the log would hold every code, so use a real channel there."""

    def __init__(self, channel: str):
        self.channel = channel

    def send(self, destination: str, message: Message) -> None:
        subject = f" [{message.subject}]" if message.subject else ""
        log.info("%s to %s%s: %s", self.channel, mask(self.channel, destination), subject, message.text)
