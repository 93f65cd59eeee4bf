"""The limits and budgets of API.md §6 (README.md: *Security*), checked and taken together by one Lua script,
so that a refused request costs nothing. Every key carries the hash tag `{rl}` (Redis Cluster) and names a
destination, or a number's prefix, by a keyed pseudonym; the SMS budgets per prefix, country and service stop
SMS pumping, and are spent only by codes really sent, so that nobody can spend them without sending a message.
A client is counted by its network (an IPv6 address by its /64); a destination's codes may also be shared out
per network (MAX_CODES_PER_DESTINATION_PER_NETWORK). Code guesses and failures: app/limits/guesses.py."""

import ipaddress
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from limits import RateLimitItem
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

from app import errors
from app.codes.values import Destination
from app.identity import PHONE
from app.scripts import pairs

log = logging.getLogger("registrar.limits")
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PREFIX = "{rl}"
COOLDOWN = "cooldown"
PER_REQUEST = ("ip", "guesses")  # counted when asked, never given back


def network(client_ip: str) -> str:
    """The network a client is counted by: an IPv4 address itself, an IPv6 address's /64."""
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


@dataclass(frozen=True)
class LimitPolicy:
    """The limits' settings; `enabled=False` (benchmarks) turns every one off. Hourly unless named daily."""

    per_ip: list[RateLimitItem]
    cooldown: int  # seconds
    codes_per_destination: int  # from every client network together (API.md §6)
    codes_per_destination_per_network: int
    sms_per_prefix: int
    sms_per_country: int
    sms_global: int
    guesses_per_ip: list[RateLimitItem] = field(default_factory=list)
    failures_per_network: int = 10  # a day, per identity and client network
    failures_per_day: int = 30  # per identity; then a network that fails again is refused for the day
    enabled: bool = True

    @classmethod
    def from_config(cls, config) -> "LimitPolicy":
        return cls(
            per_ip=config.RATE_LIMIT_REGISTER,
            cooldown=config.RESEND_COOLDOWN,
            codes_per_destination=config.MAX_CODES_PER_DESTINATION,
            codes_per_destination_per_network=(
                config.MAX_CODES_PER_DESTINATION_PER_NETWORK or config.MAX_CODES_PER_DESTINATION
            ),
            sms_per_prefix=config.SMS_PREFIX_HOURLY_LIMIT,
            sms_per_country=config.SMS_COUNTRY_HOURLY_LIMIT,
            sms_global=config.SMS_GLOBAL_HOURLY_LIMIT,
            guesses_per_ip=config.RATE_LIMIT_VERIFY,
            failures_per_network=config.MAX_FAILED_CODES_PER_NETWORK,
            failures_per_day=config.MAX_FAILED_CODES_PER_DAY,
            enabled=config.RATE_LIMITS_ENABLED,
        )


class Counter(NamedTuple):
    """One fixed-window counter of a plan: which limit it is, its key, and whether the plan takes
    from it or only checks it (a budget that a request which sends nothing must not spend)."""

    name: str
    key: str
    limit: int
    window_ms: int
    take: bool


@dataclass(frozen=True)
class Plan:
    """One take: its counters, in the order the script checks them."""

    what: str  # what the plan is for, as the log names it, with:
    masked: str
    client_network: str | None
    counters: list[Counter] = field(default_factory=list)

    @property
    def subject(self) -> str:
        """What a refusal's log line names: the masked destination, and the client's network only as
        wide as logs may show it (an IPv4 address's /24, an IPv6 address's /48), so no line holds an IP."""
        try:
            wide = ipaddress.ip_network(self.client_network or "", strict=False)
            source = str(wide.supernet(new_prefix=24 if wide.version == 4 else 48))
        except ValueError:
            source = "no client" if self.client_network is None else "a client"
        return f"{self.what} {self.masked} from {source}" if self.masked else f"{self.what} from {source}"

    def count(self, name: str, key: str, limit: int, window_ms: int = HOUR_MS, *, take: bool = True) -> None:
        self.counters.append(Counter(name, f"{PREFIX}:{key}", limit, window_ms, take))

    def per_client(self, name: str, items: list[RateLimitItem], now: int) -> None:
        """Count against the plan's client network, in each of `items`' windows."""
        for item in items:
            window = item.get_expiry() * 1000
            key = f"{name}:{self.client_network}:{item.amount}/{item.get_expiry()}s:{now // window}"
            self.count(name, key, item.amount, window)

    @property
    def keys(self) -> list[str]:
        return [counter.key for counter in self.counters]

    @property
    def arguments(self) -> list[int]:
        """take.lua's arguments: each counter's limit, window and whether it is taken."""
        return [value for c in self.counters for value in (c.limit, c.window_ms, int(c.take))]


