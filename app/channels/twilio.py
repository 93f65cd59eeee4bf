"""SMS through Twilio's Messages REST API."""

from dataclasses import dataclass
from urllib.parse import urlencode

from urllib3.util import make_headers

from app.channels.base import Message
from app.channels.http_sms import GatewayClient, check_url
from config.settings import Config, ConfigError


@dataclass(frozen=True)
class TwilioSender:
    """Creates one Twilio Message per SMS (POST /2010-04-01/Accounts/{sid}/Messages.json)."""

    gateway: GatewayClient
    sender: str

    @classmethod
    def create_service(cls, config: Config) -> "TwilioSender":
        needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
        missing = [name for name in needed if not getattr(config, name)]
        if missing:
            raise ConfigError(f"SMS_CHANNEL=twilio needs {', '.join(missing)}")
        api_base = check_url("TWILIO_API_BASE", config.TWILIO_API_BASE).rstrip("/")
        sid = config.TWILIO_ACCOUNT_SID
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": make_headers(basic_auth=f"{sid}:{config.TWILIO_AUTH_TOKEN}")["authorization"],
        }
        url = f"{api_base}/2010-04-01/Accounts/{sid}/Messages.json"
        return cls(GatewayClient(url, headers, timeout=config.CHANNEL_TIMEOUT), config.TWILIO_FROM)

    def send(self, destination: str, message: Message) -> None:
        form = {"To": destination, "From": self.sender, "Body": message.text}
        self.gateway.post(urlencode(form).encode())
