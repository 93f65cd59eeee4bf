"""The SMS gateway's side (tests/servers.py's `Gateway`): the messages the service sent it,
checked, and counted against the answers and the registrations the service wrote."""

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from bench.processes import BenchFailed
from bench.settings import GATEWAY_TOKEN, REGISTRATION_KEY
from tests.servers import Gateway, GatewayRequest

CODE = re.compile(r"\b(\d{6,10})\b")


def take_messages(gateway: Gateway) -> list[GatewayRequest]:
    """The messages the gateway received since the last take."""
    taken = gateway.requests[:]
    del gateway.requests[: len(taken)]
    return taken


def codes_by_phone(messages: list[GatewayRequest]) -> dict[str, str]:
    return {message.json()["to"]: CODE.search(message.json()["body"]).group(1) for message in messages}


def problem(message: GatewayRequest) -> str | None:
    """What a gateway speaking the `http` channel's protocol would refuse the message for."""
    if message.path != "/sms":
        return "path"
    if message.headers.get("Authorization") != f"Bearer {GATEWAY_TOKEN}":
        return "authorization"
    try:
        document = message.json()
    except ValueError:
        return "json"
    if not isinstance(document, dict):
        return "json"
    return next((name for name in ("to", "body") if not isinstance(document.get(name), str)), None)


def registrations(client: redis.Redis) -> int:
    """Registrations the service has written to Redis: one per start it answered 202. (SCAN may
    return a key twice while Redis resizes its table.)"""
    return len(set(client.scan_iter(match=REGISTRATION_KEY % "*", count=10_000)))


def registrations_at_rest(client: redis.Redis) -> int:
    """`registrations` once it no longer changes: wrk stops with requests still in the service,
    which go on writing registrations for a moment."""
    count = registrations(client)
    while True:
        time.sleep(0.2)
        if (again := registrations(client)) == count:
            return count
        count = again


def settle(gateway: Gateway, seconds: float = 15) -> None:
    """Until no message has arrived for a while: wrk stops with requests still in the service,
    whose messages reach the gateway after."""
    deadline, quiet_for = time.monotonic() + seconds, max(0.5, 2 * gateway.delay)
    last, since = len(gateway.requests), time.monotonic()
    while time.monotonic() - since < quiet_for:
        if time.monotonic() > deadline:
            raise BenchFailed(f"the SMS gateway was still receiving messages after {seconds:.0f} s")
        time.sleep(0.1)
        if len(gateway.requests) != last:
            last, since = len(gateway.requests), time.monotonic()


@dataclass
class Messages:
    """What the gateway received over some starts, against what the service answered and wrote."""

    received: list[GatewayRequest] = field(default_factory=list)
    made: int = 0  # registrations the service wrote to Redis
    answered: int = 0  # 202 answers the client read
    abandoned: int = 0  # requests made whose answer the client never read (wrk, when it stopped)

    def __add__(self, other: "Messages") -> "Messages":
        return Messages(
            self.received + other.received,
            self.made + other.made,
            self.answered + other.answered,
            self.abandoned + other.abandoned,
        )

    @property
    def count(self) -> int:
        return len(self.received)

    @property
    def problems(self) -> Counter:
        return Counter(reason for reason in map(problem, self.received) if reason)

    @property
    def repeated(self) -> int:
        """Messages to a number that had had one already."""
        numbers = [message.json().get("to") for message in self.received if not problem(message)]
        return len(numbers) - len(set(numbers))

    @property
    def consistent(self) -> bool:
        """One message per registration, none refused or repeated, and one per 202 answer but
        for the requests abandoned."""
        return (
            self.count == self.made
            and self.answered <= self.count <= self.answered + self.abandoned
            and not self.problems
            and not self.repeated
        )


@contextlib.contextmanager
def counting(gateway: Gateway, client: redis.Redis) -> Iterator[Messages]:
    """The messages of the starts made meanwhile, and the registrations they made; the caller
    sets `answered` and `abandoned`."""
    take_messages(gateway)
    made = registrations_at_rest(client)
    messages = Messages()
    yield messages
    settle(gateway)
    messages.received, messages.made = take_messages(gateway), registrations_at_rest(client) - made
