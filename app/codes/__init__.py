"""One-time codes: generation, keyed hashing, their state in Redis and the service on top."""

from app.codes.hashing import CodeHasher, generate_code, new_identifier, normalise_code
from app.codes.service import Codes
from app.codes.store import CodeStore
from app.codes.values import (
    LOGIN,
    REGISTER,
    Challenge,
    Claim,
    CodePolicy,
    Destination,
    Failure,
    FailureReason,
    NewVerification,
    Outcome,
    Purpose,
    Status,
)

__all__ = [
    "LOGIN",
    "REGISTER",
    "Challenge",
    "Claim",
    "CodeHasher",
    "CodePolicy",
    "CodeStore",
    "Codes",
    "Destination",
    "Failure",
    "FailureReason",
    "NewVerification",
    "Outcome",
    "Purpose",
    "Status",
    "generate_code",
    "new_identifier",
    "normalise_code",
]
