"""Sending, checking and resending codes: one machinery for registration and login, and the
contract's errors for what a verification's state says."""

import logging
from dataclasses import dataclass, replace
from typing import Protocol

from app import errors
from app.channels import DeliveryFailed
from app.codes.hashing import CodeHasher, generate_code, new_identifier, normalise_code
from app.codes.store import CodeStore, NewVerification
from app.codes.values import Challenge, Claim, Destination, Failure, FailureReason, Outcome, Purpose, Status
from app.limits import Limits, Plan, guesses

log = logging.getLogger("registrar.codes")
NOT_A_CODE = "Enter every digit of the code we sent, and nothing else."


class Courier(Protocol):
    def send_code(self, channel: str, to: str, code: str, locale: str) -> None:
        """Hand the code to its channel; DeliveryFailed if it is not taken."""


class FailureLog(Protocol):
    def record(self, failure: Failure) -> None:
        """Tell subscribers a registration failed (onRegistrationFailed)."""


@dataclass(frozen=True)
class Codes:
    """Codes for one purpose, on the store, limits and courier all share; `failures` gets each failure once.
    A courier sending in the background never fails here: a refused code keeps its limits, as a silent one."""

    purpose: Purpose
    store: CodeStore
    limits: Limits
    courier: Courier
    hasher: CodeHasher
    failures: FailureLog | None = None

    def start(
        self,
        destination: Destination,
        locale: str,
        payload: dict[str, str | None],
        *,
        details: dict[str, str | None] | None = None,
        client_ip: str | None = None,
        silent: bool = False,
    ) -> Challenge:
        """Start a verification and send its first code; nothing is kept if sending fails. `payload`, less
        its None values, is in the `Claim` of a right code, given the same `details` if started with some.
        A `silent` one looks the same from outside, limits included, but sends nothing and never matches."""
        verification_id = new_identifier(self.purpose.id_prefix)
        code = generate_code(self.store.policy.length)
        channel, masked, country = destination.channel, destination.masked, payload.get("country_code")
        lapse = Failure(verification_id, FailureReason.EXPIRED, channel, masked, country)
        verification = NewVerification(
            verification_id,
            self.purpose.name,
            destination,
            locale,
            payload,
            code_hash=self.hasher.code(verification_id, code),
            fingerprint=self.hasher.fingerprint(details),
            expiry_notice=lapse.notice() if self.failures else "",
            silent=silent,
        )
        challenge, taken = self._write(verification, client_ip)
        if not silent:
            try:
                self._send(destination, code, locale)
            except errors.ChannelUnavailable:
                self.store.discard(verification)
                self.limits.give_back(taken)
                self._failed(replace(lapse, reason=FailureReason.CODE_DELIVERY_FAILED))
                raise
        return challenge

    def _write(self, verification: NewVerification, client_ip: str | None) -> tuple[Challenge, Plan | None]:
        """Write a new verification and take its limits in one round trip; a refusal takes it back. A silent
        one only checks the SMS budgets: a start that sends nothing must not spend them."""
        country, sending = verification.payload.get("country_code"), not verification.silent
        plan = self.limits.plan(verification.destination, country, client_ip=client_ip, sending=sending)
        pipe = self.store.redis.pipeline(transaction=False)
        if plan is not None:
            self.limits.queue(pipe, plan)
        challenge = self.store.queue_create(pipe, verification)
        results = pipe.execute(raise_on_error=False)
        take_reply = results.pop(0) if plan is not None else None
        for result in results:
            if isinstance(result, Exception):
                raise result
        try:
            if plan is not None:
                self.limits.settle(plan, take_reply)
        except BaseException:
            self.store.discard(verification)
            raise
        return challenge, plan

    def claim(
        self,
        verification_id: str,
        typed_code: str,
        *,
        details: dict | None = None,
        client_ip: str | None = None,
    ) -> Claim:
        """A right code's claim, to `finish` or `release`; else the contract's error. With `details`, a
        verification started with other details is not found. Every check counts as a guess from `client_ip`,
        and a wrong code as a failure of its identity: either budget spent, 429 and no code is checked."""
        code = normalise_code(typed_code)
        if code is None or len(code) != self.store.policy.length:
            raise self._not_a_code(verification_id)
        code_hash, fingerprint = self.hasher.code(verification_id, code), self.hasher.fingerprint(details)
        key = self.store.key(verification_id)
        guess = guesses.take(self.limits, client_ip, lambda: self.store.redis.hmget(key, ("dest", "masked")))
        check = self.store.check(verification_id, self.purpose.name, code_hash, fingerprint)
        if guess is not None and check.outcome in (Outcome.WRONG, Outcome.LOCKED_NOW):
            guesses.count_failure(self.limits, guess, check.pseudonym)
        if check.outcome == Outcome.OK:
            return check.claim
        if check.outcome == Outcome.LOCKED_NOW:
            self.store.forget_pending(verification_id, check.pseudonym, self.purpose.name, check.fingerprint)
            self._failed(check.failure)
        raise self._error(check.outcome, attempts_left=check.attempts_left)

    def _not_a_code(self, verification_id: str) -> errors.RegistrarError:
        """The error for something typed that is no code: the verification's own state first
        (unknown, locked, finished, expired), else a field error that costs nothing."""
        challenge = self.status(verification_id)
        if challenge.status != Status.CODE_SENT:
            return self._error(Outcome(challenge.status))
        if challenge.expires_in == 0:
            return self._error(Outcome.EXPIRED, attempts_left=challenge.attempts_left)
        return errors.ValidationFailed(errors={"code": [NOT_A_CODE]})

    def _error(self, outcome: Outcome, attempts_left: int = 0, retry_after: int = 0) -> errors.RegistrarError:
        """The contract's error for what a check or a resend found, or for a verification's closed status."""
        match outcome:
            case Outcome.WRONG:
                return errors.InvalidCode(attempts_left=attempts_left)
            case Outcome.EXPIRED:
                return errors.CodeExpired(attempts_left=attempts_left)
            case Outcome.LOCKED_NOW | Outcome.LOCKED:
                return errors.TooManyAttempts(attempts_left=0)
            case Outcome.TOO_SOON:
                return errors.with_retry_after(errors.ResendTooSoon, retry_after)
            case Outcome.EXHAUSTED:
                return errors.TooManyResends(resends_left=0)
            case Outcome.ALREADY_REGISTERED:
                return errors.AlreadyRegistered()
            case Outcome.COMPLETED | Outcome.CLAIMED:
                return errors.AlreadyCompleted(self.purpose.completed)
        return self.purpose.not_found()

    def resend(self, verification_id: str, *, client_ip: str | None = None) -> Challenge:
        """Send a new code in place of the current one, if one is left and due."""
        code = generate_code(self.store.policy.length)
        code_hash = self.hasher.code(verification_id, code)
        resend = self.store.resend(verification_id, self.purpose.name, code_hash)
        if resend.outcome != Outcome.OK:
            if resend.failure:  # the first refusal of an exhausted one
                self._failed(resend.failure)
            raise self._error(resend.outcome, retry_after=resend.retry_after)
        taken = None
        plan = self.limits.plan(
            resend.destination, resend.country, client_ip=client_ip, starting=False, sending=not resend.silent
        )
        try:
            taken = self.limits.take(plan, resending=True)
            if not resend.silent:
                self._send(resend.destination, code, resend.locale)
        except errors.RegistrarError:  # refused by the limits or the channel: the resend is undone
            self.store.restore(verification_id, code_hash)
            self.limits.give_back(taken)
            raise
        return resend.challenge

    def status(self, verification_id: str) -> Challenge:
        """The verification as its customer may see it."""
        challenge = self.store.get(verification_id, self.purpose.name)
        if challenge is None:
            raise self.purpose.not_found()
        return challenge

    def newest_pending(self, destination: Destination, details: dict[str, str | None] | None = None) -> str:
        """The newest verification of this purpose started for `destination` (with these `details`, if
        given) and not locked: a closed one answers as closed when it is claimed."""
        fingerprint = self.hasher.fingerprint(details)
        verification_id = self.store.newest_pending(destination.pseudonym, self.purpose.name, fingerprint)
        if verification_id is None:
            raise self.purpose.not_found()
        return verification_id

    def count_start(self, destination: Destination, country: str | None, *, client_ip: str | None) -> None:
        """Count a start that sends nothing: checked as a start, it spends its client's and destination's."""
        plan = self.limits.plan(destination, country, client_ip=client_ip, sending=False, cooling=False)
        self.limits.take(plan)

    def _send(self, destination: Destination, code: str, locale: str) -> None:
        try:
            self.courier.send_code(destination.channel, destination.address, code, locale)
        except DeliveryFailed as failure:
            # The reason names the provider and what it did, never the destination.
            log.warning("%s code not delivered: %s", destination.channel, failure)
            raise errors.ChannelUnavailable() from None

    def _failed(self, failure: Failure) -> None:
        """Record a failure, without changing the customer's answer if that fails. The expiry
        notice learns the reason first: a lost event is still announced at the lapse."""
        if self.failures is None:
            return
        try:
            if failure.reason != FailureReason.CODE_DELIVERY_FAILED:
                lapse = replace(failure, reason=FailureReason.EXPIRED)
                self.store.renotice(lapse.notice(), failure.notice())
            self.failures.record(failure)
        except Exception as error:
            reason, verification_id = failure.reason, failure.verification_id
            log.warning("%s of %s not recorded: %s", reason, verification_id, type(error).__name__)
