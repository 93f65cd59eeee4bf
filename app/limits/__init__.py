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

from limits import RateLimitItem
from redis import Redis

HOUR_MS = 3_600_000
PREFIX = "{rl}"
_LUA = Path(__file__).with_name("lua")

# What refused, by the order of the script's keys: for the contract, a refused resend is
# `resend_too_soon` when it is the cooldown, `rate_limited` otherwise.
COOLDOWN = "cooldown"


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

    def take(
        self,
        destination: str,
        *,
        client_ip: str | None = None,
        phone: str | None = None,
        country: str | None = None,
    ) -> Taken | None:
        """Take one code for `destination` (a pseudonym) and, for a start, one start for
        `client_ip`; `phone` and `country` when it goes by SMS. Refused when any is spent."""
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
        cooldown_key = f"{PREFIX}:cooldown:{destination}"
        arguments: list[int] = [self.cooldown_ms]
        for _, _, limit, window in counters:
            arguments += [limit, window]
        result = self._take(keys=[cooldown_key, *(key for _, key, _, _ in counters)], args=arguments)
        if result[0] == 1:
            return Taken(cooldown_key, [key for name, key, _, _ in counters if name != "ip"])
        refusing = COOLDOWN if result[2] == 1 else counters[result[2] - 2][0]
        raise Refused(refusing, max(1, -(-int(result[1]) // 1000)))

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
