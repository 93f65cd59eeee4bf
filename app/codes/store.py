"""The state of a pending verification (a registration or a login) in Redis.

Layout (see shared/DESIGN.md):
- `vf:{<id>}`: one hash per verification, every field under the id's hash tag, living for
  the verification's lifetime. It holds the code only as an HMAC. The purpose's payload is
  kept field by field (`p:<name>`): values of up to 64 bytes keep the hash in Redis's
  compact listpack encoding, about half the memory of a hashtable.
- `dest:{<pseudonym>}:<purpose>`: per destination and purpose, a sorted set of pending
  verification ids by start time (µs), for the Salla-style finalisation that names a
  destination, not an id.

Every check-and-update is one Lua script on one key, so it is atomic under any number of
concurrent requests and runs on Redis Cluster.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from redis import Redis
from redis.client import Pipeline
from redis.exceptions import NoScriptError

_LUA = Path(__file__).with_name("lua")

CODE_SENT, CLAIMED, COMPLETED, LOCKED, ALREADY_REGISTERED = (
    "code_sent",
    "claimed",
    "completed",
    "locked",
    "already_registered",
)
_STATUS_FIELDS = (
    "purpose",
    "status",
    "channel",
    "masked",
    "code_exp",
    "resend_at",
    "attempts",
    "resends",
)


class Outcome(StrEnum):
    """What a check or a resend found."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED_NOW = "locked_now"
    EXPIRED = "expired"
    TOO_SOON = "too_soon"
    EXHAUSTED = "exhausted"
    NOT_FOUND = "not_found"
    CLAIMED = CLAIMED
    COMPLETED = COMPLETED
    LOCKED = LOCKED
    ALREADY_REGISTERED = ALREADY_REGISTERED


@dataclass(frozen=True)
class NewVerification:
    """Everything start writes about a verification."""

    id: str
    purpose: str
    channel: str
    to: str  # the phone or email the code goes to
    destination: str  # its pseudonym (CodeHasher.destination), for key names
    masked: str
    locale: str
    payload: dict[str, str | None]  # what the purpose's service reads back on a match
    code_hash: str
    fingerprint: str = ""  # of what a later check must match (CodeHasher.fingerprint)
    expiry_notice: str = ""  # kept in the expiry index until the verification's end, if given
    silent: bool = False  # no code is ever sent (a login for no account): none can match


@dataclass(frozen=True)
class Challenge:
    """What a customer may know about a verification."""

    id: str
    status: str
    channel: str
    masked: str
    expires_in: int
    resend_in: int
    attempts_left: int
    resends_left: int
    code_length: int = 0


@dataclass(frozen=True)
class Claim:
    """A verification whose code matched, held for its caller to `finish` or `release`."""

    id: str
    purpose: str
    destination: str
    payload: dict[str, str]  # the fields given at start that were not None
    token: str


@dataclass(frozen=True)
class Facts:
    """What may be told of a verification that failed: its channel, masked destination
    and country (for the failure events of webhooks)."""

    channel: str
    masked: str
    country: str | None


@dataclass(frozen=True)
class Check:
    """The result of checking a typed code; `claim` is set when it matched, `facts` when
    this check locked it."""

    outcome: Outcome
    attempts_left: int = 0
    destination: str = ""
    claim: Claim | None = None
    facts: Facts | None = None


@dataclass(frozen=True)
class Resend:
    """The result of asking for a new code; `first_refusal` is set once per verification.

    On success it carries where the new code goes (`to`, `locale`), unless it is `silent`."""

    outcome: Outcome
    challenge: Challenge | None = None
    to: str = ""
    locale: str = ""
    destination: str = ""
    country: str | None = None
    retry_after: int = 0
    first_refusal: Facts | None = None  # set the first time resends are refused
    silent: bool = False  # the verification's codes are never sent


