"""What the codes service speaks in: destinations, purposes, policies, challenges, claims and failures."""

import json
from dataclasses import dataclass
from enum import StrEnum

from app import errors


@dataclass(frozen=True)
class Destination:
    """Where a code goes: a phone (E.164) or email `address`, its keyed pseudonym and its masked text."""

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
    """A registration that failed, as far as it may be told: never the phone or email itself."""

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
