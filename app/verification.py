"""Sending, checking and resending codes: the machinery registration and login share.

A `CodeChallenges` serves one purpose ("register" or "login"). It turns what the code
store finds into the contract's errors, so that a change to how codes are checked is
one change for both flows.
"""

import contextvars
import functools
import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace

from app import errors
from app.channels import DeliveryFailed, Sender, code_message
from app.codes import (
    Challenge,
    Claim,
    CodeHasher,
    Facts,
    NewVerification,
    Outcome,
    VerificationStore,
    generate_code,
    new_identifier,
    normalise_code,
)
from app.codes.store import CODE_SENT
from app.identity import PHONE, destination_key, mask
from app.limits import COOLDOWN, Limits, Refused, Taken

log = logging.getLogger("registrar.channels")
Details = dict[str, str | None]
# Told of each failure of a verification, once: (verification id, reason, facts).
FailureHook = Callable[[str, str, Facts], None]
NOT_A_CODE = "Enter every digit of the code we sent, and nothing else."


def _refused(refusal: Refused, *, resending: bool) -> errors.RegistrarError:
    """The contract's 429 for a spent limit: a resend inside a destination's cooldown is
    simply too soon; anything else is rate_limited."""
    error = errors.ResendTooSoon if resending and refusal.limit == COOLDOWN else errors.RateLimited
    return errors.with_retry_after(error, refusal.retry_after)


def _expiry_notice(verification_id: str, facts: Facts, reason: str | None = None) -> str:
    """What the webhook worker needs to announce a lapse, once the verification is gone;
    with `reason`, the failure it met (in case its event was lost on the way)."""
    notice = {"id": verification_id, "by": facts.channel, "to": facts.masked, "cc": facts.country}
    if reason:
        notice["reason"] = reason
    return json.dumps(notice, separators=(",", ":"), ensure_ascii=False)


