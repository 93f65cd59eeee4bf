"""Faults: Redis or the database going away and coming back under a running service."""

import os
import signal
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.embedded_redis import EmbeddedRedis
from tests.servers import TcpProxy
from tests.support import phone_registration, start, verify

NEEDS_REDIS = [
    ("post", "/auth/register", phone_registration()),
    ("get", "/auth/register/reg_anything", None),
    ("post", "/auth/register/reg_anything/verify", {"code": "123456"}),
    ("post", "/auth/register/reg_anything/resend", {}),
    ("post", "/auth/login", {"verified_by": "email", "email": "omar@example.com"}),
    ("get", "/auth/login/log_anything", None),
    ("post", "/auth/login/log_anything/verify", {"code": "123456"}),
    ("post", "/auth/login/log_anything/resend", {}),
]
# Cutting the database means cutting its TCP connection: only PostgreSQL has one.
ON_POSTGRESQL = pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") or "").startswith("postgres"),
    reason="the database is reached over TCP only on PostgreSQL (CI's second pass)",
)


def call(server, method, path, body):
    began = time.monotonic()
    response = getattr(requests, method)(f"{server.url}{path}", json=body, timeout=10)
    return response, time.monotonic() - began


def assert_unavailable_within_two_seconds(server):
    for method, path, body in NEEDS_REDIS:
        response, took = call(server, method, path, body)
        assert response.status_code == 503, (path, response.text)
        assert response.json()["code"] == "service_unavailable"
        assert took < 2, (path, took)
    ready, took = call(server, "get", "/readyz", None)
    assert ready.status_code == 503 and took < 2
    assert ready.json()["checks"]["redis"] == "unavailable"
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200


def assert_recovers(server):
    deadline = time.monotonic() + 15
    while True:
        response, _ = call(server, "post", "/auth/register", phone_registration(phone="0559876543"))
        if response.status_code == 202:
            break
        assert time.monotonic() < deadline, response.text
        time.sleep(0.2)
    assert requests.get(f"{server.url}/readyz", timeout=5).status_code == 200


@pytest.fixture
def own_redis(tmp_path):
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


@pytest.mark.server
def test_redis_stopped_then_started_again_under_a_running_service(start_server, own_redis):
    server = start_server(REDIS_URL=own_redis.url)
    assert call(server, "post", "/auth/register", phone_registration())[0].status_code == 202

    own_redis.stop()
    assert_unavailable_within_two_seconds(server)

    own_redis.start()
    assert_recovers(server)


@pytest.mark.server
def test_a_frozen_redis_answers_503_within_two_seconds_and_recovers_when_it_thaws(start_server, own_redis):
    server = start_server(REDIS_URL=own_redis.url)
    assert call(server, "post", "/auth/register", phone_registration())[0].status_code == 202

    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        assert_unavailable_within_two_seconds(server)
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    assert_recovers(server)


def _through(proxy: TcpProxy, database_url: str) -> str:
    parts = urlsplit(database_url)
    netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else f"127.0.0.1:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


@ON_POSTGRESQL
def test_a_database_gone_at_verify_answers_503_and_the_same_code_works_once_it_is_back(
    make_app, database_url, outbox
):
    host, port = urlsplit(database_url).hostname, urlsplit(database_url).port or 5432
    proxy = TcpProxy((host, port))
    try:
        client = make_app(DATABASE_URL=_through(proxy, database_url)).test_client()
        assert client.get("/readyz").status_code == 200  # a pooled connection, cut below
        registration_id = start(client, phone_registration())["registration_id"]
        code = outbox.last_code()

        proxy.stop()
        during = [verify(client, registration_id, code) for _ in range(2)]
        status = client.get(f"/auth/register/{registration_id}").get_json()

        proxy.start()
        after = verify(client, registration_id, code)
    finally:
        proxy.stop()

    assert [answer.status_code for answer in during] == [503, 503]
    assert {answer.get_json()["code"] for answer in during} == {"service_unavailable"}
    assert (status["status"], status["attempts_left"]) == ("code_sent", 5), "the code was not consumed"
    assert after.status_code == 201
    engine = create_engine(database_url)
    with engine.connect() as connection:
        customers = connection.execute(text("SELECT count(*) FROM customers")).scalar_one()
        tokens = connection.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one()
    engine.dispose()
    assert (customers, tokens) == (1, 1), "no account half-written, none twice"


