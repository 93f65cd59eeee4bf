"""Logs: a JSON line per request with its id, and nothing secret or identifying in any line."""

import json
import logging
import re
import time

import pytest

from app.logs import JsonFormatter
from tests.servers import Gateway
from tests.support import phone_registration, start, verify

CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def records(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def access_lines(records) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in records.records if r.name == "registrar.access"]


def test_every_request_is_one_json_line_with_its_id(client, records):
    response = client.get("/healthz", headers={"X-Request-ID": "req-4711"})

    assert response.headers["X-Request-ID"] == "req-4711"
    [line] = access_lines(records)
    assert line["request_id"] == "req-4711"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", 200)
    assert line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"].endswith("Z")


@pytest.mark.parametrize("given", [None, "", "x" * 200, "no spaces allowed", "<script>alert(1)</script>"])
def test_a_missing_or_odd_request_id_is_replaced_by_a_new_one(client, records, given):
    headers = {} if given is None else {"X-Request-ID": given}
    response = client.get("/nowhere", headers=headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert access_lines(records)[0]["status"] == 404


def test_a_whole_registration_logs_no_code_token_phone_or_email(make_app, records):
    gateway = Gateway()
    try:
        client = make_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url).test_client()
        payload = phone_registration(email="sara.alqahtani@example.com")
        registration_id = start(client, payload)["registration_id"]
        code = CODE.search(gateway.requests[0].json()["body"]).group(1)
        verify(client, registration_id, "000000" if code != "000000" else "111111")
        session = verify(client, registration_id, code).get_json()
        refreshed = client.post(
            "/auth/token/refresh", json={"refresh_token": session["refresh_token"]}
        ).get_json()
        client.get("/customers/me", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
        client.post("/auth/register", json=payload)
    finally:
        gateway.stop()

    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in records.records)
    assert len(access_lines(records)) == 6
    for secret in (
        code,
        session["access_token"],
        session["refresh_token"],
        refreshed["access_token"],
        refreshed["refresh_token"],
        "551234567",
        "sara.alqahtani",
        "Al-Qahtani",
    ):
        assert secret not in logged, secret


def test_a_sign_in_and_sign_out_log_no_code_token_phone_or_email(make_app, gateway, records):
    client = make_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url).test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    assert verify(client, registration_id, CODE.search(gateway.requests[-1].json()["body"]).group(1))
    by_phone = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}
    login_id = client.post("/auth/login", json=by_phone).get_json()["login_id"]
    deadline = time.monotonic() + 5
    while len(gateway.requests) < 2:  # sign-in codes leave in the background
        assert time.monotonic() < deadline, "no sign-in code reached the gateway"
        time.sleep(0.01)
    code = CODE.search(gateway.requests[-1].json()["body"]).group(1)
    session = client.post(f"/auth/login/{login_id}/verify", json={"code": code}).get_json()
    client.post("/auth/logout", json={"refresh_token": session["refresh_token"]})
    client.post("/auth/login", json={"verified_by": "email", "email": "nobody.here@example.com"})

    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in records.records)
    assert [line["status"] for line in access_lines(records)][-4:] == [202, 200, 204, 202]
    for secret in (code, session["access_token"], session["refresh_token"], "551234567", "nobody.here"):
        assert secret not in logged, secret


def test_security_headers_are_on_every_answer(client):
    for response in (client.get("/healthz"), client.get("/nowhere"), client.post("/auth/register", json={})):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert "max-age=" in response.headers["Strict-Transport-Security"]
    docs = client.get("/docs")
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]  # Swagger UI from here, no CDN


def test_cors_answers_only_the_configured_origins(make_app):
    client = make_app(CORS_ORIGINS="https://shop.example, https://www.shop.example").test_client()
    preflight = client.options(
        "/auth/register",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type, Idempotency-Key",
        },
    )
    assert preflight.status_code in (200, 204)
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "idempotency-key" in preflight.headers["Access-Control-Allow-Headers"].lower()

    answer = client.post("/auth/register", json={}, headers={"Origin": "https://www.shop.example"})
    assert answer.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"
    assert "Retry-After" in answer.headers["Access-Control-Expose-Headers"]

    stranger = client.post("/auth/register", json={}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_without_cors_origins_no_browser_origin_is_allowed(client):
    answer = client.post("/auth/register", json={}, headers={"Origin": "https://shop.example"})
    assert "Access-Control-Allow-Origin" not in answer.headers
    options = client.options("/auth/register")
    assert options.status_code == 204
    assert "POST" in options.headers["Allow"]


def test_a_sign_in_code_sent_in_the_background_logs_under_its_request_id(make_app, gateway, capsys):
    client = make_app(SMS_CHANNEL="http", SMS_HTTP_URL=gateway.url).test_client()
    registration_id = start(client, phone_registration())["registration_id"]
    verify(client, registration_id, CODE.search(gateway.requests[-1].json()["body"]).group(1))
    gateway.status = 500
    by_phone = {"verified_by": "phone", "phone": "0551234567", "country_code": "SA"}

    answer = client.post("/auth/login", json=by_phone)

    # The service's own handler writes each line as it is logged, in the sending thread.
    written = ""
    deadline = time.monotonic() + 5
    while "code not delivered" not in written:
        assert time.monotonic() < deadline, "the refused sign-in code was not logged"
        time.sleep(0.01)
        written += capsys.readouterr().err
    [line] = [json.loads(text) for text in written.splitlines() if "code not delivered" in text]
    assert answer.status_code == 202
    assert line["level"] == "WARNING"
    assert line["request_id"] == answer.headers["X-Request-ID"]
