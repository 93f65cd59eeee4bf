"""What needs the service in this process: Redis round trips, counted on redis-py's connection,
and the Redis memory a pending registration and its limits keep."""

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import redis
from flask import Flask

from app import create_app
from bench.gateway import codes_by_phone, take_messages
from bench.load import start_body
from bench.processes import BenchFailed
from bench.settings import DESTINATION_KEY, LIMIT_KEYS, REGISTRATION_KEY, config, http_channel, phone
from tests.servers import Gateway

COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


def make_app(environment: dict[str, str]) -> Flask:
    """The service on `environment`, without the JSON handler create_app gives the root logger:
    the terminal shows the bench's own lines."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    app = create_app(config(environment))
    for handler in [handler for handler in root.handlers if handler not in handlers]:
        root.removeHandler(handler)
    return app


@contextlib.contextmanager
def round_trips() -> Iterator[list[list[str]]]:
    """The round trips to Redis meanwhile, each as the names of the commands it carried: every
    send on a redis-py connection is one, whether a command or a whole pipeline."""
    trips: list[list[str]] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list | tuple) else command
        packed = packed.encode() if isinstance(packed, str) else packed
        trips.append([name.decode().upper() for name in COMMAND.findall(packed)])
        return original(connection, command, check_health)

    with mock.patch.object(redis.connection.AbstractConnection, "send_packed_command", counting):
        yield trips


@dataclass
class InProcess:
    """One start and its verify on a new app's first connection (cold), then one more (warm)."""

    start_trips: list[list[str]]  # warm
    verify_trips: list[list[str]]
    cold_start_trips: list[list[str]]
    cold_verify_trips: list[list[str]]
    registration_bytes: int  # MEMORY USAGE of the warm registration's hash
    destination_bytes: int  # and of its destination's set
    encodings: tuple[str, str]  # of those two
    limit_bytes: dict[str, int]  # the limits' keys naming the warm start's destination, by kind

    @property
    def pending_bytes(self) -> int:
        return self.registration_bytes + self.destination_bytes


def _pseudonym(destination_key: str) -> str:
    """What the braces of a key hold (its hash tag)."""
    return destination_key.partition("{")[2].partition("}")[0]


def in_process(environment: dict[str, str], client: redis.Redis, gateway: Gateway, first: int) -> InProcess:
    """Round trips and memory of a start and a verify (phones `first` and `first + 1`) on an app
    whose SMS go to `gateway`. Its test client's requests come from 127.0.0.1, so a start
    takes from every limit that is on."""
    app = make_app({**environment, **http_channel(gateway.url)})
    http = app.test_client()
    attempts = []
    with contextlib.closing(app.extensions["registrar"]):  # its pools and threads end with it
        for number in (first, first + 1):
            known = set(client.scan_iter(match=DESTINATION_KEY % "*", count=10_000))
            with round_trips() as start_trips:
                started = http.post(
                    "/auth/register", data=start_body(number), content_type="application/json"
                )
            if started.status_code != 202:
                raise BenchFailed(
                    f"in-process start answered {started.status_code}: {started.get_data(True)}"
                )
            registration_id = started.get_json()["registration_id"]
            [destination] = set(client.scan_iter(match=DESTINATION_KEY % "*", count=10_000)) - known
            keys = (REGISTRATION_KEY % registration_id, destination)
            memory = [client.memory_usage(key, samples=0) for key in keys]
            encodings = tuple(client.object("encoding", key) for key in keys)
            limits: dict[str, int] = {}
            for key in client.scan_iter(match=LIMIT_KEYS % _pseudonym(destination), count=10_000):
                kind = key.split(":")[1]
                limits[kind] = limits.get(kind, 0) + client.memory_usage(key, samples=0)
            code = codes_by_phone(take_messages(gateway))[phone(number)]
            with round_trips() as verify_trips:
                verified = http.post(f"/auth/register/{registration_id}/verify", json={"code": code})
            if verified.status_code != 201:
                raise BenchFailed(
                    f"in-process verify answered {verified.status_code}: {verified.get_data(True)}"
                )
            attempts.append((start_trips, verify_trips, memory, encodings, dict(sorted(limits.items()))))
    (cold_start, cold_verify, *_), (start_trips, verify_trips, memory, encodings, limits) = attempts
    return InProcess(
        start_trips=start_trips,
        verify_trips=verify_trips,
        cold_start_trips=cold_start,
        cold_verify_trips=cold_verify,
        registration_bytes=memory[0],
        destination_bytes=memory[1],
        encodings=encodings,
        limit_bytes=limits,
    )
