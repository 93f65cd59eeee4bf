"""The redis-server that runs when REDIS_URL is not set (app.embedded_redis)."""

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
