"""Registering a customer: start, finalise and verify. Knows nothing of HTTP."""

import logging
from dataclasses import dataclass, fields

from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError

from app import errors
from app.accounts import Accounts, Customer
from app.codes import Challenge, Claim, Codes, Failure, FailureReason, Status, new_identifier
from app.identity import EMAIL, PHONE, Contact, ContactPolicy, email_key, mask
from app.models import utcnow
from app.schemas import CustomerSchema
from app.tokens import Session, TokenService
from app.webhooks.outbox import Outbox

log = logging.getLogger("registrar.registration")
_CUSTOMER = CustomerSchema()
CHANNEL_NAMES = {PHONE: "sms", EMAIL: "email"}  # what delivered a code, as onRegistered says


@dataclass(frozen=True)
class Registration(Contact):
    """A checked and normalised registration payload: phone in E.164, email normalised."""

    first_name: str = ""
    last_name: str | None = None

    @classmethod
    def from_payload(cls, payload: dict[str, str]) -> "Registration":
        """Read back what `start` kept, whose None values were not kept."""
        return cls(**{field.name: payload.get(field.name) for field in fields(cls)})

    def details(self) -> dict[str, str | None]:
        """What the customer typed, to tell two requests apart: not the case of their email."""
        return {**vars(self), "email": email_key(self.email) if self.email else None}


@dataclass
class RegistrationService:
    """Turns a verified registration into exactly one account."""

    codes: Codes
    accounts: Accounts
    tokens: TokenService
    outbox: Outbox
    contacts: ContactPolicy
    reveal_accounts: bool

    def start(self, registration: Registration, locale: str, *, client_ip: str | None = None) -> Challenge:
        """Hold the registration and send its first code. Unless REVEAL_EXISTING_ACCOUNTS, an identity
        that has an account is treated like a new one, so that this answer tells nobody who it is."""
        self.contacts.check(registration)
        if self.reveal_accounts:  # say at start that a phone or email is another account's
            phone_taken, email_taken = self.accounts.verified_holders(registration.phone, registration.email)
            if phone_taken if registration.verified_by == PHONE else email_taken:
                raise errors.AlreadyRegistered()
            if email_taken:
                raise errors.EmailTaken()
            if phone_taken:
                raise errors.PhoneTaken()
        destination = self.codes.hasher.destination(registration.verified_by, registration.address)
        payload = {**vars(registration), "locale": locale}
        return self.codes.start(
            destination, locale, payload, details=registration.details(), client_ip=client_ip
        )

    def finalise(self, registration: Registration, code: str, *, client_ip: str | None = None) -> Session:
        """Salla-style: verify the newest pending registration of this destination started with these
        same details: a code proves the destination, not the names somebody else gave, and nobody's
        competing start with other details comes between a customer and their code."""
        self.contacts.check(registration)
        destination = self.codes.hasher.destination(registration.verified_by, registration.address)
        details = registration.details()
        registration_id = self.codes.newest_pending(destination, details)
        return self.verify(registration_id, code, details=details, client_ip=client_ip)

    def verify(
        self, registration_id: str, code: str, *, details: dict | None = None, client_ip: str | None = None
    ) -> Session:
        """Check the code and, if it is right, create the account and its tokens."""
        claim = self.codes.claim(registration_id, code, details=details, client_ip=client_ip)
        registration = Registration.from_payload(claim.payload)
        customer = Customer(
            id=new_identifier("cus"),
            **vars(registration),
            phone_verified=registration.verified_by == PHONE,
            email_verified=registration.verified_by == EMAIL,
            locale=claim.payload["locale"],
            created_at=utcnow(),
        )
        try:
            tokens, token_row = self.tokens.mint(customer.id)
            channel = CHANNEL_NAMES[customer.verified_by]
            event = self.outbox.registered(
                registration_id, _CUSTOMER.dump(customer), channel, customer.created_at
            )
            self.accounts.create(customer, token_row, event)
        except IntegrityError as refusal:
            raise self._refusal(claim, registration, refusal) from None
        except BaseException:
            self.codes.store.release(claim)
            raise
        try:
            finished = self.codes.store.finish(claim, Status.COMPLETED)
        except RedisError:
            finished = False
        if not finished:
            # The account exists: the customer gets its tokens. The unique indexes stop the
            # code from making a second account, whoever holds the claim now.
            log.warning("registration %s completed, but Redis could not record it", registration_id)
        return Session(customer, tokens)

    def _refusal(self, claim: Claim, registration: Registration, refusal: IntegrityError) -> Exception:
        """What to answer when a unique index refused the account, the claim settled."""
        if self.outbox.has_registered(claim.id):
            # The account is this registration's own: an earlier verify's write was
            # committed, but its connection broke before the answer came back.
            self.codes.store.finish(claim, Status.COMPLETED)
            return errors.AlreadyCompleted()
        # Only a verified phone or email is unique: another account has verified this
        # registration's identity, before its start or since.
        phone_taken, email_taken = self.accounts.verified_holders(registration.phone, registration.email)
        if not (phone_taken if registration.verified_by == PHONE else email_taken):
            self.codes.store.release(claim)
            return refusal  # some other constraint: a bug, not the customer's doing
        self.codes.store.finish(claim, Status.ALREADY_REGISTERED)
        channel, masked = registration.verified_by, mask(registration.verified_by, registration.address)
        reason = FailureReason.ALREADY_REGISTERED
        self.outbox.record(Failure(claim.id, reason, channel, masked, registration.country_code))
        return errors.AlreadyRegistered()
