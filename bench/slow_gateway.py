"""Start with a slow SMS gateway (issue #3), on the production settings: bursts of concurrent
starts, and wrk."""

import argparse
import http.client
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

import redis

from bench.gateway import Messages, counting
from bench.load import JSON, Load, measure, start_body
from bench.processes import BenchFailed, Server, connections_per_worker, gunicorn
from bench.settings import (
    BURST_FIRST,
    CONNECTIONS,
    OUT,
    PRODUCTION_THREADS,
    SLOW_START_FIRST,
    http_channel,
)
from tests.servers import Gateway

BURST_LATENCIES = (1.0, 0.2)  # s per message; the target is for the first
SUSTAINED_LATENCY = 0.2  # s per message, for wrk

log = logging.getLogger("bench")


@dataclass
class Burst:
    """CONNECTIONS starts released together, each on a new connection of its own."""

    latency: float  # the gateway's, s per message
    statuses: Counter  # HTTP status, or the exception's name for a request that got none
    seconds: float  # from the release to the last answer
    fastest: float  # to the first answer
    split: list[int]  # connections per worker, read halfway through the gateway's latency
    messages: Messages

    @property
    def ok(self) -> bool:
        return self.statuses.get(202, 0) == CONNECTIONS and self.messages.consistent


def release(server: Server, first: int, latency: float) -> tuple[Counter, list[float], list[int]]:
    """The answers of a burst, their times from the release, and the connections per worker."""
    released: list[float] = []
    barrier = threading.Barrier(CONNECTIONS, action=lambda: released.append(time.perf_counter()))
    answers: list[tuple[int | str, float] | None] = [None] * CONNECTIONS

    def start(index: int) -> None:
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            return
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("POST", "/auth/register", start_body(first + index), JSON)
            response = connection.getresponse()
            response.read()
            answers[index] = (response.status, time.perf_counter())
        except (OSError, http.client.HTTPException) as error:
            answers[index] = (type(error).__name__, time.perf_counter())
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(index,), daemon=True) for index in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not released and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(latency / 2)
    split = connections_per_worker(server)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if not released or None in answers:
        barrier.abort()
        raise BenchFailed(f"a burst with the gateway at {latency:g} s did not finish within 60 s")
    return Counter(status for status, _ in answers), [at - released[0] for _, at in answers], split


def burst(server: Server, gateway: Gateway, client: redis.Redis, first: int, latency: float) -> Burst:
    gateway.delay = latency
    with counting(gateway, client) as messages:
        statuses, times, split = release(server, first, latency)
        messages.answered = statuses.get(202, 0)
    return Burst(latency, statuses, max(times), min(times), split, messages)


@dataclass
class SlowGateway:
    warmup: Burst
    bursts: dict[float, list[Burst]]  # by gateway latency, in BURST_LATENCIES order
    sustained: Load
    sustained_messages: Messages

    @property
    def all_bursts(self) -> list[Burst]:
        return [self.warmup, *(burst for rounds in self.bursts.values() for burst in rounds)]

    @property
    def messages(self) -> Messages:
        return sum((burst.messages for burst in self.all_bursts), self.sustained_messages)

    @property
    def slowest_burst(self) -> Burst:
        return max(self.bursts[BURST_LATENCIES[0]], key=lambda burst: burst.seconds)

    @property
    def ceiling(self) -> float:
        """Requests/s if every connection waited only on the gateway."""
        return CONNECTIONS / SUSTAINED_LATENCY

    @property
    def sustained_ok(self) -> bool:
        runs = self.sustained.runs
        return not any(run.failed for run in runs) and self.sustained_messages.consistent

    @property
    def failed(self) -> bool:
        return not self.sustained_ok or not all(burst.ok for burst in self.all_bursts)


def slow_gateway(
    environment: dict[str, str], client: redis.Redis, options: argparse.Namespace
) -> SlowGateway:
    """config/gunicorn.conf.py with nothing overridden, its SMS through a gateway that waits."""
    gateway = Gateway(delay=SUSTAINED_LATENCY, keep_alive=True)
    try:
        settings = {**environment, **http_channel(gateway.url)}
        with gunicorn(settings, OUT / "server-slow-sms.log") as server:
            number = BURST_FIRST
            # The first requests of a worker open its Redis and gateway connections.
            warmup = burst(server, gateway, client, number, SUSTAINED_LATENCY)
            bursts: dict[float, list[Burst]] = {latency: [] for latency in BURST_LATENCIES}
            for latency, rounds in bursts.items():
                for _ in range(options.bursts):
                    number += CONNECTIONS
                    time.sleep(0.3)  # for the workers to close the last burst's connections
                    rounds.append(burst(server, gateway, client, number, latency))
                    log.info(
                        "burst, gateway %g s: %.2f s, %s, connections per worker %s",
                        latency,
                        rounds[-1].seconds,
                        dict(rounds[-1].statuses),
                        " / ".join(map(str, rounds[-1].split)),
                    )
            gateway.delay = SUSTAINED_LATENCY
            with counting(gateway, client) as messages:
                sustained = measure(
                    server,
                    client,
                    "slow-sms-start",
                    lambda used: ["start", str(SLOW_START_FIRST + used)],
                    options,
                    threads=PRODUCTION_THREADS,
                )
                messages.answered, messages.abandoned = sustained.starts
            log.info("start, wrk, gateway %g s: %.0f requests/s", SUSTAINED_LATENCY, sustained.rps)
    finally:
        gateway.stop()
    return SlowGateway(warmup, bursts, sustained, messages)
