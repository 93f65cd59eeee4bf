"""Signing keys, access tokens, refresh rotation and the JWK Set."""

from app.tokens.keys import SigningKeys
from app.tokens.service import Tokens, TokenService

__all__ = ["SigningKeys", "TokenService", "Tokens"]
