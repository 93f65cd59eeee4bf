"""Email over SMTP: implicit TLS or STARTTLS, optional login, a timeout on every step."""

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

from app.channels.base import DeliveryFailed, Message
from config.settings import Config, ConfigError


@dataclass(frozen=True)
class SmtpSender:
    """Sends each message in its own SMTP session, as the SMTP_* settings and MAIL_FROM say."""

    config: Config
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context, repr=False)

    @classmethod
    def create_service(cls, config: Config) -> "SmtpSender":
        if missing := [name for name in ("SMTP_HOST", "MAIL_FROM") if not getattr(config, name)]:
            raise ConfigError(f"EMAIL_CHANNEL=smtp needs {' and '.join(missing)}")
        if bool(config.SMTP_USER) != bool(config.SMTP_PASSWORD):
            raise ConfigError("SMTP_USER and SMTP_PASSWORD go together: set both or neither")
        return cls(config)

    def send(self, destination: str, message: Message) -> None:
        config = self.config
        email = EmailMessage()
        email["From"] = config.MAIL_FROM
        email["To"] = destination
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain=config.MAIL_FROM.rpartition("@")[2] or None)
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        try:
            with self._connect() as session:
                if config.SMTP_USER:
                    session.login(config.SMTP_USER, config.SMTP_PASSWORD)
                session.send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(
                f"SMTP {config.SMTP_HOST}:{config.SMTP_PORT}: {type(error).__name__}"
            ) from error

    def _connect(self) -> smtplib.SMTP:
        host, port, timeout = self.config.SMTP_HOST, self.config.SMTP_PORT, self.config.CHANNEL_TIMEOUT
        if self.config.SMTP_SSL:
            return smtplib.SMTP_SSL(host, port, timeout=timeout, context=self.tls)
        session = smtplib.SMTP(host, port, timeout=timeout)
        try:
            if self.config.SMTP_STARTTLS:
                session.starttls(context=self.tls)
        except BaseException:
            session.close()
            raise
        return session
