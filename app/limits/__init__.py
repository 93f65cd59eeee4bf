"""The limits and budgets of API.md §6 (README.md: *Security*), checked and taken together by one Lua script,
so that a refused request costs nothing. Every key carries the hash tag `{rl}` (Redis Cluster) and names a
destination by its pseudonym; the SMS budgets per number prefix and country stop SMS pumping."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from limits import RateLimitItem
from redis import Redis
from redis.client import Pipeline

from app import errors
from app.codes.values import Destination
from app.identity import PHONE
from app.scripts import Script, pairs

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
        return cls(
            config.RATE_LIMIT_REGISTER,
            config.RESEND_COOLDOWN,
            config.MAX_CODES_PER_DESTINATION,
            config.SMS_PREFIX_HOURLY_LIMIT,
            config.SMS_COUNTRY_HOURLY_LIMIT,
            config.RATE_LIMITS_ENABLED,
        )


@dataclass(frozen=True)
class Plan:
    """One take: the script's keys (the cooldown's first), its arguments, and each key's name."""

    keys: list[str]
    arguments: list[int]
    names: list[str]

    def count(self, name: str, key: str, limit: int, window_ms: int = HOUR_MS) -> None:
        self.names.append(name)
        self.keys.append(f"{PREFIX}:{key}")
        self.arguments.extend((limit, window_ms))


class Limits:
    """Checks and takes the limits of one code (and of the start that asks for it)."""

    def __init__(self, redis: Redis, policy: LimitPolicy, clock: Callable[[], float] = time.time):
        self.redis = redis
        self.policy = policy
        self.clock = clock
        self._take = Script(redis, Path(__file__).with_name("take.lua"))

    def plan(self, destination: Destination, country: str | None, *, client_ip: str | None) -> Plan | None:
        """What one code to `destination` and one start from `client_ip` take; None if the limits are off."""
        policy = self.policy
        if not policy.enabled:
            return None
        now = int(self.clock() * 1000)
        plan = Plan([f"{PREFIX}:cooldown:{destination.pseudonym}"], [policy.cooldown * 1000], [COOLDOWN])
        for item in policy.per_ip if client_ip is not None else ():
            window = item.get_expiry() * 1000
            key = f"ip:{client_ip}:{item.amount}/{item.get_expiry()}s:{now // window}"
            plan.count("ip", key, item.amount, window)
        hour = now // HOUR_MS
        plan.count("destination", f"codes:{destination.pseudonym}:{hour}", policy.codes_per_destination)
        if destination.channel == PHONE:
            plan.count("prefix", f"prefix:{destination.address[:-4]}:{hour}", policy.sms_per_prefix)
            if country:
                plan.count("country", f"country:{country}:{hour}", policy.sms_per_country)
        return plan

    def queue(self, pipe: Pipeline, plan: Plan) -> None:
        """Put the take in `pipe`, to share a round trip with other work; `settle` its result."""
        self._take.queue(pipe, plan.keys, plan.arguments)

    def settle(self, plan: Plan, result: Any, *, resending: bool = False) -> None:
        """Raise the 429 if a queued take found a limit spent (resend_too_soon: a resend in the cooldown)."""
        reply = pairs(self._take.reply(result, plan.keys, plan.arguments))
        if reply["taken"] != 1:
            too_soon = resending and plan.names[reply["refused_by"] - 1] == COOLDOWN
            error = errors.ResendTooSoon if too_soon else errors.RateLimited
            raise errors.with_retry_after(error, -(-int(reply["retry_after_ms"]) // 1000))

    def take(
        self, destination: Destination, country: str | None, *, client_ip: str | None, resending: bool = False
    ) -> Plan | None:
        """Take at once, in a round trip of its own; the plan taken, or None when the limits are off."""
        plan = self.plan(destination, country, client_ip=client_ip)
        if plan is not None:
            self.settle(plan, self._take(plan.keys, plan.arguments), resending=resending)
        return plan

    def give_back(self, taken: Plan | None) -> None:
        """Undo a take whose code was not sent: no charge, no cooldown (the start still counts for its IP)."""
        if taken is None:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(taken.keys[0])
        for name, key in zip(taken.names, taken.keys, strict=True):
            if name not in (COOLDOWN, "ip"):
                pipe.decr(key)
        pipe.execute()
