"""Codes reach real inboxes and gateways; a channel that fails costs the customer nothing."""

import re
import time
from urllib.parse import parse_qs

import pytest

from tests.servers import Gateway, SmtpServer
from tests.support import email_registration, phone_registration, start, verify

CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


def sms_settings(gateway: Gateway, **settings: str) -> dict[str, str]:
    return {
        "SMS_CHANNEL": "http",
        "SMS_HTTP_URL": f"{gateway.url}/messages",
        "SMS_HTTP_TOKEN": "gw-token",
        "CHANNEL_TIMEOUT": "1",
        **settings,
    }


def test_a_customer_registers_with_the_code_from_their_inbox(make_app, smtp):
    client = make_app(
        EMAIL_CHANNEL="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_STARTTLS="false",
        MAIL_FROM="no-reply@souq.example",
        STORE_NAME="Souq",
    ).test_client()

    registration_id = start(client, email_registration(email="Omar@Example.com", locale="ar"))[
        "registration_id"
    ]

    [mail] = smtp.inbox
    assert mail.rcpt_tos == ["Omar@example.com"]
    assert mail.message["Subject"].startswith("رمز التحقق في Souq: ")
    code = CODE.search(mail.message["Subject"]).group(1)
    assert code in mail.part("text/plain") and code in mail.part("text/html")
    assert verify(client, registration_id, code).status_code == 201


def test_a_customer_registers_with_the_code_from_their_sms(make_app, gateway):
    client = make_app(**sms_settings(gateway, WEBOTP_DOMAIN="souq.example")).test_client()

    registration_id = start(client, phone_registration())["registration_id"]

    [request] = gateway.requests
    assert request.path == "/messages"
    assert request.headers["Authorization"] == "Bearer gw-token"
    assert request.json()["to"] == "+966551234567"
    body = request.json()["body"]
    code = CODE.search(body).group(1)
    assert body.splitlines()[-1] == f"@souq.example #{code}"
    assert verify(client, registration_id, code).status_code == 201


def test_twilio_gets_the_sms_of_the_registration(make_app, gateway):
    gateway.status = 201
    client = make_app(
        SMS_CHANNEL="twilio",
        TWILIO_ACCOUNT_SID="AC123",
        TWILIO_AUTH_TOKEN="twilio-token",
        TWILIO_FROM="+15005550006",
        TWILIO_API_BASE=gateway.url,
    ).test_client()

    registration_id = start(client, phone_registration(locale="ar"))["registration_id"]

    form = parse_qs(gateway.requests[0].body.decode())
    assert form["To"] == ["+966551234567"]
    assert "رمز التحقق" in form["Body"][0]
    assert verify(client, registration_id, CODE.search(form["Body"][0]).group(1)).status_code == 201


FAILURES = {
    "answers 500": {"status": 500},
    "refuses the message (400)": {"status": 400},
    "hangs past the timeout": {"hang": True},
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_first_code_that_cannot_be_sent_answers_503_and_keeps_nothing(make_app, gateway, failure):
    vars(gateway).update(failure)
    app = make_app(**sms_settings(gateway))
    client = app.test_client()

    began = time.monotonic()
    response = client.post("/auth/register", json=phone_registration())

    assert time.monotonic() - began < 10, "bounded by CHANNEL_TIMEOUT, not hanging"
    assert response.status_code == 503
    assert response.get_json()["code"] == "channel_unavailable"
    redis = app.extensions["registrar"].redis
    assert [key for key in redis.scan_iter() if not key.startswith("{rl}:")] == [], "no verification kept"
    assert client.post("/auth/register", json=phone_registration(code="123456")).status_code == 404


def test_a_gateway_that_refuses_connections_answers_503(make_app, gateway):
    client = make_app(**sms_settings(gateway)).test_client()
    gateway.stop()
    response = client.post("/auth/register", json=phone_registration())
    assert response.status_code == 503
    assert response.get_json()["code"] == "channel_unavailable"


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_a_new_code_that_cannot_be_sent_charges_nothing_and_the_old_code_still_works(
    make_app, gateway, failure
):
    client = make_app(**sms_settings(gateway, RESEND_COOLDOWN="1")).test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    old_code = CODE.search(gateway.requests[-1].json()["body"]).group(1)
    time.sleep(1.05)  # past the cooldown
    vars(gateway).update(failure)

    failed = client.post(f"/auth/register/{registration_id}/resend", json={})

    assert failed.status_code == 503
    assert failed.get_json()["code"] == "channel_unavailable"
    status = client.get(f"/auth/register/{registration_id}").get_json()
    assert status["resends_left"] == 3
    assert status["resend_in"] == 0, "a failed send starts no cooldown"
    vars(gateway).update(status=200, hang=False)
    assert verify(client, registration_id, old_code).status_code == 201


@pytest.mark.server
def test_gunicorn_delivers_over_the_configured_channels(start_server, gateway, smtp):
    import requests

    server = start_server(
        **sms_settings(gateway),
        EMAIL_CHANNEL="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp.port),
        SMTP_STARTTLS="false",
        MAIL_FROM="no-reply@souq.example",
    )

    by_sms = requests.post(f"{server.url}/auth/register", json=phone_registration(), timeout=10)
    by_email = requests.post(f"{server.url}/auth/register", json=email_registration(), timeout=10)

    assert (by_sms.status_code, by_email.status_code) == (202, 202)
    sms_code = CODE.search(gateway.requests[0].json()["body"]).group(1)
    email_code = CODE.search(smtp.inbox[0].message["Subject"]).group(1)
    for challenge, code in ((by_sms.json(), sms_code), (by_email.json(), email_code)):
        url = f"{server.url}/auth/register/{challenge['registration_id']}/verify"
        assert requests.post(url, json={"code": code}, timeout=10).status_code == 201
