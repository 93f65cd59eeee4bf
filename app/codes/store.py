"""The state of pending verifications (registrations and logins) in Redis.

- `vf:{<id>}`: a hash per verification, every field under the id's hash tag, living as
  long as the verification; the code only as an HMAC; the payload field by field (`p:…`),
  so that the hash keeps Redis's compact listpack encoding.
- `dest:{<pseudonym>}:<purpose>`: a destination's pending ids by start time (µs), for the
  Salla-style finalisation, which names a destination rather than an id.
- `expiries`: notices by lapse time, which the webhook worker sweeps (Redis expires keys
  silently). Every check-and-update is one Lua script on one key: atomic, Cluster-ready.
"""

import secrets
import time
from pathlib import Path

from redis import Redis
from redis.client import Pipeline

from app.codes.values import (
    Challenge,
    Check,
    Claim,
    CodePolicy,
    Destination,
    Failure,
    FailureReason,
    NewVerification,
    Outcome,
    Resend,
    Status,
)
from app.scripts import Script

_LUA = Path(__file__).with_name("lua")
_PAYLOAD = "p:"
EXPIRIES = "expiries"
_STATUS_FIELDS = ("purpose", "status", "channel", "masked", "code_exp", "resend_at", "attempts", "resends")


def _named(reply: list) -> dict:
    """A script's reply of name, value, … pairs as a dict."""
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _seconds(milliseconds: float) -> int:
    """Whole seconds left, rounded up so that a client waiting that long is never early."""
    return max(0, -(-int(milliseconds) // 1000))


def _now_ms() -> int:
    return int(time.time() * 1000)


class CodeStore:
    """Pending verifications, their codes, attempts, resends and expiry."""

    def __init__(self, redis: Redis, policy: CodePolicy):
        self.redis = redis
        self.policy = policy
        scripts = ("check", "resend", "restore", "release", "finish", "renotice")
        self._scripts = {name: Script(redis, _LUA / f"{name}.lua") for name in scripts}

    @staticmethod
    def key(verification_id: str) -> str:
        return f"vf:{{{verification_id}}}"

    @staticmethod
    def pending_key(pseudonym: str, purpose: str) -> str:
        return f"dest:{{{pseudonym}}}:{purpose}"

    def queue_create(self, pipe: Pipeline, verification: NewVerification) -> Challenge:
        """Queue the writes of a new verification with its first code on `pipe`; the
        challenge it will be once the pipeline has run."""
        policy, now = self.policy, _now_ms()
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
        fields.update({_PAYLOAD + name: value for name, value in payload if value is not None})
        key, pending, lifetime = (
            self.key(verification.id),
            self._pending(verification),
            policy.lifetime * 1000,
        )
        pipe.hset(key, mapping=fields)
        pipe.pexpire(key, lifetime)
        # Stale ids are skipped when read; the set lives as long as its newest member.
        pipe.zadd(pending, {verification.id: time.time_ns() // 1000})
        pipe.pexpire(pending, lifetime)
        if verification.expiry_notice:
            pipe.zadd(EXPIRIES, {verification.expiry_notice: now + lifetime})
        return Challenge(
            verification.id, Status.CODE_SENT, destination.channel, destination.masked,
            policy.ttl, policy.cooldown, policy.max_attempts, policy.max_resends, policy.length,
        )  # fmt: skip

    def _pending(self, verification: NewVerification) -> str:
        return self.pending_key(verification.destination.pseudonym, verification.purpose)

    def discard(self, verification: NewVerification) -> None:
        """Forget a verification whose first code never left, as if it had not started."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(self.key(verification.id))
        pipe.zrem(self._pending(verification), verification.id)
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
        arguments = [purpose, code_hash, _now_ms(), token, self.policy.claim_lease * 1000, fingerprint]
        reply = _named(self._scripts["check"]([self.key(verification_id)], arguments))
        outcome, pseudonym = Outcome(reply["outcome"]), reply.get("pseudonym") or ""
        claim = None
        if outcome == Outcome.OK:
            claim = Claim(verification_id, purpose, pseudonym, _named(reply["payload"]), token)
        failure = None
        if outcome == Outcome.LOCKED_NOW:
            reason = FailureReason.TOO_MANY_ATTEMPTS
            failure = Failure(verification_id, reason, reply["channel"], reply["masked"], reply["country"])
        return Check(outcome, int(reply.get("attempts_left") or 0), pseudonym, claim, failure)

    def finish(self, claim: Claim, status: Status) -> bool:
        """Close a claimed verification as `completed` or `already_registered`, in one round
        trip; False, and nothing changed, if the claim is no longer the caller's.

        Its code and payload go, so nothing in Redis can complete it again; its fingerprint
        stays, so that a late finalisation with the same details learns it is finished. The
        key gets its full lifetime again. It leaves its destination's pending set in the same
        round trip, even when the claim was lost: a claim is lost only after its lease ran out
        mid-request, and the verification then stays reachable by its id.
        """
        keys = [self.key(claim.id)]
        payload_fields = [_PAYLOAD + name for name in claim.payload]
        arguments = [claim.token, status, self.policy.lifetime * 1000, *payload_fields]
        pipe = self.redis.pipeline(transaction=False)
        self._scripts["finish"].queue(pipe, keys, arguments)
        pipe.zrem(self.pending_key(claim.pseudonym, claim.purpose), claim.id)
        finished, _ = pipe.execute(raise_on_error=False)
        return self._scripts["finish"].reply(finished, keys, arguments) == 1

    def forget_pending(self, verification_id: str, pseudonym: str, purpose: str) -> None:
        """Take a verification that can no longer be finalised off its destination's list."""
        self.redis.zrem(self.pending_key(pseudonym, purpose), verification_id)

    def release(self, claim: Claim) -> None:
        """Give back a claim that could not be finished; the code works again."""
        self._scripts["release"]([self.key(claim.id)], [claim.token])

    def resend(self, verification_id: str, purpose: str, code_hash: str) -> Resend:
        """Put a new code in place of the current one, if a resend is left and due."""
        policy = self.policy
        arguments = [purpose, code_hash, _now_ms(), policy.ttl * 1000, policy.cooldown * 1000]
        reply = _named(self._scripts["resend"]([self.key(verification_id)], arguments))
        outcome = Outcome(reply["outcome"])
        if outcome == Outcome.TOO_SOON:
            return Resend(outcome, retry_after=max(1, reply["retry_after"]))
        if outcome == Outcome.EXHAUSTED and reply["first_refusal"] == 1:
            reason = FailureReason.TOO_MANY_RESENDS
            failure = Failure(verification_id, reason, reply["channel"], reply["masked"], reply["country"])
            return Resend(outcome, failure=failure)
        if outcome != Outcome.OK:
            return Resend(outcome)
        channel, masked = reply["channel"], reply["masked"]
        counts = {name: reply[name] for name in ("expires_in", "resend_in", "attempts_left", "resends_left")}
        challenge = Challenge(
            verification_id, Status.CODE_SENT, channel, masked, **counts, code_length=self.policy.length
        )
        destination = Destination(channel, reply["address"], reply["pseudonym"], masked)
        return Resend(
            outcome, challenge, destination, reply["locale"], reply["country"], reply["silent"] == "1"
        )

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
        return Challenge(
            verification_id, status, fields["channel"], fields["masked"], expires_in, resend_in,
            int(fields["attempts"]), int(fields["resends"]), self.policy.length,
        )  # fmt: skip

    def newest_pending(self, pseudonym: str, purpose: str) -> str | None:
        """The id of the newest verification of `purpose` started for a destination and not yet closed."""
        oldest_alive = (_now_ms() - self.policy.lifetime * 1000) * 1000
        pending = self.pending_key(pseudonym, purpose)
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