class CodeChallenges:
    """Codes for one purpose, each verification known by an id with `id_prefix`; `not_found`
    and `completed` (a message) say what an unknown or finished one is called.

    With a `background` executor, codes are sent there and the caller is answered at once:
    a failed send is logged, and changes neither an answer nor the limits. Without one, the
    caller waits for the channel and learns of its failure (`503 channel_unavailable`), and
    a code that did not leave charges nothing.
    """

    def __init__(
        self,
        store: VerificationStore,
        hasher: CodeHasher,
        senders: dict[str, Sender],
        *,
        purpose: str,
        id_prefix: str,
        not_found: type[errors.RegistrarError],
        completed: str = errors.AlreadyCompleted.message,
        code_length: int,
        code_ttl: int,
        store_name: str,
        webotp_domain: str | None = None,
        on_failure: FailureHook | None = None,
        notify_expiry: bool = False,
        limits: Limits | None = None,
        background: Executor | None = None,
    ):
        self.store = store
        self.hasher = hasher
        self.senders = senders
        self.purpose = purpose
        self.id_prefix = id_prefix
        self.not_found = not_found
        self.completed = completed
        self.code_length = code_length
        self.minutes = math.ceil(code_ttl / 60)
        self.store_name = store_name
        self.webotp_domain = webotp_domain
        self.on_failure = on_failure
        self.notify_expiry = notify_expiry
        self.limits = limits
        self.background = background

    def send_first(
        self,
        channel: str,
        to: str,
        locale: str,
        payload: Details,
        *,
        details: Details | None = None,
        client_ip: str | None = None,
        silent: bool = False,
    ) -> Challenge:
        """Start a verification and send its first code; nothing is kept if sending fails.

        `payload` comes back, less its None values, in the `Claim` of a matching code.
        A `claim` given `details` finds it only if it was started with the same ones.
        The start counts against `client_ip`'s limit, the code against the destination's.
        A `silent` verification is the same in every way that can be seen from outside,
        limits included, but its codes are never sent and none can match; give it a
        `background` executor, or its answers come sooner than those of codes sent.
        """
        verification_id = new_identifier(self.id_prefix)
        code = generate_code(self.code_length)
        facts = Facts(channel, mask(channel, to), payload.get("country_code"))
        verification = NewVerification(
            id=verification_id,
            purpose=self.purpose,
            channel=channel,
            to=to,
            destination=self.hasher.destination(destination_key(channel, to)),
            masked=facts.masked,
            locale=locale,
            payload=payload,
            code_hash=self.hasher.code(verification_id, code),
            fingerprint=self.hasher.fingerprint(details) if details is not None else "",
            expiry_notice=_expiry_notice(verification_id, facts) if self.notify_expiry else "",
            silent=silent,
        )
        phone = to if channel == PHONE else None
        planned = self.limits and self.limits.plan(
            verification.destination, client_ip=client_ip, phone=phone, country=facts.country
        )
        # The limits are checked in the round trip that writes the verification, which is
        # taken back should they refuse: one round trip for both on the usual path.
        queue = functools.partial(self.limits.queue, planned=planned) if planned else None
        challenge, checked = self.store.create(verification, first=queue)
        taken = None
        if planned:
            try:
                taken = self.limits.settle(planned, checked)
            except BaseException as trouble:
                self.store.discard(verification)
                if isinstance(trouble, Refused):
                    raise _refused(trouble, resending=False) from None
                raise
        if self.background is not None:
            if not silent:
                self._send_later(channel, to, locale, code)
            return self._public(challenge)
        try:
            if not silent:
                self._send(channel, to, locale, code)
        except errors.ChannelUnavailable:
            self.store.discard(verification)
            self._give_back(taken)
            self._failed(verification_id, "code_delivery_failed", facts)
            raise
        return self._public(challenge)

    def claim(self, verification_id: str, typed_code: str, *, details: Details | None = None) -> Claim:
        """Check a typed code; on a match the verification is claimed for the caller.

        With `details`, a verification started with other details is not found. Every
        other outcome raises the contract's error for it.
        """
        code = normalise_code(typed_code)
        if code is None or len(code) != self.code_length:
            raise self._not_a_code(verification_id)
        code_hash = self.hasher.code(verification_id, code)
        fingerprint = self.hasher.fingerprint(details) if details is not None else ""
        check = self.store.check(verification_id, self.purpose, code_hash, fingerprint)
        match check.outcome:
            case Outcome.OK:
                return check.claim
            case Outcome.WRONG:
                raise errors.InvalidCode(attempts_left=check.attempts_left)
            case Outcome.LOCKED_NOW:
                self.store.forget_pending(verification_id, check.destination, self.purpose)
                self._failed(verification_id, "too_many_attempts", check.facts)
                raise errors.TooManyAttempts(attempts_left=0)
            case Outcome.EXPIRED:
                raise errors.CodeExpired(attempts_left=check.attempts_left)
        raise self._closed(check.outcome)

    def _not_a_code(self, verification_id: str) -> errors.RegistrarError:
        """The error for something typed that is no code: the verification's own state
        first (locked, expired, finished, unknown), else a field error that costs nothing."""
        challenge = self.store.get(verification_id, self.purpose)
        if challenge is None:
            return self.not_found()
        if challenge.status != CODE_SENT:
            return self._closed(Outcome(challenge.status))
        if challenge.expires_in == 0:
            return errors.CodeExpired(attempts_left=challenge.attempts_left)
        return errors.ValidationFailed(errors={"code": [NOT_A_CODE]})

    def finish(self, claim: Claim, status: str) -> bool:
        """Close a claimed verification for good (`completed` or `already_registered`);
        False if the claim is no longer the caller's (its lease ran out meanwhile)."""
        return self.store.finish(claim, status)

    def release(self, claim: Claim) -> None:
        """Give back a claim that could not be finished, so the same code works again."""
        self.store.release(claim)

    def resend(self, verification_id: str) -> Challenge:
        """Send a new code in place of the current one, if one is left and due."""
        code = generate_code(self.code_length)
        code_hash = self.hasher.code(verification_id, code)
        resend = self.store.resend(verification_id, self.purpose, code_hash)
        match resend.outcome:
            case Outcome.OK:
                channel = resend.challenge.channel
                try:
                    taken = self._take(resend.destination, channel, resend.to, resend.country, resending=True)
                except errors.RegistrarError:
                    self.store.restore(verification_id, code_hash)
                    raise
                if self.background is not None:
                    if not resend.silent:
                        self._send_later(channel, resend.to, resend.locale, code)
                    return self._public(resend.challenge)
                try:
                    if not resend.silent:
                        self._send(channel, resend.to, resend.locale, code)
                except errors.ChannelUnavailable:
                    self.store.restore(verification_id, code_hash)
                    self._give_back(taken)
                    raise
                return self._public(resend.challenge)
            case Outcome.TOO_SOON:
                raise errors.with_retry_after(errors.ResendTooSoon, resend.retry_after)
            case Outcome.EXHAUSTED:
                if resend.first_refusal:
                    self._failed(verification_id, "too_many_resends", resend.first_refusal)
                raise errors.TooManyResends(resends_left=0)
        raise self._closed(resend.outcome)

    def status(self, verification_id: str) -> Challenge:
        """The verification as its customer may see it."""
        challenge = self.store.get(verification_id, self.purpose)
        if challenge is None:
            raise self.not_found()
        return self._public(challenge)

    def newest_pending(self, channel: str, to: str) -> str:
        """The newest verification of this purpose still waiting for a code at `to`."""
        verification_id = self.store.newest_pending(
            self.hasher.destination(destination_key(channel, to)), self.purpose
        )
        if verification_id is None:
            raise self.not_found()
        return verification_id

    def _take(
        self,
        destination: str,
        channel: str,
        to: str,
        country: str | None,
        *,
        client_ip: str | None = None,
        resending: bool = False,
    ) -> Taken | None:
        """Take what one code costs from the limits; the contract's 429 if one is spent."""
        if self.limits is None:
            return None
        try:
            return self.limits.take(
                destination, client_ip=client_ip, phone=to if channel == PHONE else None, country=country
            )
        except Refused as refusal:
            raise _refused(refusal, resending=resending) from None

    def _give_back(self, taken: Taken | None) -> None:
        if self.limits is not None:
            self.limits.give_back(taken)

    def count_start(self, channel: str, to: str, country: str | None, *, client_ip: str | None) -> None:
        """Count a start that will send nothing against `client_ip`, as start would: the
        contract's 429 when a budget is spent."""
        destination = self.hasher.destination(destination_key(channel, to))
        self._give_back(self._take(destination, channel, to, country, client_ip=client_ip))

    def _send_later(self, channel: str, to: str, locale: str, code: str) -> None:
        """Send in the background executor, under the request's log context. A failed send
        is only logged: it keeps what it took from the limits, as a silent one does, so that
        no later answer tells the two apart."""

        def send() -> None:
            try:
                self._send(channel, to, locale, code)
            except errors.ChannelUnavailable:
                pass  # _send said why
            except Exception as error:
                # The type only: a message could quote the destination.
                log.error("%s code not sent: %s", channel, type(error).__name__)

        self.background.submit(contextvars.copy_context().run, send)

    def _send(self, channel: str, to: str, locale: str, code: str) -> None:
        message = code_message(
            channel,
            code,
            locale=locale,
            store=self.store_name,
            minutes_left=self.minutes,
            webotp_domain=self.webotp_domain,
        )
        try:
            self.senders[channel].send(to, message)
        except DeliveryFailed as failure:
            # The reason names the provider and what it did, never the destination.
            log.warning("%s code not delivered: %s", channel, failure)
            raise errors.ChannelUnavailable() from None

    def _failed(self, verification_id: str, reason: str, facts: Facts) -> None:
        """Tell the failure hook; its own trouble must not change the customer's answer.

        The expiry notice learns the reason first, so that a failure whose event is lost
        is still announced, at the latest when the verification lapses."""
        if self.on_failure is None:
            return
        try:
            if self.notify_expiry and reason != "code_delivery_failed":
                notice = _expiry_notice(verification_id, facts)
                self.store.renotice(notice, _expiry_notice(verification_id, facts, reason))
            self.on_failure(verification_id, reason, facts)
        except Exception as error:
            log.warning("failure %s of %s not recorded: %s", reason, verification_id, type(error).__name__)

    def _public(self, challenge: Challenge) -> Challenge:
        return replace(challenge, code_length=self.code_length)

    def _closed(self, outcome: Outcome) -> errors.RegistrarError:
        """The error for a verification that no longer takes codes."""
        match outcome:
            case Outcome.LOCKED:
                return errors.TooManyAttempts(attempts_left=0)
            case Outcome.ALREADY_REGISTERED:
                return errors.AlreadyRegistered()
            case Outcome.COMPLETED | Outcome.CLAIMED:
                return errors.AlreadyCompleted(self.completed)
        return self.not_found()
