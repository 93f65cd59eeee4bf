"""What the codes service speaks in: destinations, purposes, policies, answers and failures."""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from app import errors


@dataclass(frozen=True)
class Destination:
    """Where a code goes: the phone (E.164) or email (`address`), its keyed pseudonym for
    Redis key names, and the masked text a customer may be shown."""

    channel: str  # "phone" or "email"
    address: str
    pseudonym: str
    masked: str


@dataclass(frozen=True)
class Purpose:
    """What codes are for: each purpose has ids of its own and names its errors."""

    name: str
    id_prefix: str
    not_found: type[errors.RegistrarError]
    completed: str  # the message of already_completed


REGISTER = Purpose("register", "reg", errors.RegistrationNotFound, errors.AlreadyCompleted.message)
LOGIN = Purpose("login", "log", errors.LoginNotFound, "This sign-in is already complete.")


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
        return cls(
            config.OTP_LENGTH, config.OTP_TTL, lifetime, config.OTP_MAX_ATTEMPTS, config.MAX_RESENDS, cooldown
        )


class Status(StrEnum):
    """Where a verification stands, as Redis keeps it."""

    CODE_SENT = "code_sent"
    CLAIMED = "claimed"
    COMPLETED = "completed"
    LOCKED = "locked"
    ALREADY_REGISTERED = "already_registered"


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
    """A verification whose code matched, held for its caller to finish or release."""

    id: str
    purpose: str
    pseudonym: str  # of its destination
    payload: dict[str, str]  # what start kept, less its None values
    token: str


class FailureReason(StrEnum):
    """Why a registration failed, as onRegistrationFailed says (API.md §3)."""

    TOO_MANY_ATTEMPTS = "too_many_attempts"
    TOO_MANY_RESENDS = "too_many_resends"
    EXPIRED = "expired"
    CODE_DELIVERY_FAILED = "code_delivery_failed"
    ALREADY_REGISTERED = "already_registered"


@dataclass(frozen=True)
class Failure:
    """A registration that failed, as far as it may be told: its channel, its masked
    destination and its country, never the phone or email itself."""

    verification_id: str
    reason: FailureReason
    channel: str
    masked: str
    country: str | None

    def notice(self) -> str:
        """The compact text the expiry index keeps, to announce the failure once it lapses."""
        fields = {"id": self.verification_id, "by": self.channel, "to": self.masked, "cc": self.country}
        if self.reason != FailureReason.EXPIRED:
            fields["reason"] = self.reason
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_notice(cls, notice: str) -> "Failure":
        fields = json.loads(notice)
        reason = FailureReason(fields.get("reason", FailureReason.EXPIRED))
        return cls(fields["id"], reason, fields["by"], fields["to"], fields["cc"])


class Outcome(StrEnum):
    """What a check or a resend found: one of these, or the verification's closed status."""

    OK = "ok"
    WRONG = "wrong"
    LOCKED_NOW = "locked_now"
    EXPIRED = "expired"
    TOO_SOON = "too_soon"
    EXHAUSTED = "exhausted"
    NOT_FOUND = "not_found"
    CLAIMED = Status.CLAIMED
    COMPLETED = Status.COMPLETED
    LOCKED = Status.LOCKED
    ALREADY_REGISTERED = Status.ALREADY_REGISTERED


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
    """What checking a typed code found: a `claim` when it matched; the `failure` to record
    when this check locked the verification."""

    outcome: Outcome
    attempts_left: int = 0
    pseudonym: str = ""
    claim: Claim | None = None
    failure: Failure | None = None


@dataclass(frozen=True)
class Resend:
    """What asking for a new code found. With OK, the new challenge and where its code
    goes; with EXHAUSTED, the `failure` to record the first time it is refused."""

    outcome: Outcome
    challenge: Challenge | None = None
    destination: Destination | None = None
    locale: str = ""
    country: str | None = None
    silent: bool = False
    retry_after: int = 0
    failure: Failure | None = None


class Courier(Protocol):
    def send_code(self, channel: str, to: str, code: str, locale: str) -> None:
        """Hand the code to its channel; DeliveryFailed if it is not taken."""


class FailureLog(Protocol):
    def record(self, failure: Failure) -> None:
        """Tell subscribers a registration failed (onRegistrationFailed)."""
