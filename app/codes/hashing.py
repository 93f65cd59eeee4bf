"""Codes: how they are made, read back from what a customer typed, and hashed."""

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from app.codes.values import Destination
from app.identity import EMAIL, email_key, mask

# Arabic-Indic (٠-٩) and Extended Arabic-Indic (۰-۹, Persian and Urdu keyboards) digits.
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def generate_code(length: int) -> str:
    """A code of `length` decimal digits from the operating system's CSPRNG."""
    return f"{secrets.randbelow(10**length):0{length}d}"


def normalise_code(typed: str) -> str | None:
    """The code's ASCII digits, or None if it is no code; spaces and dashes (`123 456`, `123-456`) go."""
    digits = typed.translate(_DIGITS).replace(" ", "").replace("-", "")
    if not digits or not digits.isascii() or not digits.isdigit():
        return None
    return digits


def new_identifier(prefix: str) -> str:
    """An opaque identifier with 128 random bits, such as `reg_2Y1…`."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


class CodeHasher:
    """Keyed hashes, so that neither Redis nor its keys hold a code or an identity."""

    def __init__(self, secret_key: str):
        self._key = hashlib.sha256(b"registrar:codes:" + secret_key.encode()).digest()
        self._destination_key = hashlib.sha256(b"registrar:destinations:" + secret_key.encode()).digest()

    def code(self, verification_id: str, code: str) -> str:
        """HMAC-SHA256 of `id:code`: a code is worth nothing for another verification."""
        return hmac.new(self._key, f"{verification_id}:{code}".encode(), hashlib.sha256).hexdigest()

    def fingerprint(self, details: Mapping[str, str | None] | None) -> str:
        """A keyed 64-bit digest of a payload, to tell whether two requests carried the same one
        ('' for none: any details match)."""
        if details is None:
            return ""
        canonical = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hmac.new(self._key, b"details:" + canonical.encode(), hashlib.sha256).hexdigest()[:16]

    def destination(self, channel: str, address: str) -> Destination:
        """The destination of a phone or email, with a stable 128-bit pseudonym (an email's case aside)."""
        key = f"{channel}:{email_key(address) if channel == EMAIL else address}"
        pseudonym = hmac.new(self._destination_key, key.encode(), hashlib.sha256).hexdigest()[:32]
        return Destination(channel, address, pseudonym, mask(channel, address))

    def prefix(self, number_prefix: str) -> str:
        """A 64-bit keyed pseudonym of a phone number's prefix, for the SMS budget it names."""
        return hmac.new(
            self._destination_key, f"prefix:{number_prefix}".encode(), hashlib.sha256
        ).hexdigest()[:16]
