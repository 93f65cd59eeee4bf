"""Registering a customer: start, verify, resend, status. Knows nothing of HTTP."""

import logging
from dataclasses import dataclass, fields

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from app import errors
from app.codes import Challenge, Facts
from app.codes.hashing import new_identifier
from app.codes.store import ALREADY_REGISTERED, COMPLETED
from app.customers.service import CustomerDirectory
from app.identity import EMAIL, PHONE, mask
from app.models import Customer, utcnow
from app.registration.accounts import AccountWriter
from app.schemas import CustomerSchema
from app.tokens import Tokens, TokenService
from app.verification import CodeChallenges
from app.webhooks.outbox import Outbox

PURPOSE = "register"
log = logging.getLogger("registrar.registration")
_CUSTOMER = CustomerSchema()


@dataclass(frozen=True)
class RegistrationRequest:
    """A checked and normalised registration payload: phone in E.164, email normalised."""

    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    country_code: str | None
    verified_by: str
    locale: str

    @classmethod
    def from_payload(cls, payload: dict[str, str]) -> "RegistrationRequest":
        """Read back the `vars` of a request, whose None values were not kept."""
        return cls(**{field.name: payload.get(field.name) for field in fields(cls)})

    def details(self) -> dict[str, str | None]:
        """What the customer typed, for telling two requests apart: not the locale their
        browser happened to send, nor the case of their email."""
        details = {name: value for name, value in vars(self).items() if name != "locale"}
        if self.email is not None:
            details["email"] = self.email.lower()
        return details

    @property
    def destination(self) -> str:
        """The phone or email the code goes to."""
        return self.phone if self.verified_by == PHONE else self.email


@dataclass(frozen=True)
class Registered:
    """A new account and its first tokens."""

    customer: Customer
    tokens: Tokens


class RegistrationService:
    """Turns a verified registration into exactly one account."""

    def __init__(
        self,
        challenges: CodeChallenges,
        accounts: AccountWriter,
        customers: CustomerDirectory,
        tokens: TokenService,
        outbox: Outbox,
        *,
        reveal_existing_accounts: bool,
    ):
        self.challenges = challenges
        self.accounts = accounts
        self.customers = customers
        self.tokens = tokens
        self.outbox = outbox
        self.reveal_existing_accounts = reveal_existing_accounts

    def start(self, registration: RegistrationRequest, *, client_ip: str | None = None) -> Challenge:
        """Hold the registration and send its first code to the chosen channel.

        Unless REVEAL_EXISTING_ACCOUNTS is on, an identity that already has an account is
        treated like a new one, so that this answer tells nobody who our customers are.
        """
        if self.reveal_existing_accounts:
            self._refuse_taken_identities(registration)
        return self.challenges.send_first(
            registration.verified_by,
            registration.destination,
            registration.locale,
            vars(registration),
            details=registration.details(),
            client_ip=client_ip,
        )

    def finalise(self, registration: RegistrationRequest, code: str) -> Registered:
        """Salla-style: verify the newest pending registration of this payload's destination.

        It must have been started with these same details: a code proves the destination,
        not the names and addresses somebody else may have started it with.
        """
        registration_id = self.challenges.newest_pending(registration.verified_by, registration.destination)
        return self.verify(registration_id, code, details=registration.details())

    def verify(self, registration_id: str, code: str, *, details: dict | None = None) -> Registered:
        """Check the code and, if it is right, create the account and its tokens."""
        claim = self.challenges.claim(registration_id, code, details=details)
        registration = RegistrationRequest.from_payload(claim.payload)
        try:
            registered = self._create_account(registration_id, registration)
        except IntegrityError:
            if self.outbox.has_registered(registration_id):
                # The account is this registration's own: an earlier verify's write was
                # committed, but its connection broke before the answer came back.
                self.challenges.finish(claim, COMPLETED)
                raise errors.AlreadyCompleted() from None
            # Only a verified phone or email is unique: another account has verified this
            # registration's identity, before its start or since.
            if not self._identity_taken(registration):
                self.challenges.release(claim)
                raise  # some other constraint: a bug, not the customer's doing
            self.challenges.finish(claim, ALREADY_REGISTERED)
            masked = mask(registration.verified_by, registration.destination)
            facts = Facts(registration.verified_by, masked, registration.country_code)
            self.outbox.record(registration_id, "already_registered", facts)
            raise errors.AlreadyRegistered() from None
        except BaseException:
            self.challenges.release(claim)
            raise
        try:
            finished = self.challenges.finish(claim, COMPLETED)
        except RedisError:
            finished = False
        if not finished:
            # The account exists: the customer gets its tokens. The unique indexes stop the
            # code from making a second account, whoever holds the claim now.
            log.warning("registration %s completed, but Redis could not record it", registration_id)
        return registered

    def resend(self, registration_id: str) -> Challenge:
        """Send a new code; the older ones stop working."""
        return self.challenges.resend(registration_id)

    def status(self, registration_id: str) -> Challenge:
        """Where the registration stands."""
        return self.challenges.status(registration_id)

    def _create_account(self, registration_id: str, registration: RegistrationRequest) -> Registered:
        """The customer, its refresh token and onRegistered, in one transaction."""
        columns = dict(
            id=new_identifier("cus"),
            first_name=registration.first_name,
            last_name=registration.last_name,
            email=registration.email,
            phone=registration.phone,
            country_code=registration.country_code,
            verified_by=registration.verified_by,
            phone_verified=registration.verified_by == PHONE,
            email_verified=registration.verified_by == EMAIL,
            locale=registration.locale,
            created_at=utcnow(),
        )
        customer = Customer(**columns)
        tokens, token = self.tokens.mint(columns["id"])
        event = self.outbox.registered(registration_id, _CUSTOMER.dump(customer), at=columns["created_at"])
        self.accounts.create(columns, token, event)
        return Registered(customer, tokens)

    def _identity_taken(self, registration: RegistrationRequest) -> bool:
        phone_taken, email_taken = self.customers.verified_holders(registration.phone, registration.email)
        return phone_taken if registration.verified_by == PHONE else email_taken

    def _refuse_taken_identities(self, registration: RegistrationRequest) -> None:
        """REVEAL_EXISTING_ACCOUNTS: say at start that a phone or email is another account's."""
        phone_taken, email_taken = self.customers.verified_holders(registration.phone, registration.email)
        if phone_taken if registration.verified_by == PHONE else email_taken:
            raise errors.AlreadyRegistered()
        if email_taken:
            raise errors.EmailTaken()
        if phone_taken:
            raise errors.PhoneTaken()
