"""A dump of Redis gives nothing to replay: no code in any field, no phone or email in any key name."""

import re

import pytest

from app.channels import DeliveryFailed, Message
from app.codes.store import COMPLETED
from app.errors import ChannelUnavailable, InvalidCode, RegistrationNotFound
from app.verification import CodeChallenges
from tests.support import wrong

CODE_LENGTH = 10  # long enough that a code cannot turn up inside a timestamp or a hash by chance
CODE = re.compile(rf"\b(\d{{{CODE_LENGTH}}})\b")


class RecordingSender:
    """A channel that keeps every message it is given, and refuses them while `failing`."""

    def __init__(self):
        self.messages: list[Message] = []
        self.failing = False

    def send(self, destination: str, message: Message) -> None:
        self.messages.append(message)
        if self.failing:
            raise DeliveryFailed(destination)

    def last_code(self) -> str:
        return CODE.search(self.messages[-1].text).group(1)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def challenges(store, hasher, sender) -> CodeChallenges:
    return CodeChallenges(
        store,
        hasher,
        {"phone": sender, "email": sender},
        purpose="register",
        id_prefix="reg",
        not_found=RegistrationNotFound,
        code_length=CODE_LENGTH,
        code_ttl=300,
        store_name="Registrar",
    )


def assert_no_field_holds(redis_client, key: str, codes: list[str]) -> None:
    verification = redis_client.hgetall(key)
    assert verification, f"{key} should exist"
    for field, value in verification.items():
        for code in codes:
            assert code not in value, f"field {field} holds the code"


def test_no_field_of_a_verification_ever_holds_a_code(challenges, sender, redis_client, store):
    challenge = challenges.send_first("phone", "+966551234567", "en", {"first_name": "Sara"})
    key = store.key(challenge.id)
    codes = [sender.last_code()]
    assert_no_field_holds(redis_client, key, codes)

    with pytest.raises(InvalidCode):
        challenges.claim(challenge.id, wrong(codes[0]))
    assert_no_field_holds(redis_client, key, codes)

    challenges.resend(challenge.id)
    codes.append(sender.last_code())
    assert_no_field_holds(redis_client, key, codes)

    sender.failing = True
    with pytest.raises(ChannelUnavailable):
        challenges.resend(challenge.id)
    sender.failing = False
    delivered = codes[-1]
    codes.append(sender.last_code())
    assert_no_field_holds(redis_client, key, codes)

    claim = challenges.claim(challenge.id, delivered)
    assert_no_field_holds(redis_client, key, codes)

    challenges.release(claim)
    assert_no_field_holds(redis_client, key, codes)

    challenges.finish(challenges.claim(challenge.id, delivered), COMPLETED)
    assert_no_field_holds(redis_client, key, codes)


@pytest.mark.parametrize(
    ("channel", "address", "revealing"),
    [
        ("phone", "+966559876543", "559876543"),
        ("email", "layla.haddad@example.org", "layla.haddad"),
    ],
)
def test_no_key_name_reveals_the_phone_or_email(challenges, store, redis_client, channel, address, revealing):
    challenge = challenges.send_first(channel, address, "en", {"first_name": "Layla"})

    assert redis_client.exists(store.key(challenge.id))
    assert list(redis_client.scan_iter(match=f"*{revealing}*")) == []
