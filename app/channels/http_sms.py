"""SMS through an HTTP gateway: POST {"to", "body"} with a bearer token."""

from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from app.channels.base import DeliveryFailed, Message
from config.settings import Config, ConfigError


def gateway_session(pool_size: int = 32) -> requests.Session:
    """A session that keeps connections to the gateway open for the threads that share it."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post(session: requests.Session, url: str, *, timeout: float, **kwargs) -> None:
    """POST and raise DeliveryFailed unless the gateway answers 2xx within `timeout`.

    A redirect is a failure too: a gateway that moved should be reconfigured, and a
    message must not be replayed to wherever a response points.
    """
    try:
        response = session.post(url, timeout=(min(timeout, 5), timeout), allow_redirects=False, **kwargs)
    except requests.RequestException as error:
        raise DeliveryFailed(f"{urlsplit(url).hostname}: {type(error).__name__}") from error
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"{urlsplit(url).hostname} answered {response.status_code}")


def check_url(variable: str, url: str | None) -> str:
    if not url or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise ConfigError(f"{variable} must be an http:// or https:// URL")
    return url


class HttpSmsSender:
    """Hands each SMS to a gateway speaking the contract's simple JSON protocol."""

    def __init__(self, url: str, token: str | None, *, timeout: float):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self.session = gateway_session()

    @classmethod
    def create_service(cls, config: Config) -> "HttpSmsSender":
        return cls(
            check_url("SMS_HTTP_URL", config.SMS_HTTP_URL),
            config.SMS_HTTP_TOKEN,
            timeout=config.CHANNEL_TIMEOUT,
        )

    def send(self, destination: str, message: Message) -> None:
        post(
            self.session,
            self.url,
            timeout=self.timeout,
            json={"to": destination, "body": message.text},
            headers=self.headers,
        )
