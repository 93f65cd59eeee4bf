"""The limits and budgets of API.md §6, checked and taken together in one Redis round trip.

Before a code leaves, every limit that applies to it is checked by one Lua script, and it
takes from all of them only if none refuses, so a refused request costs no budget:

- starts per client IP (`RATE_LIMIT_REGISTER`, one or more fixed windows);
- per destination, no two codes closer than `RESEND_COOLDOWN`, whichever registration or
  login asked, and at most `MAX_CODES_PER_DESTINATION` an hour;
- for SMS, hourly budgets per number prefix (all but the last four digits) and per
  country (`SMS_PREFIX_HOURLY_LIMIT`, `SMS_COUNTRY_HOURLY_LIMIT`), which stop SMS pumping
  to premium ranges before it costs money.

Every key carries the hash tag `{rl}`, so the script runs on Redis Cluster too (its keys
then live in one slot). Keys name destinations by their keyed pseudonym, never by a
phone or email.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from limits import RateLimitItem
from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

HOUR_MS = 3_600_000
PREFIX = "{rl}"
_LUA = Path(__file__).with_name("lua")

# What refused, by the order of the script's keys: for the contract, a refused resend is
# `resend_too_soon` when it is the cooldown, `rate_limited` otherwise.
COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Planned:
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
    """A limit or budget is spent; `retry_after` seconds until it is not."""

    def __init__(self, limit: str, retry_after: int):
        super().__init__(limit)
        self.limit = limit
        self.retry_after = retry_after


class Limits:
    """Checks and takes the limits of one code (and of the start that asks for it)."""

    def __init__(
        self,
        redis: Redis,
        *,
        per_ip: list[RateLimitItem],
        cooldown: int,
        codes_per_destination: int,
        sms_per_prefix: int,
        sms_per_country: int,
        enabled: bool = True,
        clock: Callable[[], float] = time.time,
    ):
        self.redis = redis
        self.per_ip = per_ip
        self.cooldown_ms = cooldown * 1000
        self.codes_per_destination = codes_per_destination
        self.sms_per_prefix = sms_per_prefix
        self.sms_per_country = sms_per_country
        self.enabled = enabled
        self.clock = clock
        self._take = redis.register_script((_LUA / "take.lua").read_text())

    def plan(
        self,
        destination: str,
        *,
        client_ip: str | None = None,
        phone: str | None = None,
        country: str | None = None,
    ) -> Planned | None:
        """What taking one code for `destination` (a pseudonym) means, and for a start one
        start for `client_ip`; `phone` and `country` when it goes by SMS. None when off."""
        if not self.enabled:
            return None
        now = int(self.clock() * 1000)
        counters: list[tuple[str, str, int, int]] = []  # (name, key, limit, window ms)
        if client_ip is not None:
            for item in self.per_ip:
                window = item.get_expiry() * 1000
                key = f"{PREFIX}:ip:{client_ip}:{item.amount}/{item.get_expiry()}s:{now // window}"
                counters.append(("ip", key, item.amount, window))
        hour = now // HOUR_MS
        hourly = [("destination", f"codes:{destination}", self.codes_per_destination)]
        if phone is not None:
            hourly.append(("prefix", f"prefix:{phone[:-4]}", self.sms_per_prefix))
            if country:
                hourly.append(("country", f"country:{country}", self.sms_per_country))
        counters += [(name, f"{PREFIX}:{what}:{hour}", limit, HOUR_MS) for name, what, limit in hourly]
        arguments: list[int] = [self.cooldown_ms]
        for _, _, limit, window in counters:
            arguments += [limit, window]
        return Planned(
            keys=[f"{PREFIX}:cooldown:{destination}", *(key for _, key, _, _ in counters)],
            arguments=arguments,
            names=[COOLDOWN, *(name for name, _, _, _ in counters)],
        )

    def queue(self, pipe: Pipeline, planned: Planned) -> None:
        """Put the take in `pipe`, to share a round trip with other work; `settle` its result."""
        pipe.evalsha(self._take.sha, len(planned.keys), *planned.keys, *planned.arguments)

    def settle(self, planned: Planned, result: Any) -> Taken:
        """What the take in a pipeline gave: Taken, or Refused when a limit is spent."""
        if isinstance(result, NoScriptError):  # Redis lost its scripts (a restart): run it now
            result = self._take(keys=planned.keys, args=planned.arguments)
        elif isinstance(result, Exception):
            raise result
        if result[0] == 1:
            names, keys = planned.names[1:], planned.keys[1:]
            return Taken(
                planned.keys[0], [key for name, key in zip(names, keys, strict=True) if name != "ip"]
            )
        raise Refused(planned.names[result[2] - 1], max(1, -(-int(result[1]) // 1000)))

    def take(self, destination: str, **who: str | None) -> Taken | None:
        """Take at once, in a round trip of its own (see `plan` for the arguments)."""
        planned = self.plan(destination, **who)
        if planned is None:
            return None
        return self.settle(planned, self._take(keys=planned.keys, args=planned.arguments))

    def give_back(self, taken: Taken | None) -> None:
        """Undo a take whose code was not sent: a failed send charges nothing and starts no
        cooldown. (The start itself still counts against its IP.)"""
        if taken is None:
            return
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(taken.cooldown_key)
        for key in taken.counters:
            pipe.decr(key)
        pipe.execute()