def test_an_account_committed_while_its_answer_was_lost_is_the_registrations_own(
    app, database_url, outbox, monkeypatch
):
    """The connection breaks after the database committed the account: the verify that wrote
    it answers 503 and gives the code back, and the retry with that code must learn that the
    registration is complete, not that somebody else's account has its phone."""
    client = app.test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    code = outbox.last_code()
    accounts = app.extensions["registrar"].registration.accounts
    write = accounts.create

    def committed_but_unheard(*rows):
        write(*rows)
        raise OperationalError("INSERT …", {}, ConnectionError("server closed the connection unexpectedly"))

    monkeypatch.setattr(accounts, "create", committed_but_unheard)
    lost = verify(client, registration_id, code)
    monkeypatch.undo()
    retried = verify(client, registration_id, code)
    status = client.get(f"/auth/register/{registration_id}").get_json()["status"]

    assert lost.status_code == 503
    assert (retried.status_code, retried.get_json()["code"]) == (409, "already_completed")
    assert status == "completed"
    engine = create_engine(database_url)
    with engine.connect() as connection:
        customers = connection.execute(text("SELECT count(*) FROM customers")).scalar_one()
        events = connection.execute(
            text("SELECT dedupe_key FROM webhook_events WHERE registration_id = :id"), {"id": registration_id}
        ).scalars()
        keys = sorted(events)
    engine.dispose()
    assert customers == 1
    assert keys == [f"{registration_id}:registered"], "no already_registered failure for its own account"


@ON_POSTGRESQL
def test_a_database_gone_at_sign_in_answers_503_and_the_same_code_works_once_it_is_back(
    make_app, database_url, outbox
):
    host, port = urlsplit(database_url).hostname, urlsplit(database_url).port or 5432
    proxy = TcpProxy((host, port))
    try:
        client = make_app(DATABASE_URL=_through(proxy, database_url)).test_client()
        registration_id = start(client, phone_registration())["registration_id"]
        assert verify(client, registration_id, outbox.last_code()).status_code == 201
        by_phone = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
        sent = len(outbox.messages)
        login_id = client.post("/auth/login", json=by_phone).get_json()["login_id"]
        code = outbox.code_after(sent)

        proxy.stop()
        during = client.post(f"/auth/login/{login_id}/verify", json={"code": code})
        status = client.get(f"/auth/login/{login_id}").get_json()

        proxy.start()
        after = client.post(f"/auth/login/{login_id}/verify", json={"code": code})
    finally:
        proxy.stop()

    assert (during.status_code, during.get_json()["code"]) == (503, "service_unavailable")
    assert (status["status"], status["attempts_left"]) == ("code_sent", 5), "the code was not consumed"
    assert after.status_code == 200
    engine = create_engine(database_url)
    with engine.connect() as connection:
        tokens = connection.execute(text("SELECT count(*) FROM refresh_tokens")).scalar_one()
    engine.dispose()
    assert tokens == 2, "the registration's session and the sign-in's, none half-written"


def test_codes_work_on_after_redis_forgets_its_scripts(client, app, outbox):
    """A restarted Redis has no scripts: those sent inside a pipeline (the limits' take at start,
    the finish at verify) are run again by themselves, and nothing is lost or charged twice."""
    redis = app.extensions["registrar"].redis
    first = start(client, phone_registration())
    redis.script_flush()
    second = start(client, phone_registration(phone="0551234568"))
    code = outbox.last_code()
    redis.script_flush()

    assert verify(client, second["registration_id"], code).status_code == 201
    assert client.get(f"/auth/register/{second['registration_id']}").get_json()["status"] == "completed"
    assert client.get(f"/auth/register/{first['registration_id']}").get_json()["status"] == "code_sent"
