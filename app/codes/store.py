"""Pending verifications in Redis: a hash `vf:{<id>}` each (the payload field by field, `p:…`, to stay a
listpack), their ids per destination and purpose (a Salla-style finalisation names no id), and `expiries`,
notices for the webhook worker (Redis expires keys silently). Each update is one Lua script on one key."""

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from redis import Redis
from redis.client import Pipeline

from app.codes.values import Challenge, Claim, Destination, Failure, FailureReason, Outcome, Status
from app.scripts import pairs

_LUA = Path(__file__).with_name("lua")
_PAYLOAD = "p:"
EXPIRIES = "expiries"
_STATUS_FIELDS = ("purpose", "status", "channel", "masked", "code_exp", "resend_at", "attempts", "resends")


def _seconds(milliseconds: float) -> int:
    """Whole seconds left, rounded up so that a client waiting that long is never early."""
    return max(0, -(-int(milliseconds) // 1000))


def _now_ms() -> int:
    return int(time.time() * 1000)


def _failure(verification_id: str, reason: FailureReason, reply: dict) -> Failure:
    return Failure(verification_id, reason, reply["channel"], reply["masked"], reply["country"])


@dataclass(frozen=True)
class CodePolicy:
    """How codes behave (API.md §6), the same for every purpose. Durations in seconds."""

    length: int = 6
    ttl: int = 300
    lifetime: int = 1800  # of a registration or sign-in
    max_attempts: int = 5
    max_resends: int = 3
    cooldown: int = 60
    claim_lease: int = 30  # how long a right code is held for its request to finish

    @classmethod
    def from_config(cls, config) -> "CodePolicy":
        lifetime, cooldown = config.REGISTRATION_TTL, config.RESEND_COOLDOWN
        attempts, resends = config.OTP_MAX_ATTEMPTS, config.MAX_RESENDS
        return cls(config.OTP_LENGTH, config.OTP_TTL, lifetime, attempts, resends, cooldown)


@dataclass(frozen=True)
class NewVerification:
    """Everything start writes about a verification."""

    id: str
    purpose: str
    destination: Destination
    locale: str
    payload: Mapping[str, str | None]  # handed back, less its None values, to a right code
    code_hash: str
    fingerprint: str = ""  # of the details a later check must match (CodeHasher.fingerprint)
    expiry_notice: str = ""  # kept in the expiry index until the verification's end, if given
    silent: bool = False  # no code is ever sent (a login for no account): none can match


@dataclass(frozen=True)
class Check:
    """What checking a typed code found: a `claim` if it matched, the `failure` to record if it locked."""

    outcome: Outcome
    attempts_left: int = 0
    pseudonym: str = ""
    claim: Claim | None = None
    failure: Failure | None = None
    fingerprint: str = ""  # of the details it was started with, with LOCKED_NOW


@dataclass(frozen=True)
class Resend:
    """What a resend found: with OK, the challenge and where its code goes; a first EXHAUSTED, a `failure`."""

    outcome: Outcome
    challenge: Challenge | None = None
    destination: Destination | None = None
    locale: str = ""
    country: str | None = None
    silent: bool = False
    retry_after: int = 0
    failure: Failure | None = None


class CodeStore:
    """Pending verifications, their codes, attempts, resends and expiry."""

    def __init__(self, redis: Redis, policy: CodePolicy):
        self.redis = redis
        self.policy = policy
        scripts = ("check", "resend", "restore", "release", "finish", "renotice")
        self._scripts = {name: redis.register_script((_LUA / f"{name}.lua").read_text()) for name in scripts}

    @staticmethod
    def key(verification_id: str) -> str:
        return f"vf:{{{verification_id}}}"

    @staticmethod
    def pending_key(pseudonym: str, purpose: str, fingerprint: str = "") -> str:
        """The ids started for a destination and purpose, or with the details of `fingerprint` (which only
        registrations have: it stands for the purpose, and the key stays in Redis's smaller allocation)."""
        return f"dest:{{{pseudonym}}}:{fingerprint or purpose}"

    def queue_create(self, pipe: Pipeline, verification: NewVerification) -> Challenge:
        """Queue a new verification's writes on `pipe`; the challenge it is once the pipeline has run."""
        policy, now, lifetime = self.policy, _now_ms(), self.policy.lifetime * 1000
        destination = verification.destination
        fields = {
            "purpose": verification.purpose,
            "status": Status.CODE_SENT.value,
            "channel": destination.channel,
            "to": destination.address,
            "dest": destination.pseudonym,
            "masked": destination.masked,
            "locale": verification.locale,
            "code_hash": verification.code_hash,
            "code_exp": now + policy.ttl * 1000,
            "attempts": policy.max_attempts,
            "resends": policy.max_resends,
            "resend_at": now + policy.cooldown * 1000,
        }
        if verification.fingerprint:
            fields["fp"] = verification.fingerprint
        if verification.silent:
            fields["silent"] = 1
        payload = verification.payload.items()
        fields |= {_PAYLOAD + name: value for name, value in payload if value is not None}
        key, pending = self.key(verification.id), self._pending(verification)
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, lifetime)
        # Stale ids are skipped when read; the set lives as long as its newest member.
        pipe.zadd(pending, {verification.id: time.time_ns() // 1000})
        pipe.pexpire(pending, lifetime)
        if verification.expiry_notice:
            pipe.zadd(EXPIRIES, {verification.expiry_notice: now + lifetime})
        counts = (policy.ttl, policy.cooldown, policy.max_attempts, policy.max_resends, policy.length)
        return Challenge(verification.id, Status.CODE_SENT, destination.channel, destination.masked, *counts)

    def _pending(self, verification: NewVerification) -> str:
        destination = verification.destination
        return self.pending_key(destination.pseudonym, verification.purpose, verification.fingerprint)

    def discard(self, verification: NewVerification) -> None:
        """Forget a verification whose first code never left, as if it had not started."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.key(verification.id))
        pipe.zrem(self._pending(verification), verification.id)
        if verification.expiry_notice:
            pipe.zrem(EXPIRIES, verification.expiry_notice)
        pipe.execute()

    def check(self, verification_id: str, purpose: str, code_hash: str, fingerprint: str = "") -> Check:
        """Compare a typed code's hash: a match claims the verification (a lease, to `finish` or `release`),
        a miss costs an attempt, the last locks it. Other details than `fingerprint`'s: NOT_FOUND, free."""
        token = secrets.token_hex(8)
        arguments = [purpose, code_hash, _now_ms(), token, self.policy.claim_lease * 1000, fingerprint]
        reply = pairs(self._scripts["check"]([self.key(verification_id)], arguments))
        outcome, pseudonym = Outcome(reply["outcome"]), reply.get("pseudonym") or ""
        claim = failure = None
        if outcome == Outcome.OK:
            claim = Claim(verification_id, pairs(reply["payload"]), token)
        elif outcome == Outcome.LOCKED_NOW:
            failure = _failure(verification_id, FailureReason.TOO_MANY_ATTEMPTS, reply)
        attempts_left, fingerprint = int(reply.get("attempts_left") or 0), reply.get("fingerprint") or ""
        return Check(outcome, attempts_left, pseudonym, claim, failure, fingerprint)

    def finish(self, claim: Claim, status: Status) -> bool:
        """Close a claimed verification for good (finish.lua); False if the claim is no longer the caller's.
        It stays the newest of its destination and details: a finalisation repeated learns it is closed."""
        payload_fields = [_PAYLOAD + name for name in claim.payload]
        arguments = [claim.token, status, self.policy.lifetime * 1000, *payload_fields]
        return self._scripts["finish"]([self.key(claim.id)], arguments) == 1

    def forget_pending(
        self, verification_id: str, pseudonym: str, purpose: str, fingerprint: str = ""
    ) -> None:
        """Take a locked verification off its destination's list: an older one may be finalised."""
        self.redis.zrem(self.pending_key(pseudonym, purpose, fingerprint), verification_id)

    def release(self, claim: Claim) -> None:
        """Give back a claim that could not be finished; the code works again."""
        self._scripts["release"]([self.key(claim.id)], [claim.token])

    def resend(self, verification_id: str, purpose: str, code_hash: str) -> Resend:
        """Put a new code in place of the current one, if a resend is left and due."""
        policy = self.policy
        arguments = [purpose, code_hash, _now_ms(), policy.ttl * 1000, policy.cooldown * 1000]
        reply = pairs(self._scripts["resend"]([self.key(verification_id)], arguments))
        outcome = Outcome(reply["outcome"])
        if outcome == Outcome.TOO_SOON:
            return Resend(outcome, retry_after=reply["retry_after"])
        if outcome == Outcome.EXHAUSTED and reply["first_refusal"] == 1:
            return Resend(outcome, failure=_failure(verification_id, FailureReason.TOO_MANY_RESENDS, reply))
        if outcome != Outcome.OK:
            return Resend(outcome)
        channel, masked, silent = reply["channel"], reply["masked"], reply["silent"] == "1"
        counts = [reply[name] for name in ("expires_in", "resend_in", "attempts_left", "resends_left")]
        challenge = Challenge(verification_id, Status.CODE_SENT, channel, masked, *counts, policy.length)
        destination = Destination(channel, reply["address"], reply["pseudonym"], masked)
        return Resend(outcome, challenge, destination, reply["locale"], reply["country"], silent)

    def restore(self, verification_id: str, code_hash: str) -> None:
        """Undo a resend whose code could not be sent: nothing is charged."""
        self._scripts["restore"]([self.key(verification_id)], [code_hash])

    def get(self, verification_id: str, purpose: str) -> Challenge | None:
        """The verification as its customer may see it, or None if unknown or lapsed."""
        values = self.redis.hmget(self.key(verification_id), _STATUS_FIELDS)
        fields = dict(zip(_STATUS_FIELDS, values, strict=True))
        if fields["purpose"] != purpose:
            return None
        now = _now_ms()
        status = Status.CODE_SENT if fields["status"] == Status.CLAIMED else Status(fields["status"])
        live = status == Status.CODE_SENT
        expires_in = _seconds(int(fields["code_exp"]) - now) if live else 0
        resend_in = _seconds(int(fields["resend_at"]) - now) if live else 0
        counts = (expires_in, resend_in, int(fields["attempts"]), int(fields["resends"]), self.policy.length)
        return Challenge(verification_id, status, fields["channel"], fields["masked"], *counts)

    def newest_pending(self, pseudonym: str, purpose: str, fingerprint: str = "") -> str | None:
        """The id of the newest verification of `purpose` started for a destination (with the details of
        `fingerprint`, if given) that is not locked: a closed one too, so that its finalisation says so."""
        oldest_alive = (_now_ms() - self.policy.lifetime * 1000) * 1000
        pending = self.pending_key(pseudonym, purpose, fingerprint)
        ids = self.redis.zrevrangebyscore(pending, "+inf", oldest_alive, start=0, num=1)
        return ids[0] if ids else None

    def lapsed(self, before_ms: int, limit: int = 500) -> list[str]:
        """Expiry notices of verifications that lapsed before `before_ms`, oldest first."""
        return self.redis.zrangebyscore(EXPIRIES, "-inf", before_ms, start=0, num=limit)

    def renotice(self, notice: str, replacement: str) -> None:
        """Put `replacement` in place of an expiry notice, by the same deadline."""
        self._scripts["renotice"]([EXPIRIES], [notice, replacement])

    def forget_lapsed(self, notices: list[str]) -> None:
        """Drop expiry notices that have been dealt with."""
        if notices:
            self.redis.zrem(EXPIRIES, *notices)
