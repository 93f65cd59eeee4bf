"""Adapters against the real servers of tests/conftest.py: Redis clients, stores, SQL sessions."""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.codes import CodeHasher, NewVerification, VerificationStore, new_identifier
from app.db import make_engine, make_session_factory
from app.identity import PHONE, destination_key, mask

SECRET = "integration-tests-server-secret-0123456789"
PHONE_NUMBER = "+966551234567"
PAYLOAD = json.dumps(
    {
        "first_name": "Sara",
        "last_name": "Al-Qahtani",
        "email": "sara.alqahtani@example.com",
        "phone": PHONE_NUMBER,
        "country_code": "SA",
        "verified_by": "phone",
        "locale": "ar",
    },
    separators=(",", ":"),
)


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

    @property
    def key(self) -> str:
        return VerificationStore.key(self.id)


@pytest.fixture
def start(hasher) -> Callable[..., Started]:
    """Write a verification of `purpose` for `to` whose code is `code`."""

    def start(
        store: VerificationStore, code: str = "123456", *, purpose: str = "register", to: str = PHONE_NUMBER
    ) -> Started:
        verification_id = new_identifier("reg" if purpose == "register" else "log")
        destination = hasher.destination(destination_key(PHONE, to))
        store.create(
            NewVerification(
                id=verification_id,
                purpose=purpose,
                channel=PHONE,
                to=to,
                destination=destination,
                masked=mask(PHONE, to),
                locale="ar",
                payload=PAYLOAD,
                code_hash=hasher.code(verification_id, code),
            )
        )
        return Started(verification_id, code, destination, purpose)

    return start


@pytest.fixture
def engine(database_url) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine) -> sessionmaker[Session]:
    return make_session_factory(engine)
