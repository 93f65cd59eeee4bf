"""Signing an existing customer in with a code. Knows nothing of HTTP.

The codes are the registration's own (`CodeChallenges`, purpose "login"): the same length,
expiry, attempts, resends, cooldown, limits and checks, so that a change to one is a change
to both. Nothing here tells whether an account exists, unless REVEAL_EXISTING_ACCOUNTS.
"""

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy import Engine

from app import errors
from app.codes import Challenge
from app.codes.store import COMPLETED
from app.customers.service import CustomerDirectory
from app.identity import PHONE
from app.models import Customer
from app.tokens import Tokens, TokenService
from app.verification import CodeChallenges

PURPOSE = "login"
log = logging.getLogger("registrar.login")


@dataclass(frozen=True)
class LoginRequest:
    """Who is signing in: a phone in E.164 (with its country) or a normalised email."""

    verified_by: str
    phone: str | None
    email: str | None
    country_code: str | None
    locale: str

    @property
    def destination(self) -> str:
        """The phone or email the code goes to."""
        return self.phone if self.verified_by == PHONE else self.email


@dataclass(frozen=True)
class SignedIn:
    """A customer and the tokens of their new session."""

    customer: Customer
    tokens: Tokens


class LoginService:
    """Sends sign-in codes to verified identifiers and trades a right one for tokens."""

    def __init__(
        self,
        challenges: CodeChallenges,
        engine: Engine,
        customers: CustomerDirectory,
        tokens: TokenService,
        *,
        reveal_existing_accounts: bool,
    ):
        self.challenges = challenges
        self.engine = engine
        self.customers = customers
        self.tokens = tokens
        self.reveal_existing_accounts = reveal_existing_accounts

    def start(self, login: LoginRequest, *, client_ip: str | None = None) -> Challenge:
        """Send a code to the account that has verified this phone or email.

        With no such account the answer is the same, limits and time included, and nothing
        is sent: the sign-in is silent, and no code will ever complete it. Unless
        REVEAL_EXISTING_ACCOUNTS is on: then it is `404 account_not_found`, once the start
        has counted against the budgets.
        """
        customer_id = self.customers.verified_holder(login.verified_by, login.destination)
        if customer_id is None and self.reveal_existing_accounts:
            self.challenges.count_start(
                login.verified_by, login.destination, login.country_code, client_ip=client_ip
            )
            raise errors.AccountNotFound()
        return self.challenges.send_first(
            login.verified_by,
            login.destination,
            login.locale,
            {"customer_id": customer_id, "country_code": login.country_code},
            client_ip=client_ip,
            silent=customer_id is None,
        )

    def verify(self, login_id: str, code: str) -> SignedIn:
        """Check the code and, if it is right, open a session: new tokens of a new family.

        The code is spent (in Redis) before the transaction that stores the refresh token
        commits, and only by the request that still holds its claim: a code never opens two
        sessions. When the database fails before that, the code works again; should the
        commit itself fail after the code was spent, the customer asks for a new code.
        """
        claim = self.challenges.claim(login_id, code)
        try:
            customer_id = claim.payload.get("customer_id")
            customer = self.customers.get(customer_id) if customer_id else None
            if customer is None:  # the account is gone since the code was sent
                self.challenges.finish(claim, COMPLETED)
                raise errors.LoginNotFound()
            with self.engine.begin() as connection:
                tokens = self.tokens.issue(connection, customer.id)
                if not self.challenges.finish(claim, COMPLETED):
                    # The claim's lease ran out mid-request: another request holds the code now.
                    raise errors.AlreadyCompleted(self.challenges.completed)
        except BaseException:
            try:
                self.challenges.release(claim)
            except RedisError:
                log.warning("login %s: its claim could not be given back; it lapses by itself", login_id)
            raise
        return SignedIn(customer, tokens)

    def resend(self, login_id: str) -> Challenge:
        """Send a new code; the older ones stop working."""
        return self.challenges.resend(login_id)

    def status(self, login_id: str) -> Challenge:
        """Where the sign-in stands."""
        return self.challenges.status(login_id)

    def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to; its access token simply expires."""
        self.tokens.revoke(refresh_token)
