"""Signing an existing customer in with a code, on registration's own machinery (`Codes`, purpose
`LOGIN`). Knows nothing of HTTP; tells nobody whether an account exists, unless REVEAL_EXISTING_ACCOUNTS."""

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from app import errors
from app.accounts import Accounts
from app.codes import Challenge, Codes, Status
from app.identity import Contact, ContactPolicy
from app.tokens import Session, TokenService

log = logging.getLogger("registrar.login")


@dataclass
class LoginService:
    """Sends sign-in codes to verified identifiers and trades a right one for tokens."""

    codes: Codes
    accounts: Accounts
    tokens: TokenService
    contacts: ContactPolicy
    reveal_accounts: bool

    def start(self, contact: Contact, locale: str, *, client_ip: str | None = None) -> Challenge:
        """Send a code to the account that has verified this phone or email. With none, the answer is the
        same but silent: nothing is sent (with REVEAL_EXISTING_ACCOUNTS: AccountNotFound, once counted)."""
        self.contacts.check(contact)
        customer_id = self.accounts.verified_holder(contact.verified_by, contact.address)
        destination = self.codes.hasher.destination(contact.verified_by, contact.address)
        if customer_id is None and self.reveal_accounts:
            self.codes.count_start(destination, contact.country_code, client_ip=client_ip)
            raise errors.AccountNotFound()
        payload = {"customer_id": customer_id, "country_code": contact.country_code}
        return self.codes.start(destination, locale, payload, client_ip=client_ip, silent=customer_id is None)

    def verify(self, login_id: str, code: str, *, client_ip: str | None = None) -> Session:
        """Check the code and open a session (new tokens, a new family). The code is spent before the
        refresh token commits, by the request still holding its claim: it never opens two sessions."""
        claim = self.codes.claim(login_id, code, client_ip=client_ip)
        try:
            customer_id = claim.payload.get("customer_id")
            customer = self.accounts.get(customer_id) if customer_id else None
            if customer is None:  # the account is gone since the code was sent
                self.codes.store.finish(claim, Status.COMPLETED)
                raise errors.LoginNotFound()
            with self.tokens.engine.begin() as connection:
                tokens = self.tokens.issue(connection, customer.id)
                if not self.codes.store.finish(claim, Status.COMPLETED):
                    # The claim's lease ran out mid-request: another request holds the code now.
                    raise errors.AlreadyCompleted(self.codes.purpose.completed)
        except BaseException:
            try:
                self.codes.store.release(claim)
            except RedisError:
                log.warning("login %s: its claim could not be given back; it lapses by itself", login_id)
            raise
        return Session(customer, tokens)
