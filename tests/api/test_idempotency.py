"""Idempotency-Key on start (API.md §1): one message however often the request is repeated."""

import threading
import time

import pytest
import redis
import requests

from tests.servers import Gateway
from tests.support import phone_registration, wrong

KEY = {"Idempotency-Key": "checkout-7f3a9c"}


def test_the_same_key_and_body_get_the_first_answer_again_and_send_nothing(client, outbox):
    first = client.post("/auth/register", json=phone_registration(), headers=KEY)
    again = client.post("/auth/register", json=phone_registration(), headers=KEY)

    assert first.status_code == again.status_code == 202
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(outbox.messages) == 1


def test_the_same_key_with_another_body_is_a_conflict(client, outbox):
    assert client.post("/auth/register", json=phone_registration(), headers=KEY).status_code == 202

    other = client.post("/auth/register", json=phone_registration(first_name="Someone"), headers=KEY)

    assert other.status_code == 409
    assert other.get_json()["code"] == "idempotency_conflict"
    assert len(outbox.messages) == 1


def test_the_order_of_the_fields_does_not_make_another_body(client, outbox):
    body = phone_registration()
    client.post("/auth/register", json=body, headers=KEY)
    reordered = dict(reversed(list(body.items())))
    assert client.post("/auth/register", json=reordered, headers=KEY).status_code == 202
    assert len(outbox.messages) == 1


def test_an_answer_that_is_not_2xx_is_not_kept(client, outbox):
    broken = client.post("/auth/register", json=phone_registration(phone="123"), headers=KEY)
    fixed = client.post("/auth/register", json=phone_registration(), headers=KEY)

    assert broken.status_code == 422
    assert fixed.status_code == 202
    assert "Idempotent-Replayed" not in fixed.headers
    assert len(outbox.messages) == 1


def test_other_keys_and_no_key_are_separate_requests(client, outbox):
    client.post("/auth/register", json=phone_registration(), headers=KEY)
    client.post("/auth/register", json=phone_registration(), headers={"Idempotency-Key": "another"})
    client.post("/auth/register", json=phone_registration())
    assert len(outbox.messages) == 3


def test_a_finalisation_is_never_kept_and_its_repetition_is_already_completed(client, outbox, redis_url):
    """Nothing that could sign somebody in is kept in Redis: not the tokens of a replay."""
    client.post("/auth/register", json=phone_registration())
    body = phone_registration(code=outbox.last_code())

    first = client.post("/auth/register", json=body, headers=KEY)
    again = client.post("/auth/register", json=body, headers=KEY)

    assert first.status_code == 201
    assert again.status_code == 409
    assert again.get_json()["code"] == "already_completed"
    assert "access_token" not in again.get_json()
    tokens = (first.get_json()["access_token"], first.get_json()["refresh_token"])
    assert not any(token in value for value in values_in(redis.Redis.from_url(redis_url)) for token in tokens)


def values_in(stored: redis.Redis) -> list[str]:
    """Every value Redis holds, whatever its key's type, as text."""
    found = []
    for key in stored.scan_iter(count=1000):
        match stored.type(key):
            case b"string":
                found.append(stored.get(key))
            case b"hash":
                found.extend(stored.hvals(key))
            case b"zset":
                found.extend(stored.zrange(key, 0, -1))
            case b"set":
                found.extend(stored.smembers(key))
            case b"list":
                found.extend(stored.lrange(key, 0, -1))
    return [value.decode(errors="replace") for value in found]


def test_every_wrong_code_costs_an_attempt_whatever_its_key(client, outbox):
    registration_id = client.post("/auth/register", json=phone_registration()).get_json()["registration_id"]
    right = outbox.last_code()
    guess = phone_registration(code=wrong(right))

    answers = [client.post("/auth/register", json=guess, headers=KEY) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [400, 400, 400, 400, 429]
    assert [answer.get_json().get("attempts_left") for answer in answers] == [4, 3, 2, 1, 0]
    assert client.get(f"/auth/register/{registration_id}").get_json()["status"] == "locked"
    late = client.post("/auth/register", json=phone_registration(code=right), headers=KEY)
    assert late.status_code == 404, "a locked registration leaves the finalisable ones"
    assert late.get_json()["code"] == "registration_not_found"


def test_guesses_under_a_finalised_key_reach_no_tokens(client, outbox):
    """The attack of issue 13: the customer finalises under a key; guesses under that key cost as
    any guess, and the right code repeated gets no tokens back."""
    client.post("/auth/register", json=phone_registration())
    right = outbox.last_code()
    assert client.post("/auth/register", json=phone_registration(code=right), headers=KEY).status_code == 201

    guesses = [client.post("/auth/register", json=phone_registration(code=wrong(right)), headers=KEY)]
    replay = client.post("/auth/register", json=phone_registration(code=right), headers=KEY)

    assert guesses[0].get_json()["code"] == "already_completed", "not a free idempotency_conflict"
    assert replay.status_code == 409
    assert replay.get_json() == {
        "code": "already_completed",
        "message": replay.get_json()["message"],
    }


@pytest.mark.parametrize("key", ["", "   ", "k" * 256])
def test_a_key_that_is_empty_or_too_long_is_a_bad_request(client, key):
    response = client.post("/auth/register", json=phone_registration(), headers={"Idempotency-Key": key})
    assert response.status_code == 400
    assert response.get_json()["code"] == "bad_request"


@pytest.mark.server
def test_a_key_whose_first_request_is_still_running_is_a_conflict(start_server):
    gateway = Gateway(delay=1.5)  # the first request waits on the SMS gateway
    try:
        server = start_server(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url, CHANNEL_TIMEOUT="5")
        answers = []

        def post():
            answers.append(
                requests.post(
                    f"{server.url}/auth/register", json=phone_registration(), headers=KEY, timeout=10
                )
            )

        first = threading.Thread(target=post)
        first.start()
        deadline = time.monotonic() + 10
        while not gateway.requests:  # the first request is now waiting on the gateway
            assert time.monotonic() < deadline
            time.sleep(0.01)
        post()
        first.join()
    finally:
        gateway.stop()

    assert sorted(answer.status_code for answer in answers) == [202, 409]
    assert next(a for a in answers if a.status_code == 409).json()["code"] == "idempotency_conflict"
    assert len(gateway.requests) == 1
