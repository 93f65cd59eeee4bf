"""Many clients at once against a real gunicorn (2 processes × 4 threads), real Redis and SQL."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import newest_code
from tests.support import phone_registration, wrong

pytestmark = pytest.mark.server


def all_at_once(count: int, request) -> list[requests.Response]:
    """Run `request()` in `count` threads released together by a barrier."""
    barrier = threading.Barrier(count)

    def run(_):
        barrier.wait()
        return request()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def start(server, payload: dict) -> tuple[str, str]:
    response = requests.post(f"{server.url}/auth/register", json=payload, timeout=10)
    assert response.status_code == 202, response.text
    challenge = response.json()
    return challenge["registration_id"], server.codes_for(challenge["destination"])[-1]


def taking_turns(urls_and_codes: list[tuple[str, str]]):
    """A request that verifies the next (url, code) each time it is called, from any thread."""
    turn = iter(urls_and_codes)
    lock = threading.Lock()

    def verify_next():
        with lock:
            url, code = next(turn)
        return requests.post(url, json={"code": code}, timeout=30)

    return verify_next


def customers(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        count = connection.execute(text("SELECT count(*) FROM customers")).scalar_one()
    engine.dispose()
    return count


def test_a_hundred_concurrent_wrong_guesses_get_no_more_than_the_allowed_attempts(start_server):
    server = start_server(OTP_MAX_ATTEMPTS="5", RATE_LIMIT_VERIFY="1000/minute")
    registration_id, code = start(server, phone_registration())
    url = f"{server.url}/auth/register/{registration_id}/verify"

    answers = all_at_once(100, lambda: requests.post(url, json={"code": wrong(code)}, timeout=30))

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {400: 4, 429: 96}
    assert {answer.json()["code"] for answer in answers if answer.status_code == 429} == {"too_many_attempts"}
    assert sorted(answer.json()["attempts_left"] for answer in answers if answer.status_code == 400) == [
        1,
        2,
        3,
        4,
    ]
    right_code_now = requests.post(url, json={"code": code}, timeout=10)
    assert right_code_now.status_code == 429


def test_twenty_concurrent_right_codes_create_exactly_one_account(start_server, database_url):
    server = start_server()
    registration_id, code = start(server, phone_registration())
    url = f"{server.url}/auth/register/{registration_id}/verify"

    answers = all_at_once(20, lambda: requests.post(url, json={"code": code}, timeout=30))

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {201: 1, 409: 19}
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"already_completed"}
    assert customers(database_url) == 1


def test_twenty_concurrent_right_codes_open_exactly_one_session(start_server, database_url):
    server = start_server()
    registration_id, code = start(server, phone_registration())
    url = f"{server.url}/auth/register/{registration_id}/verify"
    assert requests.post(url, json={"code": code}, timeout=10).status_code == 201
    by_phone = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
    started = requests.post(f"{server.url}/auth/login", json=by_phone, timeout=10)
    assert started.status_code == 202, started.text
    login_id = started.json()["login_id"]
    code = newest_code(
        lambda: server.log_path.read_text(encoding="utf-8"), started.json()["destination"], after=1
    )
    url = f"{server.url}/auth/login/{login_id}/verify"

    answers = all_at_once(20, lambda: requests.post(url, json={"code": code}, timeout=30))

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 1, 409: 19}
    assert {answer.json()["code"] for answer in answers if answer.status_code == 409} == {"already_completed"}
    engine = create_engine(database_url)
    with engine.connect() as connection:
        tokens = connection.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one()
    engine.dispose()
    assert tokens == 2, "the registration's session and exactly one sign-in"


def test_two_registrations_of_one_phone_verified_at_once_make_one_account(start_server, database_url):
    server = start_server()
    phones = [f"05{number}" for number in ("51234567", "61234567", "41234567", "91234567", "01234567")]
    for phone in phones:
        first = start(server, phone_registration(phone=phone, first_name="First"))
        second = start(server, phone_registration(phone=phone, first_name="Second"))
        urls_and_codes = [(f"{server.url}/auth/register/{rid}/verify", code) for rid, code in (first, second)]
        answers = all_at_once(2, taking_turns(urls_and_codes))

        assert sorted(answer.status_code for answer in answers) == [201, 409]
        conflict = next(answer for answer in answers if answer.status_code == 409)
        assert conflict.json()["code"] == "already_registered"
    assert customers(database_url) == len(phones)
