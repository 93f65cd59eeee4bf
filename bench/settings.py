"""What the bench runs the service with, and the few names it shares with the service.

The bench depends on the service through its HTTP API, its environment variables, the
migrations (`app.db`), the webhook tables (`app.models`), `create_app` with `Config` for the
in-process measurements, and the Redis key layout below; nothing else.
"""

import runpy
from collections.abc import Mapping
from pathlib import Path

from config.settings import Config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"

REDIS_URL = "redis://127.0.0.1:6379/2"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret-key-fixed-so-that-runs-compare-0123"
ADMIN_API_KEY = "bench-admin-key-0123456789"
GATEWAY_TOKEN = "bench-gateway-token"

# The limits are on by default, and every start here comes from 127.0.0.1 with sequential
# Saudi numbers, which the defaults would refuse within seconds: limits that never trip but
# are all checked and taken on every start (README, Method). RESEND_COOLDOWN stays at its
# default: at 0 the limits' script would skip the cooldown.
NEVER = "100000000"
GENEROUS_LIMITS = {
    "RATE_LIMIT_REGISTER": f"{NEVER}/minute",
    "MAX_CODES_PER_DESTINATION": NEVER,
    "SMS_PREFIX_HOURLY_LIMIT": NEVER,
    "SMS_COUNTRY_HOURLY_LIMIT": NEVER,
    "SMS_GLOBAL_HOURLY_LIMIT": NEVER,
    "MAX_CODES_PER_DESTINATION_PER_NETWORK": NEVER,
    "RATE_LIMIT_VERIFY": f"{NEVER}/minute",
    "MAX_FAILED_CODES_PER_NETWORK": NEVER,
    "MAX_FAILED_CODES_PER_DAY": NEVER,
    "RESEND_COOLDOWN": "60",
}
LIMITS_OFF = {"RATE_LIMITS_ENABLED": "false"}
WEBHOOK_ADMIN = {"ADMIN_API_KEY": ADMIN_API_KEY, "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}


def http_channel(gateway_url: str) -> dict[str, str]:
    """The settings that send every SMS to the gateway at `gateway_url`."""
    return {"SMS_CHANNEL": "http", "SMS_HTTP_URL": f"{gateway_url}/sms", "SMS_HTTP_TOKEN": GATEWAY_TOKEN}


def config(environment: Mapping[str, str]) -> Config:
    """The service's configuration for `environment`: the one place the bench builds one."""
    return Config.load(environment)


# The service's Redis keys the bench reads (app/codes/store.py, app/limits); `%s` is an id,
# a destination's pseudonym, or `*` in a pattern.
REGISTRATION_KEY = "vf:{%s}"  # a pending registration's hash
DESTINATION_KEY = "dest:{%s}:*"  # its destination's set of registrations (one per details) or sign-ins
LIMIT_KEYS = "{rl}:*%s*"  # the limits' keys that name a destination

# gunicorn: the throughput scenarios run issue #2's configuration, 2 workers x 4 threads,
# each worker capped at its share of wrk's connections (README, Method); the slow-gateway
# scenario runs config/gunicorn.conf.py with nothing overridden.
CONNECTIONS = 32
WORKERS = 2
THROUGHPUT_THREADS = 4
PRODUCTION_THREADS = int(runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["threads"])
THROUGHPUT_SETTINGS = (
    *("--threads", str(THROUGHPUT_THREADS)),
    *("--worker-connections", str(CONNECTIONS // WORKERS)),
)

# Phone numbers are +9665 and 8 digits, valid Saudi mobiles; each use has a range of its
# own, so that no two registrations share a destination.
START_FIRST = 50_000_000  # +96655…: every start run of the rounds
VERIFY_FIRST = 60_000_000  # +96656…: registrations made for verify
SLOW_START_FIRST = 70_000_000  # +96657…: wrk on start with the slow gateway
BURST_FIRST = 80_000_000  # +96658…: the bursts
IN_PROCESS_FIRST = 90_000_000  # +96659…


def phone(number: int) -> str:
    return f"+9665{number:08d}"
