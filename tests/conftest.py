"""Real Redis, a real database and real servers for every test.

With REDIS_URL and DATABASE_URL set, the suite runs against those servers (each run in a
PostgreSQL schema of its own, dropped at the end; the Redis database is flushed between
tests). Without them it starts an embedded Redis and uses a SQLite file.
"""

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from app import create_app
from app.db import make_engine, upgrade
from app.embedded_redis import EmbeddedRedis
from config.settings import ROOT, Config
from tests.servers import Gateway, free_port

CODE = re.compile(r"\b(\d{6,10})\b")
TABLES_CHILDREN_FIRST = (
    "webhook_deliveries",
    "webhook_events",
    "webhook_endpoints",
    "refresh_tokens",
    "customers",
)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A migrated, empty database that only this test run uses."""
    given = os.environ.get("DATABASE_URL")
    if not given or given.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'registrar.db'}"
        _migrate(url)
        yield url
        return
    base = Config.load({"DATABASE_URL": given}).DATABASE_URL
    schema = f"test_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in base else "?"
    url = f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
    _migrate(url)
    yield url
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def base_environment(redis_url, database_url, instance_path) -> dict[str, str]:
    """The settings every test starts from; tests add their own on top."""
    return {
        "REDIS_URL": redis_url,
        "DATABASE_URL": database_url,
        "INSTANCE_PATH": str(instance_path),
        "RESEND_COOLDOWN": "0",
    }


@pytest.fixture(autouse=True)
def clean_state(redis_url, database_url) -> Iterator[None]:
    """Every test starts with no pending verification and no account."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    engine = create_engine(database_url)
    with engine.begin() as connection:
        for table in TABLES_CHILDREN_FIRST:
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()
    yield


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    """A real HTTP SMS gateway, answering as the test tells it."""
    server = Gateway()
    yield server
    server.stop()


@pytest.fixture
def make_app(base_environment):
    """Build an app with settings on top of the test environment."""
    apps = []

    def make(**settings: str):
        app = create_app(Config.load({**base_environment, **settings}))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["registrar"].close()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def console_codes(log: str, masked_destination: str) -> list[str]:
    """The codes the console channel wrote to a log of JSON lines for a destination."""
    codes = []
    for line in log.splitlines():
        if line.startswith("{"):
            message = json.loads(line)["message"]
            if message.startswith(("phone to ", "email to ")) and f" to {masked_destination}" in message:
                codes.append(CODE.search(message.split(": ", 1)[1]).group(1))
    return codes


def newest_code(
    read_log: Callable[[], str], masked_destination: str, after: int, timeout: float = 10.0
) -> str:
    """The newest code a log of JSON lines holds for a destination, once it holds more than
    `after`: sign-in codes leave in the background, after the answer."""
    deadline = time.monotonic() + timeout
    while len(codes := console_codes(read_log(), masked_destination)) <= after:
        assert time.monotonic() < deadline, f"no code for {masked_destination} after the first {after}"
        time.sleep(0.05)
    return codes[-1]


class Outbox:
    """What the console channel wrote to the log: the messages customers would receive."""

    def __init__(self):
        self.messages: list[str] = []

    def last_code(self) -> str:
        assert self.messages, "no message was sent"
        return CODE.search(self.messages[-1]).group(1)

    def code_after(self, sent: int, timeout: float = 5.0) -> str:
        """The code of the newest message once there are more than `sent`: for codes sent in
        the background (sign-in), which arrive after the answer."""
        deadline = time.monotonic() + timeout
        while len(self.messages) <= sent:
            assert time.monotonic() < deadline, f"no message after the first {sent}"
            time.sleep(0.01)
        return self.last_code()


class _Capture(logging.Handler):
    def __init__(self, outbox: Outbox):
        super().__init__()
        self.outbox = outbox

    def emit(self, record: logging.LogRecord) -> None:
        self.outbox.messages.append(record.getMessage())


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    box = Outbox()
    handler = _Capture(box)
    logger = logging.getLogger("registrar.channels.console")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield box
    logger.removeHandler(handler)


class Server:
    """A real gunicorn running the service, its log readable by the test."""

    def __init__(self, environment: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.environment = {**os.environ, **environment, "PORT": str(self.port), "BIND_HOST": "127.0.0.1"}
        self.process: subprocess.Popen | None = None

    def start(self) -> "Server":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(ROOT / "config" / "gunicorn.conf.py"),
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log_path.read_text()
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                time.sleep(0.1)
        raise AssertionError(f"gunicorn did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def codes_for(self, masked_destination: str) -> list[str]:
        """Every code the console channel logged for a destination, oldest first."""
        return console_codes(self.log_path.read_text(encoding="utf-8"), masked_destination)


@pytest.fixture
def start_server(base_environment, tmp_path):
    """Start gunicorn with settings on top of the test environment."""
    servers = []

    def start(**settings: str) -> Server:
        server = Server({**base_environment, **settings}, tmp_path / f"server-{len(servers)}.log").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def kept_alive_server(environment: dict[str, str], log_folder: Path) -> Iterator[Server]:
    """gunicorn for a whole module whose requests share one kept-alive session: a session idle
    between tests must not reach gunicorn's keep-alive timeout."""
    server = Server(
        {**environment, "GUNICORN_CMD_ARGS": "--keep-alive 300"}, log_folder / "gunicorn.log"
    ).start()
    yield server
    server.stop()
