"""Signing keys, access tokens, refresh rotation and the JWK Set."""

from app.tokens.keys import SigningKeys
from app.tokens.service import Session, TokenPolicy, Tokens, TokenService

__all__ = ["Session", "SigningKeys", "TokenPolicy", "TokenService", "Tokens"]