def _seconds(milliseconds: float) -> int:
    """Whole seconds left, rounded up so that a client waiting that long is never early."""
    return max(0, -(-int(milliseconds) // 1000))


def _now_ms() -> int:
    return int(time.time() * 1000)


_PAYLOAD = "p:"
# Notices of verifications by the time they lapse, for the webhook worker to sweep: a
# lapse must be noticed even though Redis expires keys silently.
EXPIRIES = "expiries"


class VerificationStore:
    """Pending verifications, their codes, attempts, resends and expiry."""

    def __init__(
        self,
        redis: Redis,
        *,
        code_ttl: int,
        verification_ttl: int,
        max_attempts: int,
        max_resends: int,
        resend_cooldown: int,
        claim_lease: int = 30,
    ):
        self.redis = redis
        self.code_ttl_ms = code_ttl * 1000
        self.verification_ttl_ms = verification_ttl * 1000
        self.max_attempts = max_attempts
        self.max_resends = max_resends
        self.cooldown_ms = resend_cooldown * 1000
        self.claim_lease_ms = claim_lease * 1000
        self._check = redis.register_script((_LUA / "check.lua").read_text())
        self._resend = redis.register_script((_LUA / "resend.lua").read_text())
        self._restore = redis.register_script((_LUA / "restore.lua").read_text())
        self._release = redis.register_script((_LUA / "release.lua").read_text())
        self._finish = redis.register_script((_LUA / "finish.lua").read_text())
        self._renotice = redis.register_script((_LUA / "renotice.lua").read_text())

    @staticmethod
    def key(verification_id: str) -> str:
        return f"vf:{{{verification_id}}}"

    @staticmethod
    def pending_key(destination: str, purpose: str) -> str:
        return f"dest:{{{destination}}}:{purpose}"

    def create(
        self, verification: NewVerification, *, first: Callable[[Pipeline], None] | None = None
    ) -> tuple[Challenge, Any]:
        """Write a new verification with its first code, in one round trip.

        `first` may put one more command at the head of that round trip (the limits'
        check); its result comes back beside the challenge, exceptions included.
        """
        now = _now_ms()
        pending = self.pending_key(verification.destination, verification.purpose)
        fields = {
            "purpose": verification.purpose,
            "status": CODE_SENT,
            "channel": verification.channel,
            "to": verification.to,
            "dest": verification.destination,
            "masked": verification.masked,
            "locale": verification.locale,
            "code_hash": verification.code_hash,
            "code_exp": now + self.code_ttl_ms,
            "attempts": self.max_attempts,
            "resends": self.max_resends,
            "resend_at": now + self.cooldown_ms,
        }
        if verification.fingerprint:
            fields["fp"] = verification.fingerprint
        if verification.silent:
            fields["silent"] = 1
        fields.update(
            {_PAYLOAD + name: value for name, value in verification.payload.items() if value is not None}
        )
        pipe = self.redis.pipeline(transaction=False)
        if first is not None:
            first(pipe)
        pipe.hset(self.key(verification.id), mapping=fields)
        pipe.pexpire(self.key(verification.id), self.verification_ttl_ms)
        # Stale ids are skipped when read; the set lives as long as its newest member.
        pipe.zadd(pending, {verification.id: time.time_ns() // 1000})
        pipe.pexpire(pending, self.verification_ttl_ms)
        if verification.expiry_notice:
            pipe.zadd(EXPIRIES, {verification.expiry_notice: now + self.verification_ttl_ms})
        results = pipe.execute(raise_on_error=False)
        head = results.pop(0) if first is not None else None
        for result in results:
            if isinstance(result, Exception):
                raise result
        challenge = Challenge(
            id=verification.id,
            status=CODE_SENT,
            channel=verification.channel,
            masked=verification.masked,
            expires_in=_seconds(self.code_ttl_ms),
            resend_in=_seconds(self.cooldown_ms),
            attempts_left=self.max_attempts,
            resends_left=self.max_resends,
        )
        return challenge, head

    def discard(self, verification: NewVerification) -> None:
        """Forget a verification whose first code never left, as if it had not started."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.key(verification.id))
        pipe.zrem(self.pending_key(verification.destination, verification.purpose), verification.id)
        if verification.expiry_notice:
            pipe.zrem(EXPIRIES, verification.expiry_notice)
        pipe.execute()

    def check(self, verification_id: str, purpose: str, code_hash: str, fingerprint: str = "") -> Check:
        """Compare a typed code's hash; a match claims the verification for its caller.

        A miss costs one attempt and the last one locks the verification. A claim is a
        lease: close it with `finish` or give it back with `release`. With `fingerprint`,
        a verification started with other details is NOT_FOUND, and nothing is charged.
        """
        token = secrets.token_hex(8)
        outcome, attempts_left, destination, *payload = self._check(
            keys=[self.key(verification_id)],
            args=[purpose, code_hash, _now_ms(), token, self.claim_lease_ms, fingerprint],
        )
        claim = facts = None
        if outcome == Outcome.OK:
            fields = dict(zip(payload[::2], payload[1::2], strict=True))
            claim = Claim(verification_id, purpose, destination, fields, token)
        elif outcome == Outcome.LOCKED_NOW:
            facts = Facts(*payload)
        return Check(Outcome(outcome), int(attempts_left or 0), destination or "", claim, facts)

    def finish(self, claim: Claim, status: str) -> bool:
        """Close a claimed verification as `completed` or `already_registered`, in one round
        trip; False, and nothing changed, if the claim is no longer the caller's.

        Its code and payload go, so nothing in Redis can complete it again; its fingerprint
        stays, so that a late finalisation with the same details learns it is finished. The
        key gets its full lifetime again. It leaves its destination's pending set in the same
        round trip, even when the claim was lost: a claim is lost only after its lease ran out
        mid-request, and the verification then stays reachable by its id.
        """
        keys = [self.key(claim.id)]
        arguments = [
            claim.token,
            status,
            self.verification_ttl_ms,
            *(_PAYLOAD + name for name in claim.payload),
        ]
        pipe = self.redis.pipeline(transaction=False)
        # EVALSHA itself: a script called through a pipeline would first ask SCRIPT EXISTS,
        # a round trip of its own on every verify.
        pipe.evalsha(self._finish.sha, len(keys), *keys, *arguments)
        pipe.zrem(self.pending_key(claim.destination, claim.purpose), claim.id)
        finished, _ = pipe.execute(raise_on_error=False)
        if isinstance(finished, NoScriptError):  # Redis lost its scripts (a restart)
            finished = self._finish(keys=keys, args=arguments)
        elif isinstance(finished, Exception):
            raise finished
        return finished == 1

    def forget_pending(self, verification_id: str, destination: str, purpose: str) -> None:
        """Take a verification that can no longer be finalised off its destination's list."""
        self.redis.zrem(self.pending_key(destination, purpose), verification_id)

    def release(self, claim: Claim) -> None:
        """Give back a claim that could not be finished; the code works again."""
        self._release(keys=[self.key(claim.id)], args=[claim.token])

    def resend(self, verification_id: str, purpose: str, code_hash: str) -> Resend:
        """Put a new code in place of the current one, if a resend is left and due."""
        result = self._resend(
            keys=[self.key(verification_id)],
            args=[purpose, code_hash, _now_ms(), self.code_ttl_ms, self.cooldown_ms],
        )
        outcome = Outcome(result[0])
        if outcome == Outcome.TOO_SOON:
            return Resend(outcome, retry_after=max(1, _seconds(result[1])))
        if outcome == Outcome.EXHAUSTED:
            return Resend(outcome, first_refusal=Facts(*result[2:5]) if result[1] else None)
        if outcome != Outcome.OK:
            return Resend(outcome)
        return Resend(
            outcome,
            Challenge(
                id=verification_id,
                status=CODE_SENT,
                channel=result[5],
                masked=result[6],
                expires_in=_seconds(result[1]),
                resend_in=_seconds(result[2]),
                attempts_left=int(result[3]),
                resends_left=int(result[4]),
            ),
            to=result[7],
            locale=result[8],
            destination=result[9],
            country=result[10],
            silent=result[11] == "1",
        )

    def restore(self, verification_id: str, code_hash: str) -> None:
        """Undo a resend whose code could not be sent: nothing is charged."""
        self._restore(keys=[self.key(verification_id)], args=[code_hash])

    def get(self, verification_id: str, purpose: str) -> Challenge | None:
        """The verification as its customer may see it, or None if unknown or lapsed."""
        fields = dict(
            zip(_STATUS_FIELDS, self.redis.hmget(self.key(verification_id), _STATUS_FIELDS), strict=True)
        )
        if fields["purpose"] != purpose:
            return None
        now = _now_ms()
        status = fields["status"]
        if status == CLAIMED:
            status = CODE_SENT
        live = status == CODE_SENT
        return Challenge(
            id=verification_id,
            status=status,
            channel=fields["channel"],
            masked=fields["masked"],
            expires_in=_seconds(int(fields["code_exp"]) - now) if live else 0,
            resend_in=_seconds(int(fields["resend_at"]) - now) if live else 0,
            attempts_left=int(fields["attempts"]),
            resends_left=int(fields["resends"]),
        )

    def lapsed(self, before_ms: int, limit: int = 500) -> list[str]:
        """Expiry notices of verifications that lapsed before `before_ms`, oldest first."""
        return self.redis.zrangebyscore(EXPIRIES, "-inf", before_ms, start=0, num=limit)

    def renotice(self, notice: str, replacement: str) -> None:
        """Put `replacement` in place of an expiry notice, by the same deadline."""
        self._renotice(keys=[EXPIRIES], args=[notice, replacement])

    def forget_lapsed(self, notices: list[str]) -> None:
        """Drop expiry notices that have been dealt with."""
        if notices:
            self.redis.zrem(EXPIRIES, *notices)

    def newest_pending(self, destination: str, purpose: str) -> str | None:
        """The id of the newest verification of `purpose` started for a destination and not yet closed."""
        oldest_alive = (_now_ms() - self.verification_ttl_ms) * 1000
        ids = self.redis.zrevrangebyscore(
            self.pending_key(destination, purpose), "+inf", oldest_alive, start=0, num=1
        )
        return ids[0] if ids else None
