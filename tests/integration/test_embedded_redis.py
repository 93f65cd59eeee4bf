"""The redis-server that runs when REDIS_URL is not set (app.embedded_redis)."""

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.embedded_redis import EmbeddedRedis


@pytest.fixture
def servers() -> Iterator[list[EmbeddedRedis]]:
    """Embedded servers a test makes; every one still running is stopped afterwards."""
    made: list[EmbeddedRedis] = []
    yield made
    for server in made:
        server.stop()


def embedded(servers: list[EmbeddedRedis], folder: Path) -> EmbeddedRedis:
    server = EmbeddedRedis(folder)
    servers.append(server)
    return server


def server_pid(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return client.info("server")["process_id"]
    finally:
        client.close()


def test_a_started_server_answers_on_its_unix_socket(servers, tmp_path):
    server = embedded(servers, tmp_path / "instance")

    url = server.start()

    assert url == f"unix://{server.socket}"
    client = redis.Redis(unix_socket_path=str(server.socket))
    try:
        assert client.ping()
    finally:
        client.close()
    assert server_pid(url) == server.process.pid


def test_a_second_one_on_the_same_folder_uses_the_running_server_and_leaves_it_running(servers, tmp_path):
    first = embedded(servers, tmp_path)
    url = first.start()
    second = embedded(servers, tmp_path)

    assert second.start() == url
    assert second.process is None
    assert server_pid(url) == first.process.pid

    second.stop()
    assert first.answers()


def test_stopping_ends_the_server(servers, tmp_path):
    server = embedded(servers, tmp_path)
    server.start()
    process = server.process

    server.stop()

    assert process.poll() is not None
    assert not server.answers()


def test_a_deep_folder_still_gets_a_socket_it_can_use(servers, tmp_path):
    folder = tmp_path.joinpath(*["a-rather-long-folder-name"] * 6)
    server = embedded(servers, folder)

    server.start()

    assert len(str(server.socket)) <= 107
    assert server.answers()


class Impostor:
    """A Unix socket that accepts connections and hangs up at once, counting them."""

    def __init__(self, path: Path):
        self.path = path
        self.accepted = 0
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(16)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self.thread.join(timeout=5)


def test_answers_is_false_at_once_when_no_server_is_there(tmp_path):
    server = EmbeddedRedis(tmp_path)

    started = time.monotonic()
    assert not server.answers()
    assert time.monotonic() - started < 0.5


def test_answers_is_false_at_once_for_a_socket_left_behind_by_a_server_that_died(tmp_path):
    server = EmbeddedRedis(tmp_path)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(server.socket))
    stale.close()
    assert server.socket.exists()

    started = time.monotonic()
    assert not server.answers()
    assert time.monotonic() - started < 0.5


def test_answers_tries_only_once(tmp_path):
    server = EmbeddedRedis(tmp_path)
    impostor = Impostor(server.socket)
    try:
        started = time.monotonic()
        assert not server.answers()
        elapsed = time.monotonic() - started
        time.sleep(0.1)  # any retry would have connected again by now
        assert impostor.accepted == 1
        assert elapsed < 1
    finally:
        impostor.close()


def test_answers_leaves_no_connection_open(servers, tmp_path):
    server = embedded(servers, tmp_path)
    url = server.start()
    observer = redis.Redis.from_url(url)
    try:
        before = len(observer.client_list())

        for _ in range(10):
            assert server.answers()

        deadline = time.monotonic() + 2  # the server notices a hang-up on its next turn
        while len(observer.client_list()) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(observer.client_list()) == before
    finally:
        observer.close()
