"""`make run` (`python -m app serve`): migrations, an embedded Redis and gunicorn, from nothing."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from app.embedded_redis import EmbeddedRedis
from config.settings import ROOT
from tests.conftest import console_codes, newest_code
from tests.servers import WebhookReceiver, free_port
from tests.support import MASKED_PHONE, phone_registration

pytestmark = pytest.mark.server
JSON = {"Content-Type": "application/json"}


def clean_environment(**settings: str) -> dict[str, str]:
    """The process environment without any of the service's settings, plus `settings`."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("REDIS_URL", "DATABASE_URL", "SECRET_KEY")
    }
    return {**environment, **settings}


def test_serve_migrates_starts_redis_and_the_worker_and_the_readme_walk_through_works(tmp_path):
    """Register, sign out, sign in again; a subscriber hears of the registration and a lockout."""
    port = free_port()
    log_path = tmp_path / "serve.log"
    instance = tmp_path / "instance"
    receiver = WebhookReceiver()
    settings = {
        "INSTANCE_PATH": str(instance),
        "PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "ADMIN_API_KEY": "serve-admin-key-0123456789",
        "WEBHOOK_ALLOW_PRIVATE_URLS": "true",
        "RESEND_COOLDOWN": "0",  # the walk-through signs in at once after registering
    }
    with open(log_path, "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "app", "serve"],
            cwd=ROOT,
            env=clean_environment(**settings),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert serve.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)

        endpoint = requests.post(
            f"{base}/webhooks",
            json={"url": receiver.url, "events": ["onRegistered", "onRegistrationFailed"]},
            headers={"Authorization": "Bearer serve-admin-key-0123456789"},
            timeout=5,
        ).json()
        receiver.secret = endpoint["secret"]
        challenge = requests.post(f"{base}/auth/register", json=phone_registration(), timeout=5).json()
        assert challenge["destination"] == MASKED_PHONE
        [code] = console_codes(log_path.read_text(encoding="utf-8"), MASKED_PHONE)
        verified = requests.post(
            f"{base}/auth/register/{challenge['registration_id']}/verify", json={"code": code}, timeout=5
        )
        assert verified.status_code == 201
        signed_out = requests.post(
            f"{base}/auth/logout", json={"refresh_token": verified.json()["refresh_token"]}, timeout=5
        )
        assert signed_out.status_code == 204
        by_phone = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
        login = requests.post(f"{base}/auth/login", json=by_phone, timeout=5).json()
        login_code = newest_code(lambda: log_path.read_text(encoding="utf-8"), MASKED_PHONE, after=1)
        signed_in = requests.post(
            f"{base}/auth/login/{login['login_id']}/verify", json={"code": login_code}, timeout=5
        )
        assert signed_in.status_code == 200
        me = requests.get(
            f"{base}/customers/me",
            headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"},
            timeout=5,
        )
        assert me.json() == verified.json()["customer"]
        assert (instance / "registrar.db").exists()
        assert EmbeddedRedis(instance).answers()
        locked = requests.post(
            f"{base}/auth/register", json=phone_registration(phone="0559876543"), timeout=5
        ).json()
        for _ in range(5):
            requests.post(
                f"{base}/auth/register/{locked['registration_id']}/verify", json={"code": "000000"}, timeout=5
            )

        receiver.wait_for(2, timeout=30)
        assert all(delivery.verified for delivery in receiver.deliveries)
        [registered] = receiver.of_type("onRegistered")
        assert registered.body["data"]["customer"] == verified.json()["customer"]
        [failed] = receiver.of_type("onRegistrationFailed")
        assert failed.body["data"]["registration_id"] == locked["registration_id"]
        assert failed.body["data"]["reason"] == "too_many_attempts"
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=30) == 0, log_path.read_text()
        receiver.stop()
    assert not EmbeddedRedis(instance).answers(), "the embedded Redis must stop with the service"
    assert "webhook worker stopped" in log_path.read_text()


def test_gunicorn_refuses_a_bad_setting_in_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=clean_environment(INSTANCE_PATH=str(tmp_path), OTP_LENGTH="5", PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "registrar: OTP_LENGTH must be a whole number from 6 to 10, not '5'" in result.stderr
    assert "Traceback" not in result.stderr


# The HTTP edge as gunicorn serves it (API.md §4, issue #13 item 11).
# Over the limit by less than gunicorn reads before it closes (64 KiB): a client still sending
# when the connection closes would see it reset, before it could read the 413.
OVERSIZED = json.dumps({"first_name": "x" * 100_000}).encode()


def chunks(body: bytes, size: int = 16_384):
    return iter([body[start : start + size] for start in range(0, len(body), size)])


@pytest.fixture
def served(start_server):
    return start_server()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_oversized_body_answers_413_and_the_next_request_on_the_connection_is_answered(served, chunked):
    """A 413 leaves the rest of the body in the socket: the answer says the connection closes,
    and the client's next request, on a new connection, is answered normally."""
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    for _ in range(3):
        body = chunks(OVERSIZED) if chunked else OVERSIZED
        connection.request("POST", "/auth/register", body=body, headers=JSON, encode_chunked=chunked)
        refused = connection.getresponse()
        assert refused.status == 413
        assert json.loads(refused.read())["code"] == "payload_too_large"
        assert refused.getheader("Connection") == "close"

        connection.request("POST", "/auth/register", body=json.dumps(phone_registration()), headers=JSON)
        started = connection.getresponse()
        assert started.status == 202, started.read()
        started.read()
    connection.close()


def test_after_a_413_the_server_closes_the_connection_it_announced_closing(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as raw:
        head = "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        raw.sendall(f"{head}Content-Length: {len(OVERSIZED)}\r\n\r\n".encode() + OVERSIZED)
        answer = read_until_closed(raw)
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"\r\nConnection: close\r\n" in answer
    assert answer.count(b"HTTP/1.1 ") == 1


def test_a_body_that_fits_keeps_the_connection_alive(served):
    connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=10)
    for _ in range(3):
        connection.request("POST", "/auth/register", body="[]", headers=JSON)
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Connection")) == (400, "keep-alive")
        answer.read()
    connection.close()


GUNICORN_REFUSALS = {
    "request-line-too-long": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "header-too-long": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"b" * 9000 + b"\r\n\r\n", 431),
    "header-name-with-a-space": (b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400),
    "not-http": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400),
}


@pytest.mark.parametrize(("raw", "status"), GUNICORN_REFUSALS.values(), ids=list(GUNICORN_REFUSALS))
def test_requests_gunicorn_itself_refuses_answer_json_not_html(served, raw, status):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
        connection.sendall(raw)
        answer = read_until_closed(connection)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    assert b"\r\nContent-Type: application/json; charset=utf-8" in head
    error = json.loads(body)
    assert set(error) == {"code", "message"} and error["message"]
    assert b"<html" not in answer
    if status == 400:
        assert error["code"] == "bad_request"


def test_a_malformed_chunk_is_a_bad_request_not_a_server_error(served):
    with socket.create_connection(("127.0.0.1", served.port), timeout=10) as connection:
        connection.sendall(
            b"POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
        )
        answer = read_until_closed(connection)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "bad_request"


def read_until_closed(connection: socket.socket) -> bytes:
    answer = b""
    while data := connection.recv(65536):
        answer += data
    return answer
