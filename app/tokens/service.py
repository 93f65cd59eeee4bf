"""Access tokens (ES256 JWTs) and rotating refresh tokens with reuse detection."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import Connection, Engine, Row, insert, select, update

from app.accounts import Accounts, Customer
from app.errors import InvalidToken
from app.models import refresh_tokens, utcnow
from app.tokens.keys import SigningKeys


@dataclass(frozen=True)
class Tokens:
    """A signed-in session as the client receives it."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"


@dataclass(frozen=True)
class Session:
    """A signed-in customer: the account and the tokens of a new session."""

    customer: Customer
    tokens: Tokens


@dataclass(frozen=True)
class TokenPolicy:
    """What access and refresh tokens say and how long they live (seconds)."""

    issuer: str = "registrar"
    audience: str = "storefront"
    access_ttl: int = 900
    refresh_ttl: int = 2592000
    family_max_age: int = 7776000  # from the sign-in, however often its tokens rotate

    @classmethod
    def from_config(cls, config) -> "TokenPolicy":
        ttls = (config.ACCESS_TOKEN_TTL, config.REFRESH_TOKEN_TTL, config.REFRESH_FAMILY_MAX_AGE)
        return cls(config.JWT_ISSUER, config.JWT_AUDIENCE, *ttls)


def _hash(refresh_token: str) -> str:
    return hashlib.sha256(refresh_token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenService:
    """Issues, verifies, rotates and revokes a customer's tokens."""

    keys: SigningKeys
    engine: Engine
    accounts: Accounts
    policy: TokenPolicy

    def issue(self, connection: Connection, customer_id: str, *, rotated: Row | None = None) -> Tokens:
        """New tokens for a customer; the refresh token joins `connection`'s transaction."""
        tokens, row = self.mint(customer_id, rotated=rotated)
        connection.execute(insert(refresh_tokens), row)
        return tokens

    def mint(self, customer_id: str, *, rotated: Row | None = None) -> tuple[Tokens, dict]:
        """New tokens (in the family of the `rotated` refresh token, if any) and the `refresh_tokens` row
        that makes the refresh token valid once inserted; it expires with its family at the latest."""
        now = utcnow()
        family_id = uuid.uuid4().hex if rotated is None else rotated.family_id
        started_at = now if rotated is None else rotated.family_started_at
        refresh_token = "rt_" + secrets.token_urlsafe(32)
        family_end = started_at + timedelta(seconds=self.policy.family_max_age)
        row = {
            "token_hash": _hash(refresh_token),
            "family_id": family_id,
            "customer_id": customer_id,
            "created_at": now,
            "family_started_at": started_at,
            "expires_at": min(now + timedelta(seconds=self.policy.refresh_ttl), family_end),
        }
        return Tokens(self._access_token(customer_id, now), refresh_token, self.policy.access_ttl), row

    def _access_token(self, customer_id: str, now: datetime) -> str:
        issued_at = int(now.timestamp())
        claims = {
            "iss": self.policy.issuer,
            "aud": self.policy.audience,
            "sub": customer_id,
            "iat": issued_at,
            "exp": issued_at + self.policy.access_ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self.keys.private_key, algorithm="ES256", headers={"kid": self.keys.kid})

    def customer(self, access_token: str) -> Customer:
        """The customer an access token speaks for; InvalidToken if it is not valid or they are gone."""
        customer = self.accounts.get(self.customer_id(access_token))
        if customer is None:
            raise InvalidToken()
        return customer

    def customer_id(self, access_token: str) -> str:
        """The customer an access token speaks for; InvalidToken unless it is ours and current."""
        try:
            key = self.keys.public_keys[jwt.get_unverified_header(access_token).get("kid")]
            claims = jwt.decode(
                access_token,
                key,
                algorithms=["ES256"],
                audience=self.policy.audience,
                issuer=self.policy.issuer,
                options={"require": ["iss", "aud", "sub", "iat", "exp", "jti"]},
            )
        except (jwt.PyJWTError, KeyError):  # KeyError: a key that is not ours
            raise InvalidToken() from None
        return claims["sub"]

    def refresh(self, refresh_token: str) -> Tokens:
        """Trade a refresh token, once, for new tokens of the same family, while the family is younger
        than REFRESH_FAMILY_MAX_AGE. Presenting it again means it leaked (or two clients raced with it):
        the family is revoked, the request refused."""
        now = utcnow()
        oldest_family = now - timedelta(seconds=self.policy.family_max_age)
        tokens = refresh_tokens.c
        with self.engine.begin() as connection:
            token = connection.execute(
                select(refresh_tokens).where(tokens.token_hash == _hash(refresh_token))
            ).one_or_none()
            live = token is not None and token.revoked_at is None and token.expires_at > now
            if live and token.family_started_at > oldest_family:
                rotated = connection.execute(
                    update(refresh_tokens)
                    .where(tokens.id == token.id, tokens.rotated_at.is_(None), tokens.revoked_at.is_(None))
                    .values(rotated_at=now)
                )
                if rotated.rowcount == 1:
                    return self.issue(connection, token.customer_id, rotated=token)
                _revoke(connection, tokens.family_id == token.family_id)
        raise InvalidToken()

    def revoke(self, refresh_token: str) -> None:
        """Sign out: revoke the refresh token's whole family. An unknown, expired or already
        revoked token is no error: whoever holds it is signed out either way."""
        tokens = refresh_tokens.c
        family = select(tokens.family_id).where(tokens.token_hash == _hash(refresh_token))
        with self.engine.begin() as connection:
            _revoke(connection, tokens.family_id.in_(family))

    def revoke_all(self, customer_id: str) -> None:
        """Sign a customer out everywhere: revoke every refresh token they hold."""
        with self.engine.begin() as connection:
            _revoke(connection, refresh_tokens.c.customer_id == customer_id)


def _revoke(connection: Connection, which) -> None:
    """Revoke the refresh tokens `which` selects that are not revoked yet."""
    tokens = refresh_tokens.c
    connection.execute(
        update(refresh_tokens).where(which, tokens.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
