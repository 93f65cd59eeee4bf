"""Adapters against the real servers of tests/conftest.py: Redis clients, stores, the SQL engine."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from limits import parse_many
from sqlalchemy import Engine

from app.channels import DeliveryFailed, Message
from app.channels.courier import Courier
from app.codes import LOGIN, REGISTER, CodeHasher, CodePolicy, Codes, CodeStore, new_identifier
from app.codes.store import NewVerification
from app.db import make_engine
from app.identity import PHONE
from app.limits import LimitPolicy, Limits

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
def make_store(redis_client) -> Callable[..., CodeStore]:
    """A store on the test Redis; the policy is the contract's, without a resend cooldown."""

    def make(client: redis.Redis | None = None, **policy: int) -> CodeStore:
        return CodeStore(client or redis_client, CodePolicy(**{"cooldown": 0, **policy}))

    return make


@pytest.fixture
def store(make_store) -> CodeStore:
    return make_store()


@dataclass(frozen=True)
class Started:
    """A verification written to the store, with the code its customer received."""

    id: str
    code: str
    pseudonym: str  # of its destination
    purpose: str
    verification: NewVerification  # what was written, as `discard` takes it

    @property
    def key(self) -> str:
        return CodeStore.key(self.id)

    @property
    def pending_key(self) -> str:
        """The sorted set of its destination's pending verifications of its purpose."""
        return CodeStore.pending_key(self.pseudonym, self.purpose, self.verification.fingerprint)


@pytest.fixture
def start(hasher) -> Callable[..., Started]:
    """Write a verification of `purpose` for `to` whose code is `code` (and `fingerprint`, if
    any); a `silent` one is written with that code's hash too, as if it had been sent."""

    def start(
        store: CodeStore,
        code: str = "123456",
        *,
        purpose: str = "register",
        to: str = PHONE_NUMBER,
        payload: dict[str, str | None] = PAYLOAD,
        fingerprint: str = "",
        silent: bool = False,
    ) -> Started:
        verification_id = new_identifier("reg" if purpose == "register" else "log")
        destination = hasher.destination(PHONE, to)
        verification = NewVerification(
            verification_id,
            purpose,
            destination,
            "ar",
            payload,
            code_hash=hasher.code(verification_id, code),
            fingerprint=fingerprint,
            silent=silent,
        )
        pipe = store.redis.pipeline(transaction=False)
        store.queue_create(pipe, verification)
        pipe.execute()
        return Started(verification_id, code, destination.pseudonym, purpose, verification)

    return start


class RecordingSender:
    """A channel that keeps every message it is given, and refuses them while `failing`."""

    CODE = re.compile(r"\b(\d{6,10})\b")

    def __init__(self):
        self.messages: list[Message] = []
        self.failing = False

    def send(self, to: str, message: Message) -> None:
        self.messages.append(message)
        if self.failing:
            raise DeliveryFailed("refused")

    def last_code(self) -> str:
        return self.CODE.search(self.messages[-1].text).group(1)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def make_codes(store, hasher, sender, redis_client) -> Callable[..., Codes]:
    """Codes for `purpose` ("register" or "login") on the test store (or `on`), sent to
    `sender`, with the limits off."""

    def make(purpose: str = "register", *, code_length: int = 6, on: CodeStore | None = None) -> Codes:
        on = on or store
        if code_length != on.policy.length:
            on = CodeStore(on.redis, CodePolicy(**{**vars(on.policy), "length": code_length}))
        limits = Limits(
            redis_client, LimitPolicy(parse_many("1/second"), 0, 1, 1, 1, 1, 1, enabled=False), hasher.prefix
        )
        courier = Courier(
            {"phone": sender, "email": sender}, store_name="Registrar", code_ttl=300, webotp_domain=None
        )
        return Codes(REGISTER if purpose == "register" else LOGIN, on, limits, courier, hasher)

    return make


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()
