"""Benchmark of registration start and verify, as production runs them.

`make bench` (or `.venv/bin/python bench/run.py`) starts the service under gunicorn with
config/gunicorn.conf.py against the machine's Redis (database 2, flushed) and PostgreSQL
(a schema of its own, dropped at the end), with the rate limits on (issue #5) but set so
high that they never trip (GENEROUS_LIMITS), then measures:

- requests/s and p50/p99 latency of GET /healthz (the floor), POST /auth/register (start)
  and POST /auth/register/{id}/verify with the right code (an account and its tokens),
  each with wrk -t1 -c32 for --duration seconds after a --warmup, on the configuration
  issue #2 specifies: 2 workers x 4 gthread threads (`--threads 4`), and
  `--worker-connections 16` so that wrk's connections split evenly between the workers.
  They run in --rounds rounds (/healthz, start with the limits on, start with them off,
  verify), so that the floor and the scenarios meet the same drift of a shared machine's
  speed; each figure is the scenario's run at the median, with the CPU per request of
  gunicorn's workers, Redis, PostgreSQL, wrk and the rest of the machine (from /proc);
- start with and without the limits (issue #5): a second gunicorn, identical but for
  RATE_LIMITS_ENABLED=false, runs beside the first, and each round measures start on one,
  then the other: medians, and the cost in % of start's throughput without the limits;
- Redis commands per start and per verify, from INFO commandstats around each run;
- Redis round trips per start (on an app with the limits on, and on one with them off)
  and per verify, counted in-process on redis-py's connection;
- Redis memory of one pending registration (its `vf:{id}` hash and its destination's
  `dest:{...}:pending` set);
- start with a slow SMS gateway (issue #3): a second gunicorn with the production
  configuration as it is (2 workers x 32 threads, nothing overridden), SMS_CHANNEL=http
  and a local gateway in this process that answers each message after a set latency:
  32 concurrent starts released together (gateway at 1 s, then 200 ms), and wrk -c32 on
  start with the gateway at 200 ms. The gateway's message count is checked against the
  202 answers and the registrations the service made;
- webhook delivery (issue #4): one endpoint, made with the admin service, at a receiver in
  this process that verifies every request with standardwebhooks and answers 200 at once.
  --webhook-events events are written with the outbox before one worker
  (`python -m app worker`) starts: deliveries/s from its first delivery to its last. Then,
  with that worker idle, events written one at a time at --webhook-rate per second: the
  time from each commit to its delivery (p50, p99). Every event must arrive once, verified,
  and the delivery log must show each delivered at the first attempt.

It prints a Markdown table and rewrites bench/RESULTS.md. The server logs and wrk's own
output go to bench/out/ (the worker's log to bench/out/worker.log). Exit status 1 when a
request failed (a non-2xx answer or a socket error), the limits did not run as configured
(their script once per start with them on, never with them off), the gateway's count
disagrees with the answers, a webhook was lost, repeated or not verified, the worker did
not exit 0 on SIGTERM, or the run could not complete; a missed target alone does not fail it.
"""

import argparse
import contextlib
import datetime
import functools
import http.client
import http.server
import json
import logging
import math
import os
import platform
import re
import resource
import runpy
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import quote

import redis
from sqlalchemy import create_engine, func, select, text
from standardwebhooks.webhooks import Webhook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from bench/, the app lives one level up

from app import build_registrar, build_worker, create_app  # noqa: E402
from app.codes import VerificationStore  # noqa: E402
from app.db import make_engine, upgrade  # noqa: E402
from app.identity import PHONE, destination_key  # noqa: E402
from app.limits import PREFIX as LIMITS_PREFIX  # noqa: E402
from app.models import utcnow, webhook_deliveries  # noqa: E402
from app.registration.service import PURPOSE as REGISTER  # noqa: E402
from app.registration.service import RegistrationRequest  # noqa: E402
from app.webhooks.outbox import Failure  # noqa: E402
from config.settings import Config  # noqa: E402

BENCH = ROOT / "bench"
OUT = BENCH / "out"
LUA = BENCH / "registrar.lua"
RESULTS = BENCH / "RESULTS.md"

REDIS_URL = "redis://127.0.0.1:6379/2"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret-key-fixed-so-that-runs-compare-0123"  # 48 characters
CONNECTIONS = 32
WORKERS = 2  # config/gunicorn.conf.py's default
THROUGHPUT_THREADS = 4  # issue #2's configuration
# config/gunicorn.conf.py's default, for the slow-gateway scenarios
PRODUCTION_THREADS = int(runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))["threads"])
# For the throughput scenarios only (healthz, start, verify): issue #2's 4 threads, and each
# worker capped at its share of wrk's connections (see `gunicorn`). The slow-gateway
# scenarios run config/gunicorn.conf.py with nothing overridden.
THROUGHPUT_SETTINGS = (
    *("--threads", str(THROUGHPUT_THREADS)),
    *("--worker-connections", str(CONNECTIONS // WORKERS)),
)

# Phone numbers are +9665 followed by 8 digits; each use gets a range of its own, all of
# them valid Saudi mobile numbers, so that no two registrations share a destination.
START_FIRST = 50_000_000  # +96655 … (every start run, limits on and off)
VERIFY_FIRST = 60_000_000  # +96656 …
SLOW_START_FIRST = 70_000_000  # +96657 … (wrk on start with the slow gateway)
BURST_FIRST = 80_000_000  # +96658 … (the bursts)
IN_PROCESS_FIRST = 90_000_000  # +96659 …

TARGETS = {"start": 35.0, "verify": 20.0}  # % of /healthz requests/s
MAX_ROUND_TRIPS = 2
MAX_PENDING_BYTES = 1024

# The limits (issue #5) are on by default. Every start here comes from 127.0.0.1 with
# sequential Saudi numbers (one prefix per 10,000, one country), which the defaults would
# refuse within seconds; so every server and in-process app of the bench gets limits
# that never trip but still make every one of them run: the per-IP window, the codes per
# destination, the prefix and country budgets, and the cooldown. RESEND_COOLDOWN stays at
# its default of 60 s: at 0 the script skips the cooldown (its PTTL and SET) altogether,
# and no destination gets two codes in the bench, so it never trips.
NEVER = "100000000"
GENEROUS_LIMITS = {
    "RATE_LIMIT_REGISTER": f"{NEVER}/minute",
    "MAX_CODES_PER_DESTINATION": NEVER,
    "SMS_PREFIX_HOURLY_LIMIT": NEVER,
    "SMS_COUNTRY_HOURLY_LIMIT": NEVER,
    "RESEND_COOLDOWN": "60",
}
LIMITS_OFF = {"RATE_LIMITS_ENABLED": "false"}
MAX_LIMITS_COST = 15.0  # % of start's requests/s without the limits
MAX_LIMITS_EXTRA_TRIPS = 1  # Redis round trips per start, on − off

# Start with a slow SMS gateway (issue #3).
GATEWAY_TOKEN = "bench-gateway-token"
BURST_LATENCIES = (1.0, 0.2)  # s per message; the target is for the first
SUSTAINED_LATENCY = 0.2  # s per message, for wrk
MAX_BURST_SECONDS = 2.0  # 32 concurrent starts with the gateway at 1 s

# Webhook delivery (issue #4): one worker, a local receiver.
MIN_DELIVERIES_PER_SECOND = 200
MAX_DELIVERY_P50 = 1.0  # s from commit to delivery
# The names API.md §3 gives: the event types, and a delivery's status once it was answered 2xx.
REGISTERED, REGISTRATION_FAILED = "onRegistered", "onRegistrationFailed"
SUCCEEDED = "succeeded"

CODE = re.compile(r"\b(\d{6,10})\b")
# Commands no request of the bench sends: seen in a measured run, they are another client's.
FOREIGN = ("flushdb", "flushall", "keys", "scan")
# CPUs busy outside the bench's processes over a wrk run above which it was not quiet: a quiet
# run leaves about 0.01 (the kernel's own work); a test run beside it, 0.3 and more.
MAX_OTHER_CPUS = 0.1
LOG_PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback|WORKER TIMEOUT")

log = logging.getLogger("bench")


class BenchFailed(Exception):
    """The run cannot go on; the message says why."""


# --- services ------------------------------------------------------------------------------


def redis_answers() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def postgres_answers() -> bool:
    engine = create_engine(
        Config.load({"DATABASE_URL": POSTGRES_URL}).DATABASE_URL, connect_args={"connect_timeout": 2}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise BenchFailed(f"{what} did not answer within {seconds:.0f} s")
        time.sleep(0.5)


def ensure_services() -> None:
    """Start Redis and PostgreSQL the way this machine runs them, if they are not up."""
    if not redis_answers():
        log.info("Redis is not answering: starting redis-server")
        subprocess.run(
            [
                "redis-server",
                *("--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379"),
                *("--save", "", "--appendonly", "no"),
            ],
            check=True,
        )
        wait_for(redis_answers, "Redis")
    if not postgres_answers():
        log.info("PostgreSQL is not answering: starting its cluster")
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True
            )
        wait_for(postgres_answers, "PostgreSQL")


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """A migrated schema of its own, named in the URL as tests/conftest.py does; dropped after."""
    base = Config.load({"DATABASE_URL": POSTGRES_URL}).DATABASE_URL
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{base}?options={quote(f'-csearch_path={schema}')}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        log.info("dropped schema %s", schema)


@contextlib.contextmanager
def bench_redis() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


# --- the server ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    pid: int  # gunicorn's master


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def gunicorn(environment: dict[str, str], log_path: Path, settings: tuple[str, ...] = ()) -> Iterator[Server]:
    """The service under gunicorn as production starts it, with `settings` added to the command.

    The throughput scenarios pass THROUGHPUT_SETTINGS:

    - `--threads 4`: issue #2's figures are for 2 workers x 4 gthread threads, while
      config/gunicorn.conf.py gives 32 threads (for slow channels, issue #3).
    - `--worker-connections 16`: wrk opens all its connections at once and keeps them;
      which worker accepts each is a race that one worker often wins outright. Capping
      each worker at its share makes the split even, as many independent clients would.
      The cap needs the 4 threads: gthread keeps a connection alive only while fewer than
      worker_connections - threads are idle in keep-alive, so with 32 threads and a cap
      of 16 it closes every connection after one answer (and logs "No keepalived
      connections can be handled"), and wrk would measure reconnecting.
    """
    port = free_port()
    # Only what a shell needs is inherited: a stray WEB_CONCURRENCY or app setting in the
    # caller's environment would change what is measured.
    inherited = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ
    }
    env = {**inherited, **environment, "PORT": str(port), "BIND_HOST": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as server_log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "config/gunicorn.conf.py",
                *settings,
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=server_log,
            stderr=server_log,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not healthy(url):
                if process.poll() is not None:
                    raise BenchFailed(f"gunicorn exited with {process.returncode}; see {log_path}")
                if time.monotonic() > deadline:
                    raise BenchFailed(f"gunicorn did not answer /healthz within 30 s; see {log_path}")
                time.sleep(0.2)
            yield Server(url, port, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=25)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.info("gunicorn stopped")


def connections_per_worker(server: Server) -> list[int]:
    """How many established client connections each gunicorn worker holds, most first.

    From /proc: the server port's established sockets (/proc/net/tcp), matched by inode
    against each worker's open files.
    """
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        if local_port == server.port and state == "01":
            inodes.add(f"socket:[{inode}]")
    counts = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != server.pid:
                continue
            fds = Path(f"/proc/{pid}/fd")
            counts.append(sum(1 for fd in fds.iterdir() if os.readlink(fd) in inodes))
    return sorted(counts, reverse=True)


# --- load ----------------------------------------------------------------------------------


@dataclass
class Load:
    """What wrk measured in one run."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    used: int  # requests made, answered or not: phone numbers or registrations consumed
    ran_out: bool
    split: list[int] = field(default_factory=list)  # connections per worker
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds over the wrk run, by whom
    commands: dict[str, float] = field(default_factory=dict)  # Redis calls per request
    discarded: list["Load"] = field(default_factory=list)  # earlier runs on one worker only
    warmup: "Load | None" = None
    uneven: bool = False  # split as measure() re-runs: on one worker, or beyond a worker's threads

    @property
    def runs(self) -> list["Load"]:
        """Every wrk run behind this figure: warm-up, discarded runs, this one."""
        return [*([self.warmup] if self.warmup else []), *self.discarded, self]

    @property
    def unanswered(self) -> int:
        """Requests wrk made but had no answer to when it stopped (or lost to a socket error)."""
        return self.used - self.requests

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
        """Some answer failed, or the run ran out of registrations."""
        return bool(self.failed) or self.ran_out

    @property
    def one_worker(self) -> bool:
        return len([count for count in self.split if count]) < 2

    @property
    def split_text(self) -> str:
        return " / ".join(map(str, self.split)) or "?"

    @property
    def busy(self) -> float:
        """CPUs the machine had busy on average over the run."""
        return sum(self.cpu.values()) / self.seconds

    @property
    def other_cpus(self) -> float:
        """CPUs in use, on average over the run, by neither the bench's processes nor the
        service's: other processes, and the kernel's own work."""
        return self.cpu.get("other", 0.0) / self.seconds


@dataclass(frozen=True)
class CpuTimes:
    """CPU seconds used so far by the processes a throughput run involves, and the machine's."""

    service: float  # the gunicorn's master and workers
    redis: float  # the redis-server at REDIS_URL (tests may run other ones)
    postgres: float  # every postgres process
    wrk: float  # this process's finished children: wrk, once it has exited
    bench: float  # this process
    machine: float  # busy CPU-seconds of all the machine's CPUs, from /proc/stat

    @classmethod
    def take(cls, server: Server) -> "CpuTimes":
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            service=sum(cpu_seconds(pid) for pid in [server.pid, *child_pids(server.pid)]),
            redis=cpu_seconds(redis_pid()),
            postgres=sum(cpu_seconds(pid) for pid in postgres_pids()),
            wrk=children.ru_utime + children.ru_stime,
            bench=time.process_time(),
            machine=machine_busy()[0] / os.sysconf("SC_CLK_TCK"),
        )

    def until(self, later: "CpuTimes") -> dict[str, float]:
        """CPU seconds each used from this sample to `later`; `other` is the machine's busy
        time that none of them accounts for (other processes, and the kernel's own work)."""
        used = {
            name: getattr(later, name) - getattr(self, name)
            for name in ("service", "redis", "postgres", "wrk", "bench")
        }
        used["other"] = (later.machine - self.machine) - sum(used.values())
        return used


def wrk(server: Server, name: str, seconds: int, script_args: list[str]) -> Load:
    """One wrk run; the connections' spread over the workers is read a second into it."""
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "--latency"]
    command += ["-s", str(LUA), server.url, "--", *script_args]
    before = CpuTimes.take(server)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        try:
            time.sleep(min(1.0, seconds / 2))
            split = connections_per_worker(server)
            stdout, stderr = process.communicate(timeout=seconds + 30)
        except BaseException:
            process.kill()
            raise
    cpu = before.until(CpuTimes.take(server))
    (OUT / f"wrk-{name}.txt").write_text(" ".join(command) + "\n\n" + stdout + stderr)
    if process.returncode != 0:
        raise BenchFailed(f"wrk failed for {name}: {stderr.strip()}")
    line = next((line for line in stdout.splitlines() if line.startswith("BENCH_JSON ")), None)
    if line is None:
        raise BenchFailed(f"wrk printed no summary for {name}; see bench/out/wrk-{name}.txt")
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
    """Calls per command since Redis started, scripts' own calls included (Redis counts them)."""
    stats = client.info("commandstats")
    return Counter(
        {
            name.removeprefix("cmdstat_"): value["calls"]
            for name, value in stats.items()
            if name != "cmdstat_info"
        }
    )


