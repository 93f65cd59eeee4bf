"""The machine's Redis and PostgreSQL, the service's processes, and the CPU each one uses."""

import contextlib
import functools
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import redis
from sqlalchemy import create_engine, text

from app.db import make_engine, upgrade
from bench.settings import POSTGRES_URL, REDIS_URL, ROOT
from tests.servers import free_port

log = logging.getLogger("bench")


class BenchFailed(Exception):
    """The run cannot go on; the message says why."""


def redis_answers() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def postgres_answers() -> bool:
    engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        engine.dispose()


def wait_until(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
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
                *("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379"),
                *("--save", "", "--appendonly", "no"),
            ],
            check=True,
        )
        wait_until(redis_answers, "Redis")
    if not postgres_answers():
        log.info("PostgreSQL is not answering: starting its cluster")
        for version in sorted(os.listdir("/etc/postgresql")):
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=True
            )
        wait_until(postgres_answers, "PostgreSQL")


@contextlib.contextmanager
def bench_database() -> Iterator[str]:
    """The URL of a migrated schema of the bench's own (named in the URL, as the tests do);
    dropped after."""
    schema = f"bench_{secrets.token_hex(4)}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = f"{POSTGRES_URL}?options={quote(f'-csearch_path={schema}')}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def bench_redis() -> Iterator[redis.Redis]:
    """The bench's Redis database, flushed before and after."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def clean_environment(settings: dict[str, str]) -> dict[str, str]:
    """`settings` and only what a shell needs: a stray WEB_CONCURRENCY or service setting in
    the caller's environment would change what is measured."""
    inherited = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    return {**{name: os.environ[name] for name in inherited if name in os.environ}, **settings}


@contextlib.contextmanager
def child(command: list[str], settings: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """A process of the service, its output in `log_path`; SIGTERM when done, SIGKILL after 20 s."""
    with open(log_path, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env=clean_environment(settings),
            stdout=output,
            stderr=output,
            start_new_session=True,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    pid: int  # gunicorn's master

    def processes(self) -> list[int]:
        """The master and its workers."""
        return [self.pid, *child_pids(self.pid)]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def gunicorn(settings: dict[str, str], log_path: Path, options: tuple[str, ...] = ()) -> Iterator[Server]:
    """The service as production starts it (`gunicorn -c config/gunicorn.conf.py wsgi:app`),
    with the environment `settings` and `options` added to the command."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = ["-m", "gunicorn", "-c", "config/gunicorn.conf.py", *options, "wsgi:app"]
    with child(command, {**settings, "PORT": str(port), "BIND_HOST": "127.0.0.1"}, log_path) as process:
        deadline = time.monotonic() + 30
        while not healthy(url):
            if process.poll() is not None:
                raise BenchFailed(f"gunicorn exited with {process.returncode}; see {log_path}")
            if time.monotonic() > deadline:
                raise BenchFailed(f"gunicorn did not answer /healthz within 30 s; see {log_path}")
            time.sleep(0.2)
        log.info("gunicorn answers at %s; its log: bench/out/%s", url, log_path.name)
        yield Server(url, port, process.pid)


def connections_per_worker(server: Server) -> list[int]:
    """How many established client connections each gunicorn worker holds, most first: the
    server port's sockets in /proc/net/tcp, matched by inode against each worker's files."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port, state, inode = int(fields[1].rsplit(":", 1)[1], 16), fields[3], fields[9]
        if local_port == server.port and state == "01":
            inodes.add(f"socket:[{inode}]")
    counts = []
    for pid in child_pids(server.pid):
        with contextlib.suppress(OSError):
            counts.append(sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd) in inodes))
    return sorted(counts, reverse=True)


# --- CPU, from /proc ---------------------------------------------------------------------------


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command's name."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 if it is gone)."""
    try:
        fields = _stat(pid)
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _pids() -> Iterator[int]:
    return (int(name) for name in os.listdir("/proc") if name.isdigit())


def child_pids(parent: int) -> list[int]:
    """The processes whose parent is `parent` (gunicorn's workers, for its master)."""
    pids = []
    for pid in _pids():
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(_stat(pid)[1]) == parent:
                pids.append(pid)
    return pids


def postgres_pids() -> list[int]:
    pids = []
    for pid in _pids():
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == "postgres":
                pids.append(pid)
    return pids


@functools.cache
def redis_pid() -> int:
    """The redis-server at REDIS_URL (the tests may run others)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.info("server")["process_id"])
    finally:
        client.close()


def machine_busy() -> float:
    """Busy CPU-seconds of all the machine's CPUs since boot, from /proc/stat."""
    values = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds used so far, by process, for named groups of processes; by this process
    (`bench`: the gateway and the receiver run in it); by its children that have exited
    (`wrk`, the only one to exit during a measured span); and by the whole machine."""

    at: float  # time.monotonic()
    groups: dict[str, dict[int, float]]
    machine: float

    @classmethod
    def read(cls, groups: dict[str, list[int]]) -> "CpuClock":
        """Now, for `groups` as they are now: a later reading counts the processes started in
        between from their start."""
        children = os.times()
        taken = {name: {pid: cpu_seconds(pid) for pid in pids} for name, pids in groups.items()}
        taken["wrk"] = {0: children.children_user + children.children_system}
        taken["bench"] = {0: time.process_time()}
        return cls(time.monotonic(), taken, machine_busy())

    def until(self, later: "CpuClock") -> dict[str, float]:
        """CPU seconds each group used since this reading. `other` is the machine's busy time
        that none of them accounts for: other processes, and the kernel's own work (loopback
        networking in softirqs, mostly). A process gone in between counts as `other`."""
        spent = {
            name: sum(seconds - self.groups[name].get(pid, 0.0) for pid, seconds in pids.items())
            for name, pids in later.groups.items()
        }
        spent["other"] = later.machine - self.machine - sum(spent.values())
        return spent


def service_groups(server: Server) -> dict[str, list[int]]:
    """The processes a request to `server` involves."""
    return {"service": server.processes(), "redis": [redis_pid()], "postgres": postgres_pids()}
