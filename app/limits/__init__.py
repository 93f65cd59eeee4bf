"""The limits and budgets of API.md §6, checked and taken together by one Lua script.

A code takes from every limit that applies to it only if none refuses, so a refused
request costs nothing: starts per client IP (`RATE_LIMIT_REGISTER`, fixed windows); per
destination, the cooldown between two codes and `MAX_CODES_PER_DESTINATION` an hour;
for SMS, hourly budgets per number prefix (all but the last four digits) and per country,
which stop SMS pumping before it costs money. Every key carries the hash tag `{rl}`, so
the script runs on Redis Cluster too, and names a destination by its pseudonym only.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limits import RateLimitItem
from redis import Redis
from redis.client import Pipeline

from app.codes.values import Destination
from app.identity import PHONE
from app.scripts import Script

HOUR_MS = 3_600_000
PREFIX = "{rl}"
COOLDOWN = "cooldown"  # the name of the first limit a plan checks


@dataclass(frozen=True)
class LimitPolicy:
    """The limits' settings; `enabled=False` (benchmarks) turns every one off."""

    per_ip: list[RateLimitItem]
    cooldown: int  # seconds
    codes_per_destination: int
    sms_per_prefix: int
    sms_per_country: int
    enabled: bool = True

    @classmethod
    def from_config(cls, config) -> "LimitPolicy":
        per_destination, per_prefix = config.MAX_CODES_PER_DESTINATION, config.SMS_PREFIX_HOURLY_LIMIT
        per_country, enabled = config.SMS_COUNTRY_HOURLY_LIMIT, config.RATE_LIMITS_ENABLED
        return cls(
            config.RATE_LIMIT_REGISTER,
            config.RESEND_COOLDOWN,
            per_destination,
            per_prefix,
            per_country,
            enabled,
        )


@dataclass(frozen=True)
class Plan:
    """The script's keys (the cooldown first) and arguments for one take, and each key's limit."""

    keys: list[str]
    arguments: list[int]
    names: list[str]


@dataclass(frozen=True)
class Taken:
    """What one code took, to give back if it is not sent after all."""

    cooldown_key: str
    counters: list[str] = field(default_factory=list)


class Refused(Exception):
    """A limit or budget is spent (`limit` names it); `retry_after` seconds until it is not."""

    def __init__(self, limit: str, retry_after: int):
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


class Limits:
    """Checks and takes the limits of one code (and of the start that asks for it)."""

    def __init__(self, redis: Redis, policy: LimitPolicy, clock: Callable[[], float] = time.time):
        self.redis = redis
        self.policy = policy
        self.clock = clock
        self._take = Script(redis, Path(__file__).with_name("take.lua"))

    def plan(
        self, destination: Destination, country: str | None, *, client_ip: str | None = None
    ) -> Plan | None:
        """What one code to `destination` takes, and with `client_ip` one start too; None
        when the limits are off."""
        policy = self.policy
        if not policy.enabled:
            return None
        now = int(self.clock() * 1000)
        counters: list[tuple[str, str, int, int]] = []  # (name, key, limit, window ms)
        for item in policy.per_ip if client_ip is not None else ():
            window = item.get_expiry() * 1000
            key = f"{PREFIX}:ip:{client_ip}:{item.amount}/{item.get_expiry()}s:{now // window}"
            counters.append(("ip", key, item.amount, window))
        hourly = [("destination", f"codes:{destination.pseudonym}", policy.codes_per_destination)]
        if destination.channel == PHONE:
            hourly.append(("prefix", f"prefix:{destination.address[:-4]}", policy.sms_per_prefix))
            if country:
                hourly.append(("country", f"country:{country}", policy.sms_per_country))
        counters += [
            (name, f"{PREFIX}:{what}:{now // HOUR_MS}", limit, HOUR_MS) for name, what, limit in hourly
        ]
        return Plan(
            keys=[f"{PREFIX}:cooldown:{destination.pseudonym}", *(key for _, key, _, _ in counters)],
            arguments=[
                policy.cooldown * 1000,
                *(n for _, _, limit, window in counters for n in (limit, window)),
            ],
            names=[COOLDOWN, *(name for name, _, _, _ in counters)],
        )

    def queue(self, pipe: Pipeline, plan: Plan) -> None:
        """Put the take in `pipe`, to share a round trip with other work; `settle` its result."""
        self._take.queue(pipe, plan.keys, plan.arguments)

    def settle(self, plan: Plan, result: Any) -> Taken:
        """What the take queued in a pipeline gave: Taken, or Refused when a limit is spent."""
        reply = self._take.reply(result, plan.keys, plan.arguments)
        outcome = dict(zip(reply[::2], reply[1::2], strict=True))
        if outcome["taken"] == 1:
            counters = [
                key for name, key in zip(plan.names, plan.keys, strict=True) if name not in (COOLDOWN, "ip")
            ]
            return Taken(plan.keys[0], counters)
        retry_after = max(1, -(-int(outcome["retry_after_ms"]) // 1000))
        raise Refused(plan.names[outcome["refused_by"] - 1], retry_after)

    def take(
        self, destination: Destination, country: str | None, *, client_ip: str | None = None
    ) -> Taken | None:
        """Take at once, in a round trip of its own; None when the limits are off."""
        plan = self.plan(destination, country, client_ip=client_ip)
        return None if plan is None else self.settle(plan, self._take(plan.keys, plan.arguments))

    def give_back(self, taken: Taken | None) -> None:
        """Undo a take whose code was not sent: a failed send charges nothing and starts no
        cooldown (the start itself still counts against its IP)."""
        if taken is None:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(taken.cooldown_key)
        for key in taken.counters:
            pipe.decr(key)
        pipe.execute()
