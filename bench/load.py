"""The load: wrk runs with what they cost, and registrations made through the API."""

import argparse
import http.client
import json
import logging
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import redis

from bench.gateway import codes_by_phone, settle, take_messages
from bench.processes import BenchFailed, CpuClock, Server, connections_per_worker, service_groups
from bench.settings import CONNECTIONS, OUT, ROOT, phone
from tests.servers import Gateway

LUA = ROOT / "bench" / "registrar.lua"
JSON = {"Content-Type": "application/json"}

log = logging.getLogger("bench")


@dataclass
class Load:
    """What wrk measured in one run, and what it cost."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    used: int  # requests made, answered or not: phone numbers or registrations consumed
    ran_out: bool  # a verify run had no registration left
    split: list[int]  # connections per worker, read a second into the run
    cpu: dict[str, float]  # CPU seconds over the run, by whom (processes.CpuClock)
    commands: dict[str, float] = field(default_factory=dict)  # Redis calls per request, by command
    discarded: list["Load"] = field(default_factory=list)  # earlier attempts with an uneven split
    warmup: "Load | None" = None
    uneven: bool = False  # the split that makes `measure` run again, in every attempt

    @property
    def runs(self) -> list["Load"]:
        """Every wrk run behind this figure: warm-up, discarded runs, this one."""
        return [*([self.warmup] if self.warmup else []), *self.discarded, self]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    @property
    def failed(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def spoiled(self) -> bool:
        return bool(self.failed) or self.ran_out

    @property
    def starts(self) -> tuple[int, int]:
        """Over every run behind this figure, the 202 answers wrk read, and the requests it made
        but never read an answer to (in flight when it stopped, or lost to a socket error)."""
        return sum(run.statuses.get(202, 0) for run in self.runs), sum(
            run.used - run.requests for run in self.runs
        )

    @property
    def split_text(self) -> str:
        return " / ".join(map(str, self.split)) or "?"

    def cpu_ms(self, whom: str | None = None) -> float:
        """CPU milliseconds per request spent by `whom` (the whole machine if None)."""
        spent = sum(self.cpu.values()) if whom is None else self.cpu.get(whom, 0.0)
        return 1000 * spent / self.requests

    @property
    def busy(self) -> float:
        """CPUs the machine had busy, on average over the run."""
        return sum(self.cpu.values()) / self.seconds


def wrk(server: Server, name: str, seconds: int, script_args: list[str]) -> Load:
    """One run of wrk -t1 -c32 with bench/registrar.lua; its output goes to bench/out/."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    command += ["-s", str(LUA), server.url, "--", *script_args]
    before = CpuClock.read(service_groups(server))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            time.sleep(min(1.0, seconds / 2))
            split = connections_per_worker(server)
            stdout, stderr = process.communicate(timeout=seconds + 30)
        except BaseException:
            process.kill()
            raise
    cpu = before.until(CpuClock.read(service_groups(server)))
    (OUT / f"wrk-{name}.txt").write_text(" ".join(command) + "\n\n" + stdout + stderr)
    line = next((line for line in stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if process.returncode != 0 or line is None:
        raise BenchFailed(f"wrk failed for {name}: see bench/out/wrk-{name}.txt")
    summary = json.loads(line.removeprefix("BENCH_JSON "))
    return Load(
        name=name,
        requests=summary["requests"],
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        statuses={int(status): count for status, count in summary["statuses"].items()},
        socket_errors=summary["socket_errors"],
        used=summary["used"],
        ran_out=bool(summary["ran_out"]),
        split=split,
        cpu=cpu,
    )


def command_calls(client: redis.Redis) -> Counter:
    """Calls per command since Redis started, scripts' own calls included."""
    stats = client.info("commandstats")
    return Counter({name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()})


def measure(
    server: Server,
    client: redis.Redis,
    name: str,
    script_args: Callable[[int], list[str]],
    options: argparse.Namespace,
    threads: int | None = None,
) -> Load:
    """A warm-up, then a measured run with the Redis commands it caused per request.

    `script_args(used)` gives wrk's script arguments once `used` requests have been made, so
    that no run repeats a phone number or a registration. A run in which one worker holds
    every connection, or (given the workers' `threads`) more than it has threads, is run
    again with new connections, up to --attempts times (README, Method).
    """
    warmup = wrk(server, f"{name}-warmup", options.warmup, script_args(0))
    used = warmup.used
    discarded: list[Load] = []
    for attempt in range(1, options.attempts + 1):
        before = command_calls(client)
        load = wrk(server, name, options.duration, script_args(used))
        delta = command_calls(client) - before
        delta.pop("info", None)
        used += load.used
        load.commands = {command: calls / load.requests for command, calls in sorted(delta.items())}
        busy_workers = len([count for count in load.split if count])
        load.uneven = busy_workers < 2 or (threads is not None and max(load.split, default=0) > threads)
        if not load.uneven or attempt == options.attempts:
            load.discarded, load.warmup = discarded, warmup
            return load
        log.warning("%s: connections per worker %s; measuring again", name, load.split_text)
        discarded.append(load)
    raise AssertionError("unreachable")


def median_run(loads: list[Load]) -> Load:
    """The run at the median requests/s (the lower one of an even count)."""
    return sorted(loads, key=lambda load: load.rps)[(len(loads) - 1) // 2]


def start_body(number: int) -> str:
    """The body of a start registering phone(number), as bench/registrar.lua sends it."""
    return json.dumps(
        {"first_name": "Bench", "phone": phone(number), "country_code": "SA", "verified_by": "phone"}
    )


def start_registrations(server: Server, gateway: Gateway, first: int, count: int) -> list[tuple[str, str]]:
    """`count` registrations waiting for their code, as (id, code), started through the API of
    `server` on keep-alive connections; its SMS go to `gateway`, so the codes come back here."""
    local, connections = threading.local(), []

    def start(number: int) -> tuple[str, str]:
        if not hasattr(local, "connection"):
            local.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connections.append(local.connection)
        try:
            local.connection.request("POST", "/auth/register", start_body(number), JSON)
            response = local.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):  # gunicorn closed it while idle
            local.connection.close()
            local.connection.request("POST", "/auth/register", start_body(number), JSON)
            response = local.connection.getresponse()
        answer = response.read()
        if response.status != 202:
            raise BenchFailed(f"a start for verify answered {response.status}: {answer[:200]!r}")
        return phone(number), json.loads(answer)["registration_id"]

    take_messages(gateway)
    pool = ThreadPoolExecutor(max_workers=CONNECTIONS // 2)
    try:
        started = list(pool.map(start, range(first, first + count)))
    finally:
        pool.shutdown(cancel_futures=True)  # after a failure, make no more
        for connection in connections:
            connection.close()
    settle(gateway)
    codes = codes_by_phone(take_messages(gateway))
    missing = [to for to, _ in started if to not in codes]
    if missing:
        raise BenchFailed(f"{len(missing)} of {count} codes never reached the gateway, e.g. for {missing[0]}")
    return [(registration_id, codes[to]) for to, registration_id in started]
