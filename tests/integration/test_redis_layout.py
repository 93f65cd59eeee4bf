"""How a verification lies in Redis: ready for Redis Cluster, and small."""

import secrets
from dataclasses import replace

import pytest
import redis
from redis.crc import key_slot

from app.codes import CodeStore, Outcome, new_identifier
from tests.integration.conftest import PAYLOAD


def slot(key: str) -> int:
    return key_slot(key.encode())


@pytest.fixture
def confined_to(redis_url, redis_client):
    """A client whose Redis user may touch only the keys given: any other key is refused."""
    users, clients = [], []

    def confine(*keys: str) -> redis.Redis:
        user, password = f"registrar-test-{secrets.token_hex(6)}", secrets.token_hex(16)
        redis_client.acl_setuser(
            user, enabled=True, passwords=[f"+{password}"], keys=list(keys), commands=["+@all"]
        )
        users.append(user)
        client = redis.Redis.from_url(redis_url, username=user, password=password, decode_responses=True)
        clients.append(client)
        return client

    yield confine
    for client in clients:
        client.close()
    for user in users:
        redis_client.acl_deluser(user)


def test_every_key_of_a_verification_is_in_the_slot_of_its_id():
    for _ in range(500):
        verification_id = new_identifier("reg")
        assert "{" not in verification_id
        assert "}" not in verification_id
        assert slot(CodeStore.key(verification_id)) == slot(verification_id)


@pytest.mark.parametrize("purpose", ["register", "login"])
def test_the_pending_list_of_a_destination_is_in_the_slot_of_its_pseudonym(hasher, purpose):
    pseudonym = hasher.destination("phone", "+966551234567").pseudonym
    assert CodeStore.pending_key(pseudonym, purpose) == f"dest:{{{pseudonym}}}:{purpose}"
    assert slot(CodeStore.pending_key(pseudonym, purpose)) == slot(pseudonym)


def test_a_registrations_list_per_details_is_named_by_their_fingerprint_in_the_same_slot(hasher):
    pseudonym = hasher.destination("phone", "+966551234567").pseudonym
    fingerprint = hasher.fingerprint({"first_name": "Sara", "phone": "+966551234567"})
    key = CodeStore.pending_key(pseudonym, "register", fingerprint)
    assert key == f"dest:{{{pseudonym}}}:{fingerprint}", "short enough for Redis's smaller allocation"
    assert slot(key) == slot(pseudonym)


def test_every_key_named_after_a_verification_shares_its_slot(make_store, start, hasher, redis_client):
    store = make_store(max_attempts=2)
    started = start(store)
    store.check(started.id, "register", hasher.code(started.id, "000000"))
    store.resend(started.id, "register", hasher.code(started.id, "654321"))
    store.check(started.id, "register", hasher.code(started.id, "654321"))

    keys = list(redis_client.scan_iter(match=f"*{started.id}*"))

    assert keys == [started.key]
    assert {slot(key) for key in keys} == {slot(started.id)}


def test_each_script_touches_only_the_verification_it_is_given(make_store, start, confined_to, hasher):
    def code(started, typed: str) -> str:
        return hasher.code(started.id, typed)

    settings = {"max_attempts": 2, "max_resends": 1}
    started = start(make_store(**settings))
    cooling = start(make_store(cooldown=60))
    store = make_store(confined_to(started.key, cooling.key), **settings)
    with pytest.raises(redis.exceptions.NoPermissionError):
        store.redis.zcard(started.pending_key)

    assert store.check(started.id, "login", code(started, started.code)).outcome == Outcome.NOT_FOUND
    assert store.check(started.id, "register", code(started, "000000")).outcome == Outcome.WRONG
    claimed = store.check(started.id, "register", code(started, started.code))
    assert claimed.outcome == Outcome.OK
    assert store.check(started.id, "register", code(started, started.code)).outcome == Outcome.CLAIMED
    assert store.resend(started.id, "register", code(started, "654321")).outcome == Outcome.CLAIMED
    store.release(replace(claimed.claim, token="another-claim"))
    store.release(claimed.claim)
    assert store.resend(started.id, "register", code(started, "654321")).outcome == Outcome.OK
    assert store.resend(started.id, "register", code(started, "987654")).outcome == Outcome.EXHAUSTED
    store.restore(started.id, code(started, "987654"))
    store.restore(started.id, code(started, "654321"))
    assert store.resend(cooling.id, "register", code(cooling, "654321")).outcome == Outcome.TOO_SOON
    assert store.check(started.id, "register", code(started, "000000")).outcome == Outcome.LOCKED_NOW
    assert store.check(started.id, "register", code(started, started.code)).outcome == Outcome.LOCKED
    assert store.resend(started.id, "register", code(started, "654321")).outcome == Outcome.LOCKED
    assert store.get(started.id, "register").status == "locked"


def test_the_payload_is_kept_field_by_field_with_nothing_else_about_it(start, store, redis_client):
    started = start(store)

    verification = redis_client.hgetall(started.key)

    assert {name: value for name, value in verification.items() if name.startswith("p:")} == {
        f"p:{name}": value for name, value in PAYLOAD.items()
    }
    assert "payload" not in verification


ARABIC_PAYLOAD = {**PAYLOAD, "first_name": "سارة", "last_name": "القحطاني"}
REALISTIC = pytest.mark.parametrize("payload", [PAYLOAD, ARABIC_PAYLOAD], ids=["latin names", "arabic names"])


@REALISTIC
def test_a_realistic_payload_keeps_the_hash_a_listpack_even_after_a_resend(
    start, store, redis_client, payload
):
    """Beyond hash-max-listpack-value (64 bytes) Redis turns the hash into a hashtable."""
    started = start(store, payload=payload)
    # A resend adds the fields that keep the previous code aside.
    assert store.resend(started.id, "register", "0" * 64).outcome == Outcome.OK

    verification = redis_client.hgetall(started.key)

    assert len(verification) < 128  # hash-max-listpack-entries
    assert max(len(value.encode()) for value in verification.values()) <= 64
    assert redis_client.object("encoding", started.key) in ("listpack", "ziplist")
    assert redis_client.memory_usage(started.key) < 1024


@REALISTIC
def test_a_pending_verification_takes_less_than_a_kilobyte(store, start, redis_client, payload):
    started = start(store, payload=payload)
    assert {"first_name", "last_name", "email", "phone"} <= payload.keys()

    assert redis_client.object("encoding", started.key) in ("listpack", "ziplist")
    assert redis_client.memory_usage(started.key) < 1024