def measure(
    server: Server,
    client: redis.Redis,
    name: str,
    script_args: Callable[[int], list[str]],
    options: argparse.Namespace,
    threads: int | None = None,
) -> Load:
    """Warm up, then a measured run with the Redis commands it caused per request.

    `script_args(used)` gives wrk's script arguments once `used` requests have been made,
    so that no run repeats a phone number or a registration of an earlier one.

    Should one worker still hold every connection (see `gunicorn`), the run measures one
    worker instead of the configuration, so it is run again with new connections, up to
    --attempts times, and reported as discarded. With `threads` (a server without the
    connection cap), so is a run in which a worker holds more connections than it has
    threads: wrk keeps the split its connections got at the start for the whole run, and
    the connections beyond a worker's threads queue for the run's whole length.
    """
    warmup = wrk(server, f"{name}-warmup", options.warmup, script_args(0))
    used = warmup.used
    discarded: list[Load] = []
    for attempt in range(1, options.attempts + 1):
        before = command_calls(client)
        load = wrk(server, name, options.duration, script_args(used))
        delta = command_calls(client) - before
        used += load.used
        load.commands = {command: calls / load.requests for command, calls in sorted(delta.items())}
        load.uneven = load.one_worker or (threads is not None and max(load.split, default=0) > threads)
        if not load.uneven or attempt == options.attempts:
            load.discarded = discarded
            load.warmup = warmup
            return load
        log.warning(
            "%s: connections per worker %s, %.0f requests/s; measuring again",
            name,
            load.split_text,
            load.rps,
        )
        discarded.append(load)
    raise AssertionError("unreachable")


# --- start with and without the limits (issue #5) ----------------------------------------


def median_run(loads: list[Load]) -> Load:
    """The run at the median requests/s (the lower one for an even count)."""
    ordered = sorted(loads, key=lambda load: load.rps)
    return ordered[(len(ordered) - 1) // 2]


@dataclass
class LimitsComparison:
    """Start measured alternately on two servers that differ only in RATE_LIMITS_ENABLED:
    limits on, off, on, off, … (one of each per round), and in-process on an app of each."""

    on: list[Load] = field(default_factory=list)  # in the order run
    off: list[Load] = field(default_factory=list)
    in_on: "InProcess | None" = None
    in_off: "InProcess | None" = None

    @property
    def runs(self) -> list[Load]:
        """Every start run, in the order run."""
        return [load for pair in zip(self.on, self.off, strict=True) for load in pair]

    @staticmethod
    def median(loads: list[Load], figure: Callable[[Load], float]) -> float:
        return statistics.median(figure(load) for load in loads)

    def rps(self, loads: list[Load]) -> float:
        return self.median(loads, lambda load: load.rps)

    @property
    def cost(self) -> float:
        """What the limits take from start's requests/s, in % of it without them (medians)."""
        return 100 * (1 - self.rps(self.on) / self.rps(self.off))

    @property
    def pair_costs(self) -> list[float]:
        """The same for each pair of runs (on, then off right after)."""
        return [100 * (1 - on.rps / off.rps) for on, off in zip(self.on, self.off, strict=True)]

    @property
    def reported(self) -> Load:
        """The limits-on run at the median: start's figure."""
        return median_run(self.on)

    @staticmethod
    def commands(loads: list[Load]) -> dict[str, float]:
        """Redis commands per start over all the runs' measured spans, by command."""
        calls: Counter = Counter()
        for load in loads:
            calls.update({name: per * load.requests for name, per in load.commands.items()})
        requests = sum(load.requests for load in loads)
        return {name: count / requests for name, count in sorted(calls.items())}

    @staticmethod
    def cpu_ms(loads: list[Load], whom: str | None = None) -> float:
        """CPU milliseconds per start over all the runs, spent by `whom` (everyone if None)."""
        spent = sum(sum(load.cpu.values()) if whom is None else load.cpu.get(whom, 0.0) for load in loads)
        return 1000 * spent / sum(load.requests for load in loads)

    @staticmethod
    def busy(loads: list[Load]) -> float:
        """CPUs the machine had busy on average over the runs."""
        return sum(sum(load.cpu.values()) for load in loads) / sum(load.seconds for load in loads)

    @property
    def extra_trips(self) -> int:
        return len(self.in_on.start_trips) - len(self.in_off.start_trips)

    @property
    def as_configured(self) -> bool:
        """The limits' script ran once per start with them on, never with them off."""
        return (
            self.commands(self.on).get("evalsha", 0) >= 0.99
            # INFO commandstats counts every client: another one's EVALSHA would show here
            and self.commands(self.off).get("evalsha", 0) < 0.05
            and any("EVALSHA" in trip for trip in self.in_on.start_trips)
            and all("EVALSHA" not in trip for trip in self.in_off.start_trips)
        )

    @property
    def failed(self) -> bool:
        return any(load.spoiled for load in self.runs) or not self.as_configured


@dataclass
class Throughput:
    """The throughput scenarios, measured `--rounds` times in turn on the throughput servers:
    `/healthz`, start with the limits on, start with them off, verify. A shared machine's
    speed drifts over minutes; measured in turn, the floor and the scenarios meet the same
    drift, and the figures are each scenario's run at the median."""

    healthz: list[Load] = field(default_factory=list)  # in the order run
    verify: list[Load] = field(default_factory=list)
    limits: LimitsComparison = field(default_factory=LimitsComparison)

    def loads(self) -> dict[str, Load]:
        """Each scenario's figure: its run at the median (start: with the limits on)."""
        return {
            "healthz": median_run(self.healthz),
            "start": self.limits.reported,
            "verify": median_run(self.verify),
        }

    def runs(self, name: str) -> list[Load]:
        return {"healthz": self.healthz, "start": self.limits.on, "verify": self.verify}[name]

    @property
    def all_runs(self) -> list[Load]:
        """Every measured run of the rounds, in the order run."""
        return [
            load
            for number, healthz in enumerate(self.healthz)
            for load in (healthz, self.limits.on[number], self.limits.off[number], self.verify[number])
        ]

    def round_shares(self, name: str) -> list[float]:
        """A scenario's requests/s in % of the same round's `/healthz`, round by round."""
        return [100 * load.rps / floor.rps for load, floor in zip(self.runs(name), self.healthz, strict=True)]


def throughput_rounds(
    on_server: Server,
    off_server: Server,
    client: redis.Redis,
    environment: dict[str, str],
    options: argparse.Namespace,
) -> Throughput:
    """`--rounds` rounds of wrk: `/healthz`, start with the limits on, start with them off,
    then verify on registrations made just before it. Every run has its own warm-up, and
    uses phone numbers and registrations no other run used."""
    throughput = Throughput()
    comparison = throughput.limits
    started = made = 0
    for number in range(1, options.rounds + 1):
        log.info("round %d of %d", number, options.rounds)
        healthz = measure(on_server, client, f"healthz-{number}", lambda used: ["healthz"], options)
        throughput.healthz.append(healthz)
        log.info("GET /healthz: %.0f requests/s, p50 %.1f ms", healthz.rps, healthz.p50_ms)
        for side, server, loads in (("on", on_server, comparison.on), ("off", off_server, comparison.off)):
            first = START_FIRST + started
            load = measure(
                server,
                client,
                f"start-limits-{side}-{number}",
                lambda used, first=first: ["start", str(first + used)],
                options,
            )
            started += sum(run.used for run in load.runs)
            loads.append(load)
            log.info("start, limits %s: %.0f requests/s, p50 %.1f ms", side, load.rps, load.p50_ms)
        pairs = pending_registrations(environment, VERIFY_FIRST + made, options.registrations)
        made += options.registrations
        pending = write_pending(OUT / f"verify-{number}.txt", pairs)
        verify = measure(
            on_server,
            client,
            f"verify-{number}",
            lambda used, pending=pending: ["verify", str(pending), str(used)],
            options,
        )
        throughput.verify.append(verify)
        log.info(
            "verify: %.0f requests/s, p50 %.1f ms (%.1f %% of this round's /healthz)",
            verify.rps,
            verify.p50_ms,
            100 * verify.rps / healthz.rps,
        )
    return throughput


# --- registrations ready to verify ---------------------------------------------------------


def phone(number: int) -> str:
    return f"+9665{number:08d}"


def pending_registrations(environment: dict[str, str], first: int, count: int) -> list[tuple[str, str]]:
    """`count` registrations waiting for their code, as (id, code).

    They go through the service's own start (RegistrationService.start, so
    CodeChallenges.send_first and VerificationStore.create), with only the sending
    replaced: the code is kept here instead of being logged.
    """
    registrar = build_registrar(Config.load(environment))
    challenges = registrar.registration.challenges
    codes: dict[str, str] = {}
    challenges._send = lambda channel, to, locale, code, silent=False: codes.__setitem__(to, code)

    def start(number: int) -> tuple[str, str]:
        registration = RegistrationRequest(
            first_name="Bench",
            last_name=None,
            email=None,
            phone=phone(number),
            country_code="SA",
            verified_by=PHONE,
            locale="en",
        )
        challenge = registrar.registration.start(registration)
        return challenge.id, codes[registration.phone]

    pool = ThreadPoolExecutor(max_workers=8)
    try:
        return list(pool.map(start, range(first, first + count)))
    finally:
        pool.shutdown(cancel_futures=True)  # on a failure, do not make the rest first
        registrar.redis.close()
        registrar.engine.dispose()


def write_pending(path: Path, pairs: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f"{registration_id} {code}\n" for registration_id, code in pairs))
    return path


