"""`make run` (`python -m app serve`): migrations, an embedded Redis and gunicorn, from nothing."""

import os
import signal
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
