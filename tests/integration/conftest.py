"""Adapters against the real servers of tests/conftest.py: Redis clients, stores, the SQL engine."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import Engine

from app.channels import DeliveryFailed, Message
from app.codes import CodeHasher, NewVerification, VerificationStore, new_identifier
from app.db import make_engine
from app.errors import LoginNotFound, RegistrationNotFound
from app.identity import PHONE, destination_key, mask
from app.verification import CodeChallenges

SECRET = "integration-tests-server-secret-0123456789"
PHONE_NUMBER = "+966551234567"
# What registration keeps of a realistic customer: both names, an email and a phone.
PAYLOAD: dict[str, str] = {
    "first_name": "Sara",
    "last_name": "Al-Qahtani",
    "email": "sara.alqahtani@example.com",
    "phone": PHONE_NUMBER,
    "country_code": "SA",
    "verified_by": "phone",
    "locale": "ar",
}


@pytest.fixture
def redis_client(redis_url) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def hasher() -> CodeHasher:
    return CodeHasher(SECRET)


@pytest.fixture
def make_store(redis_client) -> Callable[..., VerificationStore]:
    """A store on the test Redis; the defaults are the contract's, without a resend cooldown."""

    def make(client: redis.Redis | None = None, **settings: int) -> VerificationStore:
        defaults = {
            "code_ttl": 300,
            "verification_ttl": 1800,
            "max_attempts": 5,
            "max_resends": 3,
            "resend_cooldown": 0,
        }
        return VerificationStore(client or redis_client, **{**defaults, **settings})

    return make


@pytest.fixture
def store(make_store) -> VerificationStore:
    return make_store()


@dataclass(frozen=True)
class Started:
    """A verification written to the store, with the code its customer received."""

    id: str
    code: str
    destination: str
    purpose: str
    verification: NewVerification  # what was written, as `discard` takes it

    @property
    def key(self) -> str:
        return VerificationStore.key(self.id)

    @property
    def pending_key(self) -> str:
        """The sorted set of its destination's pending verifications of its purpose."""
        return VerificationStore.pending_key(self.destination, self.purpose)


@pytest.fixture
def start(hasher) -> Callable[..., Started]:
    """Write a verification of `purpose` for `to` whose code is `code` (and `fingerprint`, if
    any); a `silent` one is written with that code's hash too, as if it had been sent."""

    def start(
        store: VerificationStore,
        code: str = "123456",
        *,
        purpose: str = "register",
        to: str = PHONE_NUMBER,
        payload: dict[str, str | None] = PAYLOAD,
        fingerprint: str = "",
        silent: bool = False,
    ) -> Started:
        verification_id = new_identifier("reg" if purpose == "register" else "log")
        destination = hasher.destination(destination_key(PHONE, to))
        verification = NewVerification(
            id=verification_id,
            purpose=purpose,
            channel=PHONE,
            to=to,
            destination=destination,
            masked=mask(PHONE, to),
            locale="ar",
            payload=payload,
            code_hash=hasher.code(verification_id, code),
            fingerprint=fingerprint,
            silent=silent,
        )
        store.create(verification)
        return Started(verification_id, code, destination, purpose, verification)

    return start


class RecordingSender:
    """A channel that keeps every message it is given, and refuses them while `failing`."""

    CODE = re.compile(r"\b(\d{6,10})\b")

    def __init__(self):
        self.messages: list[Message] = []
        self.failing = False

    def send(self, destination: str, message: Message) -> None:
        self.messages.append(message)
        if self.failing:
            raise DeliveryFailed(destination)

    def last_code(self) -> str:
        return self.CODE.search(self.messages[-1].text).group(1)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def make_challenges(store, hasher, sender) -> Callable[..., CodeChallenges]:
    """Codes for `purpose` ("register" or "login") on the test store (or `on`), sent to `sender`."""

    def make(
        purpose: str = "register", *, code_length: int = 6, on: VerificationStore | None = None
    ) -> CodeChallenges:
        registering = purpose == "register"
        return CodeChallenges(
            on or store,
            hasher,
            {"phone": sender, "email": sender},
            purpose=purpose,
            id_prefix="reg" if registering else "log",
            not_found=RegistrationNotFound if registering else LoginNotFound,
            code_length=code_length,
            code_ttl=300,
            store_name="Registrar",
        )

    return make


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
