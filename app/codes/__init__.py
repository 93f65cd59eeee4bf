"""One-time codes: generation, keyed hashing, their state in Redis and the service on top."""

from app.codes.hashing import CodeHasher, generate_code, new_identifier
from app.codes.service import Codes
from app.codes.store import CodePolicy, CodeStore
from app.codes.values import LOGIN, REGISTER, Challenge, Claim, Failure, FailureReason, Outcome, Status

__all__ = [
    "LOGIN",
    "REGISTER",
    "Challenge",
    "Claim",
    "CodeHasher",
    "CodePolicy",
    "CodeStore",
    "Codes",
    "Failure",
    "FailureReason",
    "Outcome",
    "Status",
    "generate_code",
    "new_identifier",
]
