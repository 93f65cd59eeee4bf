"""One-time codes: generation, keyed hashing and their state in Redis."""

from app.codes.hashing import CodeHasher, generate_code, new_identifier, normalise_code
from app.codes.store import (
    Challenge,
    Check,
    Claim,
    Facts,
    NewVerification,
    Outcome,
    Resend,
    VerificationStore,
)

__all__ = [
    "Challenge",
    "Check",
    "Claim",
    "CodeHasher",
    "Facts",
    "NewVerification",
    "Outcome",
    "Resend",
    "VerificationStore",
    "generate_code",
    "new_identifier",
    "normalise_code",
]