@dataclass
class Limits:
    """Checks and takes the limits of one code (and of the start that asks for it), and of code guesses."""

    redis: Redis
    policy: LimitPolicy
    prefix_pseudonym: Callable[[str], str]  # keyed, so that no key holds a phone's digits
    clock: Callable[[], float] = time.time

    def __post_init__(self):
        self._take = self.redis.register_script(Path(__file__).with_name("take.lua").read_text())

    def plan(
        self,
        destination: Destination,
        country: str | None,
        *,
        client_ip: str | None,
        starting: bool = True,
        sending: bool = True,
        cooling: bool = True,
    ) -> Plan | None:
        """What one code to `destination` takes; None if the limits are off. A `starting` one also counts
        against its client's starts; one not `sending` (a login for no account) is checked against the SMS
        budgets but spends none; one not `cooling` checks the cooldown without starting it."""
        policy = self.policy
        if not policy.enabled:
            return None
        client_network = network(client_ip) if client_ip is not None else None
        now, plan = int(self.clock() * 1000), Plan("a code to", destination.masked, client_network)
        if policy.cooldown:
            plan.count(COOLDOWN, f"cooldown:{destination.pseudonym}", 1, policy.cooldown * 1000, take=cooling)
        if starting and client_network is not None:
            plan.per_client("ip", policy.per_ip, now)
        hour = now // HOUR_MS
        codes = f"codes:{destination.pseudonym}"
        per_network = policy.codes_per_destination_per_network
        if client_network is not None and per_network < policy.codes_per_destination:
            plan.count("destination", f"{codes}:{client_network}:{hour}", per_network)
        plan.count("destination", f"{codes}:{hour}", policy.codes_per_destination)
        if destination.channel == PHONE:
            prefix = self.prefix_pseudonym(destination.address[:-4])
            plan.count("prefix", f"prefix:{prefix}:{hour}", policy.sms_per_prefix, take=sending)
            if country:
                plan.count("country", f"country:{country}:{hour}", policy.sms_per_country, take=sending)
            plan.count("global", f"sms:{hour}", policy.sms_global, take=sending)
        return plan

    def queue(self, pipe: Pipeline, plan: Plan) -> None:
        """Put the take in `pipe`, to share a round trip with other work; `settle` its result. It goes as
        EVALSHA alone, where redis-py's Script would first ask SCRIPT EXISTS in a round trip of its own."""
        pipe.evalsha(self._take.sha, len(plan.keys), *plan.keys, *plan.arguments)

    def settle(self, plan: Plan, result: Any, *, resending: bool = False) -> None:
        """Raise the 429 if a queued take found a limit spent (resend_too_soon: a resend in the cooldown).
        `result` is the pipeline's (run with raise_on_error=False): should Redis have lost its scripts
        (a restart), the take runs again by itself."""
        if isinstance(result, NoScriptError):
            result = self._take(plan.keys, plan.arguments)
        elif isinstance(result, Exception):
            raise result
        reply = pairs(result)
        if reply["taken"] != 1:
            refused_by = plan.counters[reply["refused_by"] - 1].name
            log.info("%s refused by the %s limit", plan.subject, refused_by)
            error = errors.ResendTooSoon if resending and refused_by == COOLDOWN else errors.RateLimited
            raise errors.with_retry_after(error, -(-int(reply["retry_after_ms"]) // 1000))

    def take(self, plan: Plan | None, *, resending: bool = False) -> Plan | None:
        """Take `plan` at once, in a round trip of its own; the plan taken (None when the limits are off)."""
        if plan is not None:
            self.settle(plan, self._take(plan.keys, plan.arguments), resending=resending)
        return plan

    def give_back(self, taken: Plan | None) -> None:
        """Undo a take whose code was not sent: no charge, no cooldown (the start still counts for its IP)."""
        if taken is None:
            return
        pipe = self.redis.pipeline(transaction=False)
        for counter in taken.counters:
            if not counter.take or counter.name in PER_REQUEST:
                continue
            if counter.name == COOLDOWN:
                pipe.delete(counter.key)
            else:
                pipe.decr(counter.key)
        pipe.execute()
