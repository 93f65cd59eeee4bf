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
    """Sends each message in its own SMTP session."""

    host: str
    port: int
    sender: str
    user: str | None
    password: str | None = field(repr=False)
    implicit_tls: bool
    starttls: bool
    timeout: float
    tls: ssl.SSLContext = field(default_factory=ssl.create_default_context, repr=False)

    @classmethod
    def create_service(cls, config: Config) -> "SmtpSender":
        if missing := [name for name in ("SMTP_HOST", "MAIL_FROM") if not getattr(config, name)]:
            raise ConfigError(f"EMAIL_CHANNEL=smtp needs {' and '.join(missing)}")
        if bool(config.SMTP_USER) != bool(config.SMTP_PASSWORD):
            raise ConfigError("SMTP_USER and SMTP_PASSWORD go together: set both or neither")
        return cls(
            host=config.SMTP_HOST,
            port=config.SMTP_PORT,
            sender=config.MAIL_FROM,
            user=config.SMTP_USER,
            password=config.SMTP_PASSWORD,
            implicit_tls=config.SMTP_SSL,
            starttls=config.SMTP_STARTTLS,
            timeout=config.CHANNEL_TIMEOUT,
        )

    def send(self, destination: str, message: Message) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = destination
        email["Subject"] = message.subject
        email["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        try:
            with self._connect() as session:
                if self.user:
                    session.login(self.user, self.password)
                session.send_message(email)
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryFailed(f"SMTP {self.host}:{self.port}: {type(error).__name__}") from error

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls)
        session = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            if self.starttls:
                session.starttls(context=self.tls)
        except BaseException:
            session.close()
            raise
        return session
