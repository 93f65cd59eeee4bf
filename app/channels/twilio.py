"""SMS through Twilio's Messages REST API."""

from urllib.parse import urlencode

from urllib3.util import make_headers

from app.channels.base import Message
from app.channels.http_sms import GatewayClient, check_url
from config.settings import Config, ConfigError


class TwilioSender:
    """Creates one Twilio Message per SMS (POST /2010-04-01/Accounts/{sid}/Messages.json)."""

    def __init__(self, account_sid: str, auth_token: str, sender: str, *, api_base: str, timeout: float):
        url = f"{api_base.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": make_headers(basic_auth=f"{account_sid}:{auth_token}")["authorization"],
        }
        self.gateway = GatewayClient(url, headers, timeout=timeout)
        self.sender = sender

    @classmethod
    def create_service(cls, config: Config) -> "TwilioSender":
        needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
        missing = [name for name in needed if not getattr(config, name)]
        if missing:
            raise ConfigError(f"SMS_CHANNEL=twilio needs {', '.join(missing)}")
        return cls(
            config.TWILIO_ACCOUNT_SID,
            config.TWILIO_AUTH_TOKEN,
            config.TWILIO_FROM,
            api_base=check_url("TWILIO_API_BASE", config.TWILIO_API_BASE),
            timeout=config.CHANNEL_TIMEOUT,
        )

    def send(self, destination: str, message: Message) -> None:
        form = {"To": destination, "From": self.sender, "Body": message.text}
        self.gateway.post(urlencode(form).encode())