# --- round trips and memory, in-process ----------------------------------------------------


@contextlib.contextmanager
def round_trips() -> Iterator[list[list[str]]]:
    """Each send on a redis-py connection is one round trip: a command, or a whole pipeline.

    Yields the list of them, each as the names of the commands it carried.
    """
    trips: list[list[str]] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(connection, command, check_health=True):
        packed = b"".join(command) if isinstance(command, list | tuple) else command
        if isinstance(packed, str):
            packed = packed.encode()
        trips.append(
            [name.decode().upper() for name in re.findall(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n", packed)]
        )
        return original(connection, command, check_health)

    with mock.patch.object(redis.connection.AbstractConnection, "send_packed_command", counting):
        yield trips


class Outbox(logging.Handler):
    """The console channel's messages, which carry the codes."""

    def __init__(self):
        super().__init__()
        self.codes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.codes.append(CODE.search(record.getMessage()).group(1))


@dataclass
class InProcess:
    start_trips: list[list[str]]
    verify_trips: list[list[str]]
    cold_start_trips: list[list[str]]
    cold_verify_trips: list[list[str]]
    vf_bytes: int
    pending_bytes: int
    vf_encoding: str
    pending_encoding: str
    limit_bytes: dict[str, int]  # the limits' keys naming the warm start's destination, by kind


def in_process(environment: dict[str, str], client: redis.Redis, first: int) -> InProcess:
    """One start and one verify on a fresh app (cold connection), then one more of each (warm),
    with the phone numbers `first` and `first + 1`.

    The test client's requests come from 127.0.0.1, so a start takes from every limit."""
    handlers = list(logging.getLogger().handlers)
    app = create_app(Config.load(environment))
    for handler in list(logging.getLogger().handlers):
        if handler not in handlers:  # create_app's JSON lines for everything: this terminal has its own
            logging.getLogger().removeHandler(handler)
    registrar = app.extensions["registrar"]
    hasher = registrar.registration.challenges.hasher
    http = app.test_client()
    outbox = Outbox()
    console = logging.getLogger("registrar.channels.console")
    console.addHandler(outbox)
    console.setLevel(logging.INFO)
    console.propagate = False  # the codes are for the outbox, not for this terminal
    measured = {}
    try:
        for attempt, number in (("cold", first), ("warm", first + 1)):
            body = {
                "first_name": "Bench",
                "phone": phone(number),
                "country_code": "SA",
                "verified_by": "phone",
            }
            with round_trips() as start_trips:
                started = http.post("/auth/register", json=body)
            if started.status_code != 202:
                raise BenchFailed(
                    f"in-process start answered {started.status_code}: {started.get_data(True)}"
                )
            registration_id = started.get_json()["registration_id"]
            destination = hasher.destination(destination_key(PHONE, phone(number)))
            keys = (
                VerificationStore.key(registration_id),
                VerificationStore.pending_key(destination, REGISTER),
            )
            memory = [client.memory_usage(key, samples=0) for key in keys]
            encodings = [client.object("encoding", key) for key in keys]
            limit_bytes = limit_memory(client, destination)
            with round_trips() as verify_trips:
                verified = http.post(
                    f"/auth/register/{registration_id}/verify", json={"code": outbox.codes[-1]}
                )
            if verified.status_code != 201:
                raise BenchFailed(
                    f"in-process verify answered {verified.status_code}: {verified.get_data(True)}"
                )
            measured[attempt] = (start_trips, verify_trips, memory, encodings, limit_bytes)
    finally:
        console.removeHandler(outbox)
        console.setLevel(logging.NOTSET)
        console.propagate = True
        registrar.redis.close()
        registrar.engine.dispose()
    (start_trips, verify_trips, memory, encodings, limit_bytes) = measured["warm"]
    return InProcess(
        start_trips=start_trips,
        verify_trips=verify_trips,
        cold_start_trips=measured["cold"][0],
        cold_verify_trips=measured["cold"][1],
        vf_bytes=memory[0],
        pending_bytes=memory[1],
        vf_encoding=encodings[0],
        pending_encoding=encodings[1],
        limit_bytes=limit_bytes,
    )


def limit_memory(client: redis.Redis, destination: str) -> dict[str, int]:
    """MEMORY USAGE of the limits' keys that name one destination (its pseudonym), by kind:
    `codes` (the hourly counter) and `cooldown`. None with the limits off."""
    found = {}
    for key in client.scan_iter(match=f"{LIMITS_PREFIX}:*{destination}*", count=10_000):
        kind = key.split(":")[1]
        found[kind] = found.get(kind, 0) + (client.memory_usage(key, samples=0) or 0)
    return dict(sorted(found.items()))


# --- start with a slow SMS gateway (issue #3) ------------------------------------------------


class GatewayHandler(http.server.BaseHTTPRequestHandler):
    """One connection from the service's `http` SMS channel (HTTP/1.1, kept alive)."""

    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle's algorithm the body waits
    # for the client's delayed ACK, about 40 ms per message on top of the set latency.
    disable_nagle_algorithm = True
    server: "SmsGateway"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        problem = self.server.problem(self.path, self.headers.get("Authorization"), body)
        if problem:
            self.server.reject(problem)
            self.answer(400 if problem != "authorization" else 401, {"error": problem})
            return
        number = self.server.received(json.loads(body)["to"])
        try:
            time.sleep(self.server.latency)
        finally:
            self.server.answered()
        self.answer(200, {"id": number})

    def answer(self, status: int, document: dict) -> None:
        payload = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        pass  # one line per message on the terminal would drown the run's own log


class SmsGateway(http.server.ThreadingHTTPServer):
    """A local SMS gateway speaking the `http` channel's protocol, with a set latency.

    It answers POST /sms with 200 after `latency` seconds when the bearer token is right and
    the JSON body has the strings "to" and "body"; anything else is answered 400 or 401 and
    counted as rejected. Every accepted message's "to" is kept, in order.
    """

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # 32 connections arrive at once; the default backlog is 5

    def __init__(self, token: str, latency: float):
        super().__init__(("127.0.0.1", 0), GatewayHandler)
        self.token = token
        self.latency = latency
        self.url = f"http://127.0.0.1:{self.server_address[1]}/sms"
        self.lock = threading.Lock()
        self.recipients: list[str] = []
        self.rejected: Counter = Counter()
        self.in_flight = 0

    def problem(self, path: str, authorization: str | None, body: bytes) -> str | None:
        if path != "/sms":
            return "path"
        if authorization != f"Bearer {self.token}":
            return "authorization"
        try:
            document = json.loads(body)
        except ValueError:
            return "json"
        if not isinstance(document, dict):
            return "json"
        for name in ("to", "body"):
            if not isinstance(document.get(name), str) or not document[name]:
                return name
        return None

    def received(self, to: str) -> int:
        with self.lock:
            self.recipients.append(to)
            self.in_flight += 1
            return len(self.recipients)

    def answered(self) -> None:
        with self.lock:
            self.in_flight -= 1

    def reject(self, problem: str) -> None:
        with self.lock:
            self.rejected[problem] += 1

    @property
    def messages(self) -> int:
        with self.lock:
            return len(self.recipients)

    def settle(self, seconds: float = 15) -> None:
        """Wait until no message is in flight and none has arrived for a while.

        wrk stops with requests still in the service; their messages reach the gateway after.
        """
        deadline = time.monotonic() + seconds
        quiet_for = max(0.5, 2 * self.latency)
        last, since = self.messages, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            with self.lock:
                count, busy = len(self.recipients), self.in_flight
            if count != last or busy:
                last, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet_for:
                return
        raise BenchFailed(f"the SMS gateway was still receiving messages after {seconds:.0f} s")


@contextlib.contextmanager
def sms_gateway(token: str) -> Iterator[SmsGateway]:
    gateway = SmsGateway(token, latency=SUSTAINED_LATENCY)
    thread = threading.Thread(
        target=gateway.serve_forever, kwargs={"poll_interval": 0.2}, name="sms-gateway", daemon=True
    )
    thread.start()
    try:
        yield gateway
    finally:
        gateway.shutdown()
        gateway.server_close()
        thread.join(timeout=5)


def registrations(client: redis.Redis) -> int:
    """Verifications the service has written to Redis (each start that was answered 202 made one)."""
    return sum(1 for _ in client.scan_iter(match=VerificationStore.key("*"), count=10_000))


@dataclass
class Burst:
    """CONNECTIONS starts released together, each on its own new connection."""

    latency: float  # the gateway's, s per message
    statuses: Counter  # HTTP status, or the exception's name for a request that got none
    seconds: float  # from the release to the last answer
    fastest: float
    split: list[int]  # connections per worker, read halfway through the gateway's latency
    messages: int  # the gateway's count for this burst
    made: int  # registrations the service wrote to Redis for it

    @property
    def accepted(self) -> int:
        return self.statuses.get(202, 0)

    @property
    def ok(self) -> bool:
        return self.accepted == CONNECTIONS

    @property
    def counted(self) -> bool:
        """Every 202 is one message at the gateway and one registration, and nothing more."""
        return self.messages == self.accepted == self.made


def burst(server: Server, gateway: SmsGateway, client: redis.Redis, first: int, latency: float) -> Burst:
    gateway.latency = latency
    messages, made = gateway.messages, registrations(client)
    released: list[float] = []
    barrier = threading.Barrier(CONNECTIONS, action=lambda: released.append(time.perf_counter()))
    answers: list[tuple[int | str, float] | None] = [None] * CONNECTIONS

    def start(index: int) -> None:
        body = json.dumps(
            {
                "first_name": "Bench",
                "phone": phone(first + index),
                "country_code": "SA",
                "verified_by": "phone",
            }
        )
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            return
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        try:
            connection.request("POST", "/auth/register", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            answers[index] = (response.status, time.perf_counter())
        except (OSError, http.client.HTTPException) as error:
            answers[index] = (type(error).__name__, time.perf_counter())
        finally:
            connection.close()

    threads = [
        threading.Thread(target=start, args=(index,), name=f"burst-{index}", daemon=True)
        for index in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while not released and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(latency / 2)
    split = connections_per_worker(server)
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if not released or any(answer is None for answer in answers):
        barrier.abort()
        raise BenchFailed(f"a burst with the gateway at {latency:g} s did not finish within 60 s")
    gateway.settle()
    times = [at - released[0] for _, at in answers]
    return Burst(
        latency=latency,
        statuses=Counter(status for status, _ in answers),
        seconds=max(times),
        fastest=min(times),
        split=split,
        messages=gateway.messages - messages,
        made=registrations(client) - made,
    )


@dataclass
class SlowGateway:
    """What the slow-gateway scenarios measured."""

    warmup: Burst
    bursts: dict[float, list[Burst]]  # by gateway latency, in BURST_LATENCIES order
    sustained: Load
    sustained_messages: int  # the gateway's count over every wrk run of `sustained`
    sustained_made: int  # registrations the service wrote to Redis over them
    rejected: Counter  # messages the gateway refused, by reason (none expected)
    duplicates: int  # messages the gateway got for a number it had had one for (none expected)

    @property
    def answered_202(self) -> int:
        return sum(run.statuses.get(202, 0) for run in self.sustained.runs)

    @property
    def unanswered(self) -> int:
        return sum(run.unanswered for run in self.sustained.runs)

    @property
    def sustained_counted(self) -> bool:
        """The gateway got one message per registration the service made; wrk read a 202 for
        each of them, except for requests it abandoned when it stopped."""
        return (
            self.sustained_messages == self.sustained_made
            and self.answered_202 <= self.sustained_messages <= self.answered_202 + self.unanswered
        )

    @property
    def all_bursts(self) -> list[Burst]:
        return [self.warmup, *(b for rounds in self.bursts.values() for b in rounds)]

    @property
    def failed(self) -> bool:
        return (
            self.sustained.failed > 0
            or any(run.non_2xx or sum(run.socket_errors.values()) for run in self.sustained.runs)
            or bool(set(self.sustained.statuses) - {202})
            or not self.sustained_counted
            or any(not b.ok or not b.counted for b in self.all_bursts)
            or bool(self.rejected)
            or self.duplicates > 0
        )

    @property
    def ceiling(self) -> float:
        """Requests/s if every connection waited only on the gateway."""
        return CONNECTIONS / SUSTAINED_LATENCY

    @property
    def slowest_burst(self) -> Burst:
        return max(self.bursts[BURST_LATENCIES[0]], key=lambda b: b.seconds)


def slow_gateway(
    environment: dict[str, str], client: redis.Redis, log_path: Path, options: argparse.Namespace
) -> SlowGateway:
    """The production configuration, nothing overridden, sending SMS through a slow gateway."""
    with sms_gateway(GATEWAY_TOKEN) as gateway:
        production = {
            **environment,
            "SMS_CHANNEL": "http",
            "SMS_HTTP_URL": gateway.url,
            "SMS_HTTP_TOKEN": GATEWAY_TOKEN,
        }
        with gunicorn(production, log_path) as server:
            log.info("gunicorn (production settings) answers at %s; its log: %s", server.url, log_path.name)
            number = BURST_FIRST
            # The first requests of a worker open its Redis and gateway connections: warm up.
            warmup = burst(server, gateway, client, number, SUSTAINED_LATENCY)
            number += CONNECTIONS
            log.info("warm-up burst (gateway %g s): %.2f s", warmup.latency, warmup.seconds)
            bursts: dict[float, list[Burst]] = {}
            for latency in BURST_LATENCIES:
                bursts[latency] = []
                for _ in range(options.bursts):
                    time.sleep(0.3)  # let the workers close the last burst's connections
                    result = burst(server, gateway, client, number, latency)
                    number += CONNECTIONS
                    log.info(
                        "burst of %d starts, gateway %g s: %.2f s, statuses %s, connections per worker %s",
                        CONNECTIONS,
                        latency,
                        result.seconds,
                        dict(result.statuses),
                        " / ".join(map(str, result.split)),
                    )
                    bursts[latency].append(result)
            gateway.latency = SUSTAINED_LATENCY
            messages, made = gateway.messages, registrations(client)
            log.info(
                "start, gateway %g s: %d s warm-up, %d s measured",
                SUSTAINED_LATENCY,
                options.warmup,
                options.duration,
            )
            sustained = measure(
                server,
                client,
                "slow-sms-start",
                lambda used: ["start", str(SLOW_START_FIRST + used)],
                options,
                threads=PRODUCTION_THREADS,
            )
            gateway.settle()
            result = SlowGateway(
                warmup=warmup,
                bursts=bursts,
                sustained=sustained,
                sustained_messages=gateway.messages - messages,
                sustained_made=registrations(client) - made,
                rejected=Counter(gateway.rejected),
                duplicates=len(gateway.recipients) - len(set(gateway.recipients)),
            )
    return result


# --- webhook delivery (issue #4) -------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """One request at the webhook receiver."""

    webhook_id: str | None
    verified: bool  # standardwebhooks accepted its signature, timestamp and headers
    at: float  # time.time() once its body was read
    event_type: str | None  # from the body
    registration_id: str | None  # from the body


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    """One connection from the webhook worker (requests, HTTP/1.1, kept alive)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # as the SMS gateway: no delayed-ACK wait on the answer
    server: "WebhookReceiver"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        at = time.time()
        try:
            self.server.webhook.verify(body, dict(self.headers.items()), json_parse=False)
            verified = True
        except Exception:  # WebhookVerificationError, or headers too malformed to parse
            verified = False
        try:  # which event it is, verified or not
            event = json.loads(body)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            event = {}
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        webhook_id = self.headers.get("webhook-id")
        self.server.arrived(Arrival(webhook_id, verified, at, event.get("type"), data.get("registration_id")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def setup(self) -> None:
        super().setup()
        self.server.connected()

    def log_message(self, format: str, *args) -> None:
        pass


class WebhookReceiver(http.server.ThreadingHTTPServer):
    """A subscriber that verifies every request with `standardwebhooks.webhooks.Webhook(secret)`,
    answers 200 at once (verified or not) and keeps every arrival, in order."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hooks"
        self.webhook: Webhook | None = None  # set once the endpoint, and so its secret, exists
        self.lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self.connections = 0  # TCP connections the worker opened

    def connected(self) -> None:
        with self.lock:
            self.connections += 1

    def arrived(self, arrival: Arrival) -> None:
        with self.lock:
            self.arrivals.append(arrival)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.arrivals)

    def take(self) -> list[Arrival]:
        """The arrivals so far, which are then forgotten."""
        with self.lock:
            taken, self.arrivals = self.arrivals, []
        return taken

    def wait_for(self, count: int, seconds: float, worker: subprocess.Popen, what: str) -> None:
        """Until `count` requests arrived, then until none has for a second (a duplicate
        would come right after)."""
        deadline = time.monotonic() + seconds
        last, since = self.count, time.monotonic()
        while True:
            time.sleep(0.05)
            now, arrived = time.monotonic(), self.count
            if arrived != last:
                last, since = arrived, now
            elif arrived >= count and now - since >= 1.0:
                return
            if worker.poll() is not None:
                raise BenchFailed(f"the webhook worker exited with {worker.returncode} during {what}")
            if now > deadline:
                raise BenchFailed(f"{what}: {arrived} of {count} deliveries arrived within {seconds:.0f} s")


@contextlib.contextmanager
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    thread = threading.Thread(
        target=receiver.serve_forever, kwargs={"poll_interval": 0.2}, name="webhook-receiver", daemon=True
    )
    thread.start()
    try:
        yield receiver
    finally:
        receiver.shutdown()
        receiver.server_close()
        thread.join(timeout=5)


@dataclass
class WorkerRun:
    process: subprocess.Popen
    started: float  # time.time() just before it was spawned
    returncode: int | None = None  # after SIGTERM
    stop_seconds: float | None = None  # from SIGTERM to its exit


@contextlib.contextmanager
def webhook_worker(environment: dict[str, str], log_path: Path) -> Iterator[WorkerRun]:
    """One delivery worker as production starts it (`python -m app worker`); SIGTERM after."""
    inherited = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR") if name in os.environ
    }
    with open(log_path, "wb") as worker_log:
        started = time.time()
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"],
            cwd=ROOT,
            env={**inherited, **environment},
            stdout=worker_log,
            stderr=worker_log,
            start_new_session=True,
        )
        run = WorkerRun(process, started)
        try:
            yield run
        finally:
            stopping = time.monotonic()
            process.terminate()
            try:
                run.returncode = process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            run.stop_seconds = time.monotonic() - stopping
            log.info("webhook worker stopped (exit status %s)", run.returncode)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                    pids.append(int(pid))
    return pids


@functools.cache
def redis_pid() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (gunicorn's workers, for its master)."""
    pids = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = Path(f"/proc/{pid}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(pid))
    return pids


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class CpuSample:
    at: float  # time.monotonic()
    worker: float
    bench: float  # this process: the receiver's threads, while the main thread only polls
    postgres: dict[int, float]
    machine: tuple[int, int]

    @classmethod
    def take(cls, worker_pid: int) -> "CpuSample":
        return cls(
            time.monotonic(),
            cpu_seconds(worker_pid),
            time.process_time(),
            {pid: cpu_seconds(pid) for pid in postgres_pids()},
            machine_busy(),
        )


@dataclass
class CpuUse:
    """CPU time spent while the worker drained the outbox, as shares of one CPU."""

    seconds: float
    worker: float
    receiver: float
    postgres: float
    machine: float  # busy share of all the machine's CPUs

    @classmethod
    def between(cls, first: CpuSample, last: CpuSample) -> "CpuUse":
        seconds = last.at - first.at
        postgres = sum(cpu - first.postgres.get(pid, 0.0) for pid, cpu in last.postgres.items())
        busy, total = (b - a for a, b in zip(first.machine, last.machine, strict=True))
        return cls(
            seconds,
            (last.worker - first.worker) / seconds,
            (last.bench - first.bench) / seconds,
            postgres / seconds,
            busy / total if total else 0.0,
        )


def percentile(values: list[float], share: float) -> float:
    """Nearest rank; NaN for no values."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else math.nan


@dataclass
class WebhookRun:
    """What the webhook scenarios measured."""

    events: int  # written before the worker started
    write_seconds: float  # to write them, one outbox.failed each
    backlog: int  # onRegistered events of the earlier scenarios, fanned out to no endpoint first
    worker_started: float  # time.time()
    drained: list[Arrival]  # every request the receiver got for the throughput scenario
    drain_connections: int  # TCP connections the worker opened to the receiver for them
    cpu: CpuUse
    latency_events: int
    latency_rate: float
    latencies: list[float]  # arrival − commit, s, of each latency event (first arrival)
    late_arrivals: list[Arrival]  # every request the receiver got for the latency scenario
    latency_written_in: float  # s it took to write them, against latency_events / rate planned
    unexpected: list[Arrival]  # verified requests for no event written in their scenario
    deliveries: dict[tuple[str, int], int]  # the delivery log: (status, attempts) → count
    returncode: int | None
    stop_seconds: float | None

    @property
    def first_delivery(self) -> float:
        return min(arrival.at for arrival in self.drained)

    @property
    def last_delivery(self) -> float:
        return max(arrival.at for arrival in self.drained)

    @property
    def per_second(self) -> float:
        """From the first delivery to the last: (N − 1) intervals."""
        span = self.last_delivery - self.first_delivery
        return (len(self.drained) - 1) / span if span > 0 else 0.0

    @property
    def all_arrivals(self) -> list[Arrival]:
        return [*self.drained, *self.late_arrivals]

    @property
    def unverified(self) -> int:
        return sum(1 for arrival in self.all_arrivals if not arrival.verified)

    @property
    def duplicates(self) -> int:
        ids = [arrival.webhook_id for arrival in self.all_arrivals]
        return len(ids) - len(set(ids))

    @property
    def expected(self) -> int:
        return self.events + self.latency_events

    @property
    def complete(self) -> bool:
        """Every event written was delivered, verified, once, and nothing else was."""
        return (
            len(self.drained) == self.events
            and len(self.late_arrivals) == self.latency_events
            and not self.unverified
            and not self.duplicates
            and not self.unexpected
            and self.deliveries == {(SUCCEEDED, 1): self.expected}
        )

    @property
    def stopped_cleanly(self) -> bool:
        return self.returncode == 0

    @property
    def failed(self) -> bool:
        return not self.complete or not self.stopped_cleanly


def bench_failure(registration_id: str) -> Failure:
    return Failure(registration_id, "too_many_attempts", PHONE, "+966 55••••567", "SA")


def write_event(registrar, registration_id: str) -> None:
    """One onRegistrationFailed event, committed when this returns."""
    if registrar.outbox.failed(bench_failure(registration_id), at=utcnow()) is False:
        raise BenchFailed(f"the outbox already had an event for {registration_id}")


def fan_out_backlog(config: Config) -> int:
    """Fan out the events the earlier scenarios wrote (an onRegistered per verify) while no
    endpoint exists, as a worker running beside them would have: they get no delivery.

    Without this the worker would deliver them to the endpoint made next, before the bench's
    own events.
    """
    worker = build_worker(config)
    try:
        fanned = 0
        while batch := worker.fan_out():
            fanned += batch
        return fanned
    finally:
        worker._pool.shutdown()
        worker.store.redis.close()
        worker.engine.dispose()


def delivery_log(registrar) -> dict[tuple[str, int], int]:
    deliveries = webhook_deliveries.c
    with registrar.engine.connect() as connection:
        rows = connection.execute(
            select(deliveries.status, deliveries.attempts, func.count()).group_by(
                deliveries.status, deliveries.attempts
            )
        ).all()
    return {(status, attempts): count for status, attempts, count in rows}


def webhook_delivery(environment: dict[str, str], log_path: Path, options: argparse.Namespace) -> WebhookRun:
    """One endpoint at a local receiver; N events written, then one worker started to drain
    them (throughput); then events one at a time at a steady rate (commit to delivery)."""
    settings = {**environment, "WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
    config = Config.load(settings)
    backlog = fan_out_backlog(config)
    log.info("fanned out %d earlier onRegistered events to no endpoint", backlog)
    registrar = build_registrar(config)
    try:
        with webhook_receiver() as receiver:
            endpoint = registrar.webhooks.create(
                receiver.url, [REGISTERED, REGISTRATION_FAILED], "bench receiver"
            )
            receiver.webhook = Webhook(endpoint["secret"])
            written = [f"reg_benchtput{index:06d}" for index in range(options.webhook_events)]
            log.info("writing %d onRegistrationFailed events with outbox.failed", len(written))
            begun = time.monotonic()
            for registration_id in written:
                write_event(registrar, registration_id)
            write_seconds = time.monotonic() - begun
            log.info("wrote them in %.1f s; starting one worker (log: %s)", write_seconds, log_path.name)
            with webhook_worker(settings, log_path) as worker:
                pid = worker.process.pid
                # CPU is counted from the first delivery to the last, polled every 10 ms.
                deadline = time.monotonic() + 30
                while not receiver.count:
                    if worker.process.poll() is not None:
                        raise BenchFailed(
                            f"the webhook worker exited with {worker.process.returncode}; "
                            f"see bench/out/{log_path.name}"
                        )
                    if time.monotonic() > deadline:
                        raise BenchFailed(f"no webhook arrived within 30 s; see bench/out/{log_path.name}")
                    time.sleep(0.01)
                cpu_first = CpuSample.take(pid)
                deadline = time.monotonic() + options.webhook_timeout
                while receiver.count < len(written):
                    if worker.process.poll() is not None or time.monotonic() > deadline:
                        break  # wait_for says what went wrong
                    time.sleep(0.01)
                cpu = CpuUse.between(cpu_first, CpuSample.take(pid))
                receiver.wait_for(len(written), 5, worker.process, "the throughput run")
                drained = receiver.take()
                drain_connections = receiver.connections
                span = max(a.at for a in drained) - min(a.at for a in drained)
                log.info("%d deliveries in %.2f s from the first to the last", len(drained), span)

                count = round(options.webhook_rate * options.webhook_seconds)
                log.info(
                    "commit to delivery: %d events at %g/s, one outbox.failed each",
                    count,
                    options.webhook_rate,
                )
                committed: dict[str, float] = {}
                begun = time.monotonic()
                for index in range(count):
                    time.sleep(max(0.0, begun + index / options.webhook_rate - time.monotonic()))
                    registration_id = f"reg_benchlat{index:06d}"
                    write_event(registrar, registration_id)
                    committed[registration_id] = time.time()
                written_in = time.monotonic() - begun
                receiver.wait_for(count, 30, worker.process, "the commit-to-delivery run")
                late = receiver.take()
        first_arrival: dict[str, float] = {}
        for arrival in late:
            if arrival.registration_id in committed:
                first_arrival.setdefault(arrival.registration_id, arrival.at)
        latencies = [first_arrival[rid] - at for rid, at in committed.items() if rid in first_arrival]
        wanted = set(written)
        unexpected = [
            arrival
            for arrivals, ids in ((drained, wanted), (late, committed))
            for arrival in arrivals
            if arrival.verified
            and (arrival.registration_id not in ids or arrival.event_type != REGISTRATION_FAILED)
        ]
        return WebhookRun(
            events=len(written),
            write_seconds=write_seconds,
            backlog=backlog,
            worker_started=worker.started,
            drained=drained,
            drain_connections=drain_connections,
            cpu=cpu,
            latency_events=count,
            latency_rate=options.webhook_rate,
            latencies=latencies,
            late_arrivals=late,
            latency_written_in=written_in,
            unexpected=unexpected,
            deliveries=delivery_log(registrar),
            returncode=worker.returncode,
            stop_seconds=worker.stop_seconds,
        )
    finally:
        registrar.redis.close()
        registrar.engine.dispose()


# --- report --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": str(len(os.sched_getaffinity(0))), "cpu": model}


def code_version() -> str:
    """The commit measured, and which of the service's files differed from it."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "app", "config", "wsgi.py", "requirements.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    text = f"commit {commit.stdout.strip() or '?'}"
    if changed:
        text += " with uncommitted changes to " + ", ".join(line[3:] for line in changed)
    return text


def versions(client: redis.Redis, database_url: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        postgres = connection.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    banner = subprocess.run([sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True)
    gunicorn_version = re.search(r"\d[\d.]*", banner.stdout)
    return (
        f"Python {platform.python_version()}, "
        f"gunicorn {gunicorn_version.group() if gunicorn_version else '?'}, "
        f"Redis {client.info('server')['redis_version']}, PostgreSQL {postgres.split()[0]}, "
        f"redis-py {redis.__version__}"
    )


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def trips_text(trips: list[list[str]]) -> str:
    return " + ".join("[" + " ".join(names) + "]" for names in trips) or "none"


LABELS = {
    "healthz": "`GET /healthz`",
    "start": "`POST /auth/register` (start)",
    "verify": "`POST /auth/register/{id}/verify` (right code)",
}


def share(loads: dict[str, Load], name: str) -> float:
    """A scenario's requests/s as a percentage of /healthz's."""
    return 100 * loads[name].rps / loads["healthz"].rps


def figures_table(throughput: Throughput, measured: InProcess) -> list[str]:
    loads = throughput.loads()
    rows = ["| Figure | Measured | Target | Result |", "|---|---|---|---|"]
    for name, load in loads.items():
        label, runs = LABELS[name], throughput.runs(name)
        count, each_rps = len(runs), "; ".join(f"{run.rps:,.0f}" for run in runs)
        if name in TARGETS:
            rows.append(
                f"| {label}: throughput, median of {count} runs | {load.rps:,.0f} req/s "
                f"= {share(loads, name):.1f} % of `/healthz` "
                f"| ≥ {TARGETS[name]:.0f} % | {verdict(share(loads, name) >= TARGETS[name])} |"
            )
            shares = ", ".join(f"{ratio:.1f}" for ratio in throughput.round_shares(name))
            each = f"{each_rps} req/s ({shares} %)"
            rows.append(f"| {label}: each run, in order (% of its round's `/healthz`) | {each} | | |")
        else:
            rows.append(f"| {label}: throughput, median of {count} runs | {load.rps:,.0f} req/s | | |")
            rows.append(f"| {label}: each run, in order | {each_rps} req/s | | |")
        latency = f"{load.p50_ms:.1f} ms / {load.p99_ms:.1f} ms"
        rows.append(f"| {label}: latency p50 / p99, the median run | {latency} | | |")
        rows.append(
            f"| {label}: answers, all {count} runs | {answers_text(runs)} | 0 failed "
            f"| {verdict(not any(run.spoiled for run in runs))} |"
        )
        rows.append(
            f"| {label}: connections per worker, each run | {', '.join(run.split_text for run in runs)} | | |"
        )
        rows.append(f"| {label}: CPU per request, the median run | {cpu_text(load)} | | |")
    for name, trips in (("start", measured.start_trips), ("verify", measured.verify_trips)):
        commands = sum(loads[name].commands.values())
        rows.append(f"| Redis commands per {name} (INFO commandstats) | {commands:.2f} | | |")
        rows.append(
            f"| Redis round trips per {name} | {len(trips)} | ≤ {MAX_ROUND_TRIPS} "
            f"| {verdict(len(trips) <= MAX_ROUND_TRIPS)} |"
        )
    total = measured.vf_bytes + measured.pending_bytes
    rows.append(f"| Redis memory: `vf:{{id}}` hash ({measured.vf_encoding}) | {measured.vf_bytes} B | | |")
    rows.append(
        f"| Redis memory: `dest:{{…}}:pending` set ({measured.pending_encoding}) "
        f"| {measured.pending_bytes} B | | |"
    )
    rows.append(
        f"| Redis memory per pending registration | {total} B | ≤ {MAX_PENDING_BYTES} B "
        f"| {verdict(total <= MAX_PENDING_BYTES)} |"
    )
    return rows


def answers_text(loads: list[Load]) -> str:
    return (
        f"{sum(load.requests for load in loads):,}, {sum(load.non_2xx for load in loads)} non-2xx, "
        f"{sum(sum(load.socket_errors.values()) for load in loads)} socket errors"
    )


def cpu_text(load: Load) -> str:
    """CPU per request of the measured run, by whom, and how busy the machine was."""
    spent = ", ".join(
        f"{CPU_LABELS[whom]} {1000 * seconds / load.requests:.3f} ms" for whom, seconds in load.cpu.items()
    )
    machine = 1000 * sum(load.cpu.values()) / load.requests
    return f"{spent}; the whole machine {machine:.3f} ms, {load.busy:.2f} of {os.cpu_count()} CPUs busy"


def commands_table(loads: dict[str, Load], limits: LimitsComparison) -> list[str]:
    columns = [
        limits.commands(limits.on),
        limits.commands(limits.off),
        loads["verify"].commands,
    ]
    names = sorted(set().union(*columns))
    rows = [
        f"| Redis command | per start, limits on ({len(limits.on)} runs) "
        f"| per start, limits off ({len(limits.off)} runs) | per verify |",
        "|---|---:|---:|---:|",
    ]
    for name in names:
        rows.append(f"| {name.upper()} | " + " | ".join(f"{c.get(name, 0):.2f}" for c in columns) + " |")
    rows.append("| **total** | " + " | ".join(f"**{sum(c.values()):.2f}**" for c in columns) + " |")
    return rows


def targets_list(throughput: Throughput, measured: InProcess) -> list[str]:
    loads = throughput.loads()
    lines = []
    for name, target in TARGETS.items():
        lines.append(
            f"- {name} throughput ≥ {target:.0f} % of `/healthz` (medians of {len(throughput.healthz)} runs "
            f"each): {share(loads, name):.1f} % — **{verdict(share(loads, name) >= target)}**"
        )
    for name in ("healthz", *TARGETS):
        runs = throughput.runs(name)
        lines.append(
            f"- {name}: every answer 2xx, all {len(runs)} runs: {answers_text(runs)} "
            f"— **{verdict(not any(run.spoiled for run in runs))}**"
        )
    for name, trips in (("start", measured.start_trips), ("verify", measured.verify_trips)):
        lines.append(
            f"- Redis round trips per {name} ≤ {MAX_ROUND_TRIPS}: {len(trips)} "
            f"— **{verdict(len(trips) <= MAX_ROUND_TRIPS)}**"
        )
    total = measured.vf_bytes + measured.pending_bytes
    lines.append(
        f"- Redis memory per pending registration ≤ 1 KiB: {total} B "
        f"— **{verdict(total <= MAX_PENDING_BYTES)}**"
    )
    return lines


def limits_table(limits: LimitsComparison) -> list[str]:
    n = len(limits.on)
    on_trips, off_trips = limits.in_on.start_trips, limits.in_off.start_trips

    def runs_text(loads: list[Load]) -> str:
        return "; ".join(f"{load.rps:,.0f} ({load.p50_ms:.1f} / {load.p99_ms:.1f} ms)" for load in loads)

    def median_ms(loads: list[Load]) -> str:
        p50 = limits.median(loads, lambda load: load.p50_ms)
        p99 = limits.median(loads, lambda load: load.p99_ms)
        return f"{p50:.1f} ms / {p99:.1f} ms"

    commands_on, commands_off = limits.commands(limits.on), limits.commands(limits.off)

    def memory_text(measured: InProcess) -> str:
        kept = measured.limit_bytes.items()
        return ", ".join(f"`{LIMITS_PREFIX}:{kind}:…` {size} B" for kind, size in kept) or "none"

    return [
        "| Figure | Limits on | Limits off | Target | Result |",
        "|---|---|---|---|---|",
        f"| Throughput, median of {n} runs | {limits.rps(limits.on):,.0f} req/s | "
        f"{limits.rps(limits.off):,.0f} req/s | | |",
        f"| Cost of the limits: (off − on) / off, medians | {limits.cost:.1f} % "
        f"(each pair: {', '.join(f'{cost:.1f}' for cost in limits.pair_costs)} %) | "
        f"| ≤ {MAX_LIMITS_COST:.0f} % | {verdict(limits.cost <= MAX_LIMITS_COST)} |",
        f"| Latency p50 / p99, medians of {n} runs | {median_ms(limits.on)} | {median_ms(limits.off)} | | |",
        f"| Each run in the order run, alternately on and off: req/s (p50 / p99) "
        f"| {runs_text(limits.on)} | {runs_text(limits.off)} | | |",
        f"| Answers, all {n} runs | {answers_text(limits.on)} | {answers_text(limits.off)} | 0 failed "
        f"| {verdict(not any(load.spoiled for load in limits.runs))} |",
        f"| Connections per worker, each run | {', '.join(load.split_text for load in limits.on)} "
        f"| {', '.join(load.split_text for load in limits.off)} | | |",
        f"| Redis round trips per start (in-process) | {len(on_trips)} | {len(off_trips)} "
        f"| ≤ {MAX_LIMITS_EXTRA_TRIPS} more with the limits | "
        f"{verdict(limits.extra_trips <= MAX_LIMITS_EXTRA_TRIPS)} |",
        f"| Redis round trips per start, as sent | {trips_text(on_trips)} | {trips_text(off_trips)} | | |",
        f"| Redis commands per start (INFO commandstats, all {n} runs) | {sum(commands_on.values()):.2f} "
        f"| {sum(commands_off.values()):.2f} | | |",
        *(
            f"| CPU per start, {label} (all {n} runs) | {limits.cpu_ms(limits.on, whom):.3f} ms "
            f"| {limits.cpu_ms(limits.off, whom):.3f} ms | | |"
            for whom, label in CPU_LABELS.items()
        ),
        f"| CPU per start, the whole machine (all {n} runs) | {limits.cpu_ms(limits.on):.3f} ms "
        f"| {limits.cpu_ms(limits.off):.3f} ms | | |",
        f"| Machine busy during the runs | {limits.busy(limits.on):.2f} of {os.cpu_count()} CPUs "
        f"| {limits.busy(limits.off):.2f} of {os.cpu_count()} CPUs | | |",
        f"| The limits' script (EVALSHA) per start, all {n} runs | {commands_on.get('evalsha', 0):.2f} "
        f"| {commands_off.get('evalsha', 0):.2f} | 1 on, 0 off | {verdict(limits.as_configured)} |",
        f"| Redis memory the limits keep per destination (in-process) | {memory_text(limits.in_on)} "
        f"| {memory_text(limits.in_off)} | | |",
    ]


CPU_LABELS = {
    "service": "gunicorn's workers",
    "redis": "Redis",
    "wrk": "wrk",
    "postgres": "PostgreSQL",
    "bench": "the bench's process",
    "other": "the rest (other processes, kernel)",
}


def limits_targets(limits: LimitsComparison) -> list[str]:
    on, off = len(limits.in_on.start_trips), len(limits.in_off.start_trips)
    answers = sum(load.requests for load in limits.runs)
    failed = sum(load.failed for load in limits.runs)
    trips_ok = limits.extra_trips <= MAX_LIMITS_EXTRA_TRIPS
    return [
        f"- the limits cost at most {MAX_LIMITS_COST:.0f} % of start's throughput: {limits.cost:.1f} % "
        f"({limits.rps(limits.on):,.0f} req/s on, {limits.rps(limits.off):,.0f} off, medians of "
        f"{len(limits.on)} runs each) — **{verdict(limits.cost <= MAX_LIMITS_COST)}**",
        f"- the limits cost at most {MAX_LIMITS_EXTRA_TRIPS} extra Redis round trip per start: "
        f"{limits.extra_trips:+d} ({on} on, {off} off) — **{verdict(trips_ok)}**",
        f"- start with the limits on and off: every answer 2xx ({answers:,} answers, {failed} failed), "
        "and the limits' script ran once per start on, never off "
        f"— **{verdict(not limits.failed)}**",
    ]


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def statuses_text(statuses: Counter) -> str:
    return ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items(), key=str)) or "none"


def slow_gateway_table(slow: SlowGateway) -> list[str]:
    rows = ["| Figure | Measured | Target | Result |", "|---|---|---|---|"]
    for latency, rounds in slow.bursts.items():
        label = f"Burst of {CONNECTIONS} starts, gateway {seconds_text(latency)}"
        slowest = max(rounds, key=lambda b: b.seconds)
        if latency == BURST_LATENCIES[0]:
            target, result = f"≤ {MAX_BURST_SECONDS:g} s", verdict(slowest.seconds <= MAX_BURST_SECONDS)
        else:
            target, result = "", ""
        rows.append(
            f"| {label}: time until all {CONNECTIONS} answered (slowest of {len(rounds)} rounds) "
            f"| {slowest.seconds:.2f} s (rounds: {', '.join(f'{b.seconds:.2f}' for b in rounds)} s; "
            f"first answer after {min(b.fastest for b in rounds):.2f} s) | {target} | {result} |"
        )
        rows.append(
            f"| {label}: answers | {statuses_text(sum((b.statuses for b in rounds), Counter()))} "
            f"| all 202 | {verdict(all(b.ok for b in rounds))} |"
        )
        rows.append(
            f"| {label}: connections per worker, each round "
            f"| {', '.join(' / '.join(map(str, b.split)) or '?' for b in rounds)} | | |"
        )
        rows.append(
            f"| {label}: gateway messages / 202 answers / registrations made "
            f"| {sum(b.messages for b in rounds)} / {sum(b.accepted for b in rounds)} "
            f"/ {sum(b.made for b in rounds)} | equal | {verdict(all(b.counted for b in rounds))} |"
        )
    load = slow.sustained
    label = f"Start, wrk -c{CONNECTIONS}, gateway {seconds_text(SUSTAINED_LATENCY)}"
    rows.append(
        f"| {label}: throughput | {load.rps:,.0f} req/s = {100 * load.rps / slow.ceiling:.1f} % of the "
        f"{slow.ceiling:.0f} req/s ceiling ({CONNECTIONS} / {SUSTAINED_LATENCY:g} s) | | |"
    )
    rows.append(f"| {label}: latency p50 / p99 | {load.p50_ms:.1f} ms / {load.p99_ms:.1f} ms | | |")
    rows.append(
        f"| {label}: answers | {load.requests:,}, {load.non_2xx} non-2xx, "
        f"{sum(load.socket_errors.values())} socket errors | 0 failed "
        f"| {verdict(load.failed == 0 and set(load.statuses) <= {202})} |"
    )
    rows.append(f"| {label}: connections per worker | {load.split_text} | | |")
    rows.append(
        f"| {label}: gateway messages / 202 answers / registrations made, all {len(load.runs)} wrk runs "
        f"| {slow.sustained_messages:,} / {slow.answered_202:,} (+ {slow.unanswered} requests wrk "
        f"abandoned when it stopped) / {slow.sustained_made:,} "
        "| messages = registrations; 202 answers ≤ messages ≤ 202 answers + abandoned "
        f"| {verdict(slow.sustained_counted)} |"
    )
    rejected = ", ".join(f"{count} ({reason})" for reason, count in slow.rejected.items()) or "0"
    rows.append(
        f"| Gateway: messages refused / numbers messaged twice | {rejected} / {slow.duplicates} | 0 / 0 "
        f"| {verdict(not slow.rejected and not slow.duplicates)} |"
    )
    return rows


def slow_gateway_targets(slow: SlowGateway) -> list[str]:
    slowest = slow.slowest_burst
    answers = Counter()
    for b in slow.all_bursts:
        answers += b.statuses
    every_202 = all(b.ok for b in slow.all_bursts) and slow.sustained.failed == 0
    every_202 = every_202 and set(slow.sustained.statuses) <= {202}
    counted = all(b.counted for b in slow.all_bursts) and slow.sustained_counted
    counted = counted and not slow.rejected and not slow.duplicates
    return [
        f"- {CONNECTIONS} concurrent starts with the gateway at {seconds_text(BURST_LATENCIES[0])} answered "
        f"within {MAX_BURST_SECONDS:g} s: {slowest.seconds:.2f} s (slowest round) "
        f"— **{verdict(slowest.seconds <= MAX_BURST_SECONDS)}**",
        f"- slow gateway: every start answered 202: bursts {statuses_text(answers)}; wrk "
        f"{slow.sustained.non_2xx} non-2xx, {sum(slow.sustained.socket_errors.values())} socket errors "
        f"— **{verdict(every_202)}**",
        "- slow gateway: one message per 202 answer, none refused or repeated: "
        f"bursts {sum(b.messages for b in slow.all_bursts)} messages for "
        f"{sum(b.accepted for b in slow.all_bursts)} answers; wrk {slow.sustained_messages:,} messages for "
        f"{slow.answered_202:,} answers + {slow.unanswered} abandoned — **{verdict(counted)}**",
    ]


def webhook_table(hooks: WebhookRun) -> list[str]:
    span = hooks.last_delivery - hooks.first_delivery
    cpu = hooks.cpu
    latencies = hooks.latencies
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    log_text = ", ".join(
        f"{count:,} {status} after {attempts} attempt{'s' if attempts != 1 else ''}"
        for (status, attempts), count in sorted(hooks.deliveries.items())
    )
    return [
        "| Figure | Measured | Target | Result |",
        "|---|---|---|---|",
        f"| Throughput: deliveries per second, first to last delivery | {hooks.per_second:,.0f}/s "
        f"({len(hooks.drained):,} deliveries in {span:.2f} s) | ≥ {MIN_DELIVERIES_PER_SECOND}/s "
        f"| {verdict(hooks.per_second >= MIN_DELIVERIES_PER_SECOND)} |",
        f"| Throughput: worker start to first / last delivery "
        f"| {hooks.first_delivery - hooks.worker_started:.2f} s / "
        f"{hooks.last_delivery - hooks.worker_started:.2f} s | | |",
        f"| Throughput: CPU from first to last delivery, in CPUs | worker {cpu.worker:.2f}, receiver "
        f"(bench process) {cpu.receiver:.2f}, PostgreSQL {cpu.postgres:.2f}; machine "
        f"{100 * cpu.machine:.0f} % busy | | |",
        f"| Throughput: TCP connections the worker opened to the receiver "
        f"| {hooks.drain_connections:,} for {len(hooks.drained):,} requests | | |",
        f"| Throughput: writing the {hooks.events:,} events first (one `outbox.failed` each) "
        f"| {hooks.write_seconds:.1f} s ({1000 * hooks.write_seconds / hooks.events:.2f} ms per event) | | |",
        f"| Commit to delivery, {len(latencies)} events at {hooks.latency_rate:g}/s: p50 / p99 "
        f"| {1000 * p50:.0f} ms / {1000 * p99:.0f} ms (min {1000 * min(latencies, default=math.nan):.0f} ms, "
        f"max {1000 * max(latencies, default=math.nan):.0f} ms) | p50 < {MAX_DELIVERY_P50:g} s "
        f"| {verdict(p50 < MAX_DELIVERY_P50)} |",
        f"| Requests at the receiver / events written | {len(hooks.all_arrivals):,} / {hooks.expected:,} "
        "| equal | " + verdict(len(hooks.all_arrivals) == hooks.expected) + " |",
        f"| Requests not verified / webhook-ids received twice / for no event written "
        f"| {hooks.unverified} / {hooks.duplicates} / {len(hooks.unexpected)} | 0 / 0 / 0 "
        f"| {verdict(not (hooks.unverified or hooks.duplicates or hooks.unexpected))} |",
        f"| Delivery log afterwards | {log_text or 'empty'} | {hooks.expected:,} succeeded after 1 attempt "
        f"| {verdict(hooks.deliveries == {(SUCCEEDED, 1): hooks.expected})} |",
        f"| Worker stopped by SIGTERM | exit status {hooks.returncode}, after {hooks.stop_seconds:.2f} s "
        f"| 0 | {verdict(hooks.stopped_cleanly)} |",
    ]


def webhook_targets(hooks: WebhookRun) -> list[str]:
    p50 = percentile(hooks.latencies, 0.50)
    return [
        f"- webhooks: deliveries per second, one worker ≥ {MIN_DELIVERIES_PER_SECOND}: "
        f"{hooks.per_second:,.0f} — **{verdict(hooks.per_second >= MIN_DELIVERIES_PER_SECOND)}**",
        f"- webhooks: commit to delivery p50 < {MAX_DELIVERY_P50:g} s: {1000 * p50:.0f} ms "
        f"— **{verdict(p50 < MAX_DELIVERY_P50)}**",
        f"- webhooks: every event delivered once, signed: {len(hooks.all_arrivals):,} requests for "
        f"{hooks.expected:,} events, {hooks.unverified} not verified, {hooks.duplicates} repeated "
        f"— **{verdict(hooks.complete)}**",
    ]


def webhook_notes(hooks: WebhookRun) -> list[str]:
    return [
        f"- Webhooks: before the endpoint was made, the {hooks.backlog:,} onRegistered events the "
        "earlier scenarios wrote (one per verify) were fanned out in-process by the worker's own "
        "`fan_out` while no endpoint existed, as a worker running beside them would have done: "
        "they have no delivery, and the bench's endpoint gets only the bench's events.",
        f"- Webhooks, commit to delivery: the {hooks.latency_events} events were written on a "
        f"{hooks.latency_rate:g}/s schedule and took {hooks.latency_written_in:.2f} s "
        f"(planned {hooks.latency_events / hooks.latency_rate:.2f} s).",
    ]


def server_log_problems(path: Path) -> list[str]:
    return [line for line in path.read_text(errors="replace").splitlines() if LOG_PROBLEM.search(line)]


def notes(
    throughput: Throughput,
    measured: InProcess,
    slow: SlowGateway,
    hooks: WebhookRun,
    problems: dict[str, list[str]],
) -> list[str]:
    limits = throughput.limits
    lines = [
        f"- Round trips, as sent on the connection (limits on): start {trips_text(measured.start_trips)}; "
        f"verify {trips_text(measured.verify_trips)}. With the limits off: start "
        f"{trips_text(limits.in_off.start_trips)}.",
        f"- On a new connection the first start took {len(measured.cold_start_trips)} round trips "
        f"({trips_text(measured.cold_start_trips)}) and the first verify "
        f"{len(measured.cold_verify_trips)}; the table shows a connection in use. An idle "
        "connection also PINGs before its next command after 30 s (`health_check_interval`).",
        "- Commands per request count every command Redis ran, those a Lua script ran included "
        "(verify's HMGET and HSET; the limits' GET, PTTL, SET, INCR and PEXPIRE), over the "
        "measured run divided by the answers in it.",
        f"- Limits: every start comes from 127.0.0.1 with sequential Saudi numbers, which the "
        "defaults would refuse within seconds (20 starts a minute per IP, 20 SMS an hour per "
        "number prefix, 1,000 per country). So every server and in-process app of this run, the "
        f"slow-gateway one included, has `RATE_LIMIT_REGISTER={GENEROUS_LIMITS['RATE_LIMIT_REGISTER']}`"
        f" and `MAX_CODES_PER_DESTINATION`, `SMS_PREFIX_HOURLY_LIMIT` and "
        f"`SMS_COUNTRY_HOURLY_LIMIT` at {int(NEVER):,}: none trips, and every one is checked and "
        f"taken on every start. `RESEND_COOLDOWN` is {GENEROUS_LIMITS['RESEND_COOLDOWN']} s (its "
        "default) rather than 0, which would skip the cooldown's PTTL and SET; no destination gets "
        "two codes in the run, so it never trips. The limits-off server differs only in "
        "`RATE_LIMITS_ENABLED=false`; both run the throughput settings (`--threads "
        f"{THROUGHPUT_THREADS} --worker-connections {CONNECTIONS // WORKERS}`) at once, and wrk "
        "drives one at a time, alternately.",
        "- wrk opens its connections at once and keeps them. Without a cap on connections per "
        "worker, one worker often accepts all of them while the other idles, which halves "
        "throughput; with the cap the split is even. A run on one worker anyway is measured "
        "again with new connections (up to `--attempts`); the connections-per-worker rows show "
        "the split of each run reported. The slow-gateway server has no cap (production "
        f"settings), so its wrk run is also measured again when a worker holds more than its "
        f"{PRODUCTION_THREADS} threads' worth of connections: wrk keeps the split of its first "
        "second for the whole run, and the connections beyond a worker's threads would queue "
        "for all of it, which many short-lived client connections would not.",
    ]
    extra = {whom: limits.cpu_ms(limits.on, whom) - limits.cpu_ms(limits.off, whom) for whom in CPU_LABELS}
    machine_on, machine_off = limits.cpu_ms(limits.on), limits.cpu_ms(limits.off)
    lines.append(
        "- Where the limits' cost goes, as CPU per start (limits on − off, all runs): "
        + ", ".join(f"{CPU_LABELS[whom]} {ms * 1000:+.0f} µs" for whom, ms in extra.items())
        + f"; the whole machine {(machine_on - machine_off) * 1000:+.0f} µs, "
        f"{100 * (machine_on / machine_off - 1):+.1f} % of its {machine_off * 1000:.0f} µs without them. "
        f"With the machine's CPUs busy ({limits.busy(limits.on):.2f} and {limits.busy(limits.off):.2f} "
        f"of {os.cpu_count()}), start's throughput follows its CPU per request."
    )
    for load in [*throughput.all_runs, slow.sustained]:
        for discarded in load.discarded:
            lines.append(
                f"  - discarded: {discarded.name} with connections per worker {discarded.split_text}: "
                f"{discarded.rps:,.0f} req/s, p50 {discarded.p50_ms:.1f} ms, p99 {discarded.p99_ms:.1f} ms"
            )
        if load.uneven:
            lines.append(
                f"  - **{load.name} split unevenly ({load.split_text}) in every attempt**: "
                "its figures understate."
            )
    warmup = slow.warmup
    lines += [
        f"- Slow gateway: a burst's time runs from the release of its {CONNECTIONS} threads (each "
        "opens its own connection and sends one start) to the last answer; the connections per "
        "worker are read halfway through the gateway's latency. Both workers wait on the one "
        "listening socket and whichever is first accepts a connection, without a cap (the "
        "production settings leave worker_connections at 1000), so a worker may get most of a "
        f"burst. It serves up to {PRODUCTION_THREADS} starts at once and queues the others, so a "
        f"burst of {CONNECTIONS} takes one gateway latency whatever the split, as long as no "
        f"worker gets more than {PRODUCTION_THREADS}. Before the measured bursts one warm-up burst (gateway "
        f"{seconds_text(warmup.latency)}) opened the workers' Redis and gateway connections: "
        f"{warmup.seconds:.2f} s, {statuses_text(warmup.statuses)}, connections per worker "
        f"{' / '.join(map(str, warmup.split)) or '?'}.",
        "- Slow gateway, wrk: wrk stops with requests in flight and never reads their answers, "
        "but the service finishes them and sends their messages; so the gateway's count is "
        "checked against the registrations the service wrote to Redis (exactly equal), and "
        "against the 202 answers wrk read plus the requests it abandoned.",
        *webhook_notes(hooks),
    ]
    busy = [load for load in [*throughput.all_runs, slow.sustained] if load.other_cpus > MAX_OTHER_CPUS]
    if busy:
        lines.append(
            "- **The machine was busy outside the bench** (CPUs in use by other processes and the "
            "kernel, beyond gunicorn, Redis, PostgreSQL, wrk and this process) during "
            + ", ".join(f"{load.name} ({load.other_cpus:.2f})" for load in busy)
            + f": above {MAX_OTHER_CPUS:g}, those runs' figures understate."
        )
    for load in [*throughput.all_runs, slow.sustained]:
        foreign = {name: round(load.commands.get(name, 0) * load.requests) for name in FOREIGN}
        if any(foreign.values()):
            lines.append(
                f"- **Another client used Redis during {load.name}**: "
                + ", ".join(f"{count} × {name.upper()}" for name, count in foreign.items() if count)
                + " (no request of the bench sends these). Its commands per request include that "
                "client's, and its throughput may be low: the machine was not quiet."
            )
    for name, found in problems.items():
        lines.append(f"- The log bench/out/{name} has {len(found)} warning or error lines.")
        lines += [f"  - `{line[:200]}`" for line in found[:5]]
    return lines


def report(
    throughput: Throughput,
    measured: InProcess,
    slow: SlowGateway,
    hooks: WebhookRun,
    problems: dict[str, list[str]],
    options: argparse.Namespace,
    started_at: datetime.datetime,
    software: str,
    load_average: float,
) -> str:
    host = machine()
    limits, loads = throughput.limits, throughput.loads()
    return "\n".join(
        [
            "# Registrar benchmark",
            "",
            "What it measures:",
            "",
            "- The service as production runs it: gunicorn with config/gunicorn.conf.py, the "
            "machine's Redis (database 2, flushed first) and PostgreSQL (a schema of its own, "
            "migrated, dropped after).",
            f"- Throughput (`/healthz`, start, verify) on the configuration issue #2 specifies, "
            f"{WORKERS} workers × {THROUGHPUT_THREADS} gthread threads: config/gunicorn.conf.py "
            f"defaults to {PRODUCTION_THREADS} threads (for slow channels, below), so these runs "
            f"add `--threads {THROUGHPUT_THREADS}`, and `--worker-connections "
            f"{CONNECTIONS // WORKERS}` so that "
            f"wrk's {CONNECTIONS} connections, opened all at once, split evenly between the workers "
            "instead of racing to one. The cap needs the 4 threads: gthread keeps a connection "
            "alive only while fewer than worker_connections − threads are idle in keep-alive, so "
            f"{PRODUCTION_THREADS} threads with a cap of 16 would close every connection after one answer.",
            f"- Load from wrk -t1 -c{CONNECTIONS} --latency: {options.warmup} s of warm-up, then "
            f"{options.duration} s measured per run. `GET /healthz` is the floor; start "
            "(`POST /auth/register`) registers a different Saudi mobile number per request; "
            "verify (`POST /auth/register/{id}/verify`) sends the right code to registrations "
            f"made just before it ({options.registrations:,} per round) through the service's own "
            "start path, so each one creates an account in PostgreSQL and issues its tokens.",
            f"- The scenarios are measured in {options.rounds} rounds, one after the other: "
            "`/healthz`, start with the limits on, start with them off, verify. A shared machine's "
            "speed drifts over minutes, and a floor measured only at the beginning would compare "
            "runs made at different speeds; in rounds, each scenario meets the drift as the floor "
            "does. Each figure is its scenario's run at the median, and each share of `/healthz` "
            "is the ratio of those medians (the table also gives every run and every round's ratio).",
            "- The limits (issue #5) are on, with values that never trip (see the notes), in "
            "every scenario but one: start is measured on two servers that differ only in "
            "`RATE_LIMITS_ENABLED`, in each round with the limits on and then off, each run with "
            "its own warm-up; the start figures in the first table are the limits-on run at the median.",
            "- Redis commands per request from INFO commandstats around each measured run; Redis "
            "round trips per start and per verify counted on redis-py's connection in-process "
            "(start on an app with the limits on and on one with them off); "
            "Redis memory of one pending registration with MEMORY USAGE (all samples).",
            "- Start with a slow SMS gateway (issue #3): a second gunicorn with config/gunicorn.conf.py "
            f"as it is ({WORKERS} workers × {PRODUCTION_THREADS} gthread threads, nothing overridden), "
            "`SMS_CHANNEL=http` pointed at a local gateway in the benchmark's process that answers "
            f"each message after a set latency. Bursts: {CONNECTIONS} starts released together, "
            f"each on its own new connection, {options.bursts} rounds with the gateway at "
            f"{' and '.join(seconds_text(latency) for latency in BURST_LATENCIES)}; then wrk "
            f"-c{CONNECTIONS} on start with the gateway at {seconds_text(SUSTAINED_LATENCY)}, "
            f"{options.warmup} s of warm-up and {options.duration} s measured.",
            "- Webhook delivery (issue #4): one endpoint for both event types, made with the admin "
            "service, at a receiver in the benchmark's process that verifies every request with "
            "`standardwebhooks` and answers 200 at once. Throughput: "
            f"{options.webhook_events:,} onRegistrationFailed events written with the outbox "
            "(`outbox.failed`, one transaction each), then one worker started as production "
            "starts it (`python -m app worker`, `WEBHOOK_ALLOW_PRIVATE_URLS=true`), timed from "
            "the first delivery to the last. Commit to delivery: with that worker idle, events "
            f"written one at a time at {options.webhook_rate:g}/s for {options.webhook_seconds:g} s, "
            "from the return of `outbox.failed` (the commit) to the request's arrival.",
            "- wrk, gunicorn, the worker, Redis, PostgreSQL, the gateway and the receiver share "
            "the machine's CPUs.",
            "",
            "Command: `make bench`",
            "",
            f"Date: {started_at:%Y-%m-%d %H:%M} UTC",
            "",
            f"Machine: {host['nproc']} CPUs (nproc), {host['cpu']}; {software}; load average "
            f"{load_average:.2f} (1 min) when the run began",
            "",
            f"Code: {code_version()}",
            "",
            "## Figures",
            "",
            *figures_table(throughput, measured),
            "",
            "## Start with and without the limits",
            "",
            *limits_table(limits),
            "",
            "## Start with a slow SMS gateway",
            "",
            f"Gateway latency: {seconds_text(BURST_LATENCIES[0])} per message for the target burst, "
            f"{seconds_text(SUSTAINED_LATENCY)} for the other burst and for wrk (issue #3's scenario).",
            "",
            *slow_gateway_table(slow),
            "",
            "## Webhook delivery (one worker)",
            "",
            *webhook_table(hooks),
            "",
            "## Redis commands per request",
            "",
            *commands_table(loads, limits),
            "",
            "## Targets",
            "",
            *targets_list(throughput, measured),
            *limits_targets(limits),
            *slow_gateway_targets(slow),
            *webhook_targets(hooks),
            "",
            "## Notes",
            "",
            *notes(throughput, measured, slow, hooks, problems),
            "",
        ]
    )


# --- the run -------------------------------------------------------------------------------


def run(options: argparse.Namespace) -> int:
    started_at = datetime.datetime.now(datetime.UTC)
    load_average = os.getloadavg()[0]
    if load_average > 1.0:
        log.warning("load average %.2f: the machine is not quiet, the figures will show it", load_average)
    ensure_services()
    OUT.mkdir(exist_ok=True)
    for stale in OUT.glob("wrk-*.txt"):
        stale.unlink()
    server_log = OUT / "server.log"
    off_log = OUT / "server-limits-off.log"
    slow_log = OUT / "server-slow-sms.log"
    worker_log = OUT / "worker.log"
    with (
        bench_redis() as client,
        bench_database() as database_url,
        tempfile.TemporaryDirectory(prefix="registrar-bench-") as instance,
    ):
        environment = {
            "SECRET_KEY": SECRET_KEY,
            "REDIS_URL": REDIS_URL,
            "DATABASE_URL": database_url,
            "INSTANCE_PATH": instance,
            **GENEROUS_LIMITS,
        }
        software = versions(client, database_url)
        with gunicorn(environment, server_log, THROUGHPUT_SETTINGS) as server:
            log.info("gunicorn answers at %s; its log: %s", server.url, server_log.relative_to(ROOT))
            # The same gunicorn settings and environment, but RATE_LIMITS_ENABLED=false.
            with gunicorn({**environment, **LIMITS_OFF}, off_log, THROUGHPUT_SETTINGS) as unlimited:
                log.info("limits off: gunicorn answers at %s; its log: %s", unlimited.url, off_log.name)
                log.info(
                    "%d rounds of /healthz, start with the limits on and off, and verify "
                    "(%d registrations made before each): %d s warm-up, %d s measured each",
                    options.rounds,
                    options.registrations,
                    options.warmup,
                    options.duration,
                )
                throughput = throughput_rounds(server, unlimited, client, environment, options)
        limits = throughput.limits
        log.info("round trips and memory, in-process, limits on and off")
        measured = limits.in_on = in_process(environment, client, IN_PROCESS_FIRST)
        limits.in_off = in_process({**environment, **LIMITS_OFF}, client, IN_PROCESS_FIRST + 2)
        log.info(
            "Redis round trips per start: %d with the limits on, %d off",
            len(limits.in_on.start_trips),
            len(limits.in_off.start_trips),
        )
        log.info("start with a slow SMS gateway, on the production settings")
        client.flushdb()  # the registrations counted against the gateway's messages are its own
        slow = slow_gateway(environment, client, slow_log, options)
        log.info("webhook delivery, one worker")
        hooks = webhook_delivery(environment, worker_log, options)
        log.info(
            "webhooks: %.0f deliveries/s; commit to delivery p50 %.0f ms, p99 %.0f ms",
            hooks.per_second,
            1000 * percentile(hooks.latencies, 0.50),
            1000 * percentile(hooks.latencies, 0.99),
        )
    problems = {path.name: server_log_problems(path) for path in (server_log, off_log, slow_log, worker_log)}
    markdown = report(
        throughput, measured, slow, hooks, problems, options, started_at, software, load_average
    )
    RESULTS.write_text(markdown)
    print(markdown)
    log.info("wrote %s", RESULTS.relative_to(ROOT))
    for load in throughput.all_runs:
        if load.ran_out:
            log.error("%s ran out of registrations: raise --registrations", load.name)
        if load.failed:
            log.error(
                "%s: %d non-2xx answers %s, socket errors %s",
                load.name,
                load.non_2xx,
                load.statuses,
                load.socket_errors,
            )
    if not limits.as_configured:
        log.error(
            "the limits did not run as configured: EVALSHA per start %.2f on, %.2f off; "
            "round trips on %s, off %s",
            limits.commands(limits.on).get("evalsha", 0),
            limits.commands(limits.off).get("evalsha", 0),
            trips_text(limits.in_on.start_trips),
            trips_text(limits.in_off.start_trips),
        )
    if slow.failed:
        log.error(
            "slow gateway: a start failed or the gateway's count disagrees with the answers; "
            "see the table and bench/out/%s",
            slow_log.name,
        )
    if not hooks.complete:
        log.error(
            "webhooks: %d requests for %d events, %d not verified, %d repeated, %d for no event "
            "written, delivery log %s",
            len(hooks.all_arrivals),
            hooks.expected,
            hooks.unverified,
            hooks.duplicates,
            len(hooks.unexpected),
            hooks.deliveries,
        )
    if not hooks.stopped_cleanly:
        log.error(
            "webhook worker exited with %s on SIGTERM; see bench/out/%s", hooks.returncode, worker_log.name
        )
    failed = slow.failed or hooks.failed or limits.failed
    failed = failed or any(load.spoiled for load in throughput.all_runs)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per scenario (10)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per scenario (2)")
    parser.add_argument(
        "--registrations",
        type=int,
        default=15_000,
        help="registrations made for verify before each round's verify run (15000)",
    )
    parser.add_argument(
        "--attempts",
        type=int,
        default=3,
        help="measured runs allowed per scenario when one worker gets all (3)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds of /healthz, start with the limits on and off, and verify (3)",
    )
    parser.add_argument(
        "--bursts", type=int, default=3, help="rounds per gateway latency of the concurrent-start burst (3)"
    )
    parser.add_argument(
        "--webhook-events", type=int, default=3_000, help="events written before the worker starts (3000)"
    )
    parser.add_argument(
        "--webhook-rate", type=float, default=20, help="events/s written for commit to delivery (20)"
    )
    parser.add_argument(
        "--webhook-seconds", type=float, default=10, help="seconds of events for commit to delivery (10)"
    )
    parser.add_argument(
        "--webhook-timeout", type=int, default=120, help="seconds allowed for the worker to drain (120)"
    )
    parser.add_argument("--time-limit", type=int, default=480, help="stop and clean up after this (480 s)")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("registrar.access").setLevel(logging.WARNING)  # a line per in-process request
    if shutil.which("wrk") is None:
        log.error("wrk is not installed: install it with `apt-get install -y wrk` and run again")
        return 2

    def stop(signum, _frame):
        raise BenchFailed(f"stopped by signal {signal.Signals(signum).name}; cleaning up")

    # Either raises in the main thread, so the context managers in run() clean up.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGALRM, stop)
    signal.alarm(options.time_limit)
    try:
        return run(options)
    except BenchFailed as error:
        log.error("%s", error)
        return 1
    finally:
        signal.alarm(0)


if __name__ == "__main__":
    sys.exit(main())
