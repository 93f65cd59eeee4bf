"""A dump of Redis gives nothing to replay: no code in any field, no phone or email in any key name."""

import pytest

from app.codes import Codes, Status
from app.errors import ChannelUnavailable, InvalidCode
from tests.support import wrong

CODE_LENGTH = 10  # long enough that a code cannot turn up inside a timestamp or a hash by chance


@pytest.fixture
def challenges(make_codes) -> Codes:
    return make_codes("register", code_length=CODE_LENGTH)


def assert_no_field_holds(redis_client, key: str, codes: list[str]) -> None:
    verification = redis_client.hgetall(key)
    assert verification, f"{key} should exist"
    for field, value in verification.items():
        for code in codes:
            assert code not in value, f"field {field} holds the code"


def test_no_field_of_a_verification_ever_holds_a_code(challenges, sender, redis_client, store):
    challenge = challenges.start(
        challenges.hasher.destination("phone", "+966551234567"), "en", {"first_name": "Sara"}
    )
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

    challenges.store.release(claim)
    assert_no_field_holds(redis_client, key, codes)

    challenges.store.finish(challenges.claim(challenge.id, delivered), Status.COMPLETED)
    assert_no_field_holds(redis_client, key, codes)


@pytest.mark.parametrize(
    ("channel", "address", "revealing"),
    [
        ("phone", "+966559876543", "559876543"),
        ("email", "layla.haddad@example.org", "layla.haddad"),
    ],
)
def test_no_key_name_reveals_the_phone_or_email(challenges, store, redis_client, channel, address, revealing):
    challenge = challenges.start(
        challenges.hasher.destination(channel, address), "en", {"first_name": "Layla"}
    )

    assert redis_client.exists(store.key(challenge.id))
    assert list(redis_client.scan_iter(match=f"*{revealing}*")) == []
