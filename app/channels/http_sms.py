"""SMS over HTTP: to a gateway of the contract's JSON protocol, or through Twilio's Messages API."""

import json
from dataclasses import dataclass
from urllib.parse import unquote, urlencode, urlsplit
from urllib.request import getproxies, proxy_bypass

import urllib3
from urllib3.util import make_headers, parse_url

from app.channels.base import DeliveryFailed, Message
from config.settings import Config, ConfigError


class GatewayClient:
    """POSTs to one URL over connections kept open for the threads that share them (gunicorn runs
    32 per worker), checking TLS against the system's CAs or the private CA `SSL_CERT_FILE` names.
    As clients of the platform do, it goes through the proxy HTTPS_PROXY or HTTP_PROXY names
    (unless NO_PROXY covers the host), and sends credentials written in the URL as basic auth."""

    def __init__(self, url: str, headers: dict[str, str], *, timeout: float):
        parts = parse_url(url)
        self.url, self.host = url, parts.host
        if parts.auth:  # percent-encoded in the URL, as a password with `@` or `:` must be
            headers = {
                "Authorization": make_headers(basic_auth=unquote(parts.auth))["authorization"],
                **headers,
            }
        self.headers = headers
        options = {
            "maxsize": 32,
            "retries": False,
            "timeout": urllib3.Timeout(connect=min(timeout, 5), read=timeout),
        }
        proxy = getproxies().get(parts.scheme)
        use_proxy = proxy and not proxy_bypass(parts.host)
        self.manager = urllib3.ProxyManager(proxy, **options) if use_proxy else urllib3.PoolManager(**options)

    def post(self, body: bytes) -> None:
        """POST `body`; raise DeliveryFailed unless the gateway answers 2xx within the timeout.
        Neither retried nor redirected: a message must not be replayed, nor sent wherever an answer
        points (a moved gateway is reconfigured). The answer is read whole: its connection serves again."""
        try:
            response = self.manager.urlopen("POST", self.url, body=body, headers=self.headers, redirect=False)
        except urllib3.exceptions.HTTPError as error:
            raise DeliveryFailed(f"{self.host}: {type(error).__name__}") from error
        if not 200 <= response.status < 300:
            raise DeliveryFailed(f"{self.host} answered {response.status}")


def check_url(variable: str, url: str | None) -> str:
    if not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"{variable} must be an http:// or https:// URL")
    return url


@dataclass(frozen=True)
class HttpSmsSender:
    """Hands each SMS to a gateway speaking the contract's simple JSON protocol."""

    gateway: GatewayClient

    @classmethod
    def create_service(cls, config: Config) -> "HttpSmsSender":
        headers = {"Content-Type": "application/json"}
        if config.SMS_HTTP_TOKEN:
            headers["Authorization"] = f"Bearer {config.SMS_HTTP_TOKEN}"
        url = check_url("SMS_HTTP_URL", config.SMS_HTTP_URL)
        return cls(GatewayClient(url, headers, timeout=config.CHANNEL_TIMEOUT))

    def send(self, destination: str, message: Message) -> None:
        self.gateway.post(json.dumps({"to": destination, "body": message.text}).encode())


@dataclass(frozen=True)
class TwilioSender:
    """Creates one Twilio Message per SMS (POST /2010-04-01/Accounts/{sid}/Messages.json)."""

    gateway: GatewayClient
    sender: str

    @classmethod
    def create_service(cls, config: Config) -> "TwilioSender":
        needed = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM")
        if missing := [name for name in needed if not getattr(config, name)]:
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
