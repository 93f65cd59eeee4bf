"""Where codes leave the service: one `Sender` port, one implementation per technology, chosen
by `SMS_CHANNEL` and `EMAIL_CHANNEL`; a new provider is one class and one line in `SENDERS`."""

from collections.abc import Callable

from app.channels.base import ConsoleSender, DeliveryFailed, Message, Sender
from app.channels.http_sms import HttpSmsSender, TwilioSender
from app.channels.smtp import SmtpSender
from app.identity import EMAIL, PHONE
from config.settings import Config, ConfigError

__all__ = ["DeliveryFailed", "Message", "create_senders"]

SENDERS: dict[str, dict[str, Callable[[Config], Sender]]] = {
    PHONE: {
        "console": lambda config: ConsoleSender(PHONE),
        "http": HttpSmsSender.create_service,
        "twilio": TwilioSender.create_service,
    },
    EMAIL: {"console": lambda config: ConsoleSender(EMAIL), "smtp": SmtpSender.create_service},
}
VARIABLES = {PHONE: "SMS_CHANNEL", EMAIL: "EMAIL_CHANNEL"}


def create_senders(config: Config) -> dict[str, Sender]:
    """One sender per channel, as configured; an unknown name is a configuration error."""
    senders = {}
    for channel, variable in VARIABLES.items():
        name = getattr(config, variable)
        if name not in SENDERS[channel]:
            raise ConfigError(f"{variable} must be one of {', '.join(SENDERS[channel])}, not {name!r}")
        senders[channel] = SENDERS[channel][name](config)
    return senders
