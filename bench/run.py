"""`make bench`: the service under load as production runs it, figures in bench/RESULTS.md.

What is measured, and how: bench/README.md. Exit status 1 when a request failed, the limits
did not run as configured, the SMS gateway's messages disagree with the answers, a webhook was
lost, repeated or not verified, the worker did not stop cleanly, or the run could not finish;
a missed target alone does not fail it.
"""

import argparse
import datetime
import logging
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[0] = str(ROOT)  # run as a script from bench/: its modules are bench.*, beside the service

import redis  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from bench.inprocess import in_process  # noqa: E402
from bench.processes import BenchFailed, bench_database, bench_redis, ensure_services, gunicorn  # noqa: E402
from bench.report import RunInfo, report, targets  # noqa: E402
from bench.settings import (  # noqa: E402
    GENEROUS_LIMITS,
    IN_PROCESS_FIRST,
    LIMITS_OFF,
    OUT,
    REDIS_URL,
    SECRET_KEY,
    THROUGHPUT_SETTINGS,
    http_channel,
)
from bench.slow_gateway import slow_gateway  # noqa: E402
from bench.throughput import Rounds, Servers, measure_rounds  # noqa: E402
from bench.webhooks import webhook_delivery  # noqa: E402
from tests.servers import Gateway  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"

log = logging.getLogger("bench")


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        "unknown",
    )
    return f"{len(os.sched_getaffinity(0))} CPUs (nproc), {model}"


def software(client: redis.Redis, database_url: str) -> str:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        postgres = connection.execute(text("SHOW server_version")).scalar().split()[0]
    engine.dispose()
    banner = subprocess.run([sys.executable, "-m", "gunicorn", "--version"], capture_output=True, text=True)
    gunicorn_version = re.search(r"\d[\d.]*", banner.stdout)
    gunicorn_version = gunicorn_version.group() if gunicorn_version else "?"
    return (
        f"Python {platform.python_version()}, gunicorn {gunicorn_version}, "
        f"Redis {client.info('server')['redis_version']}, PostgreSQL {postgres}, redis-py {redis.__version__}"
    )


def code_version() -> str:
    """The commit measured, and which of the service's files differed from it."""
    git = ["git", "-C", str(ROOT)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    service = ["app", "config", "wsgi.py", "requirements.txt"]
    changed = subprocess.run([*git, "status", "--porcelain", "--", *service], capture_output=True, text=True)
    files = [line[3:] for line in changed.stdout.splitlines()]
    return f"commit {commit or '?'}" + (f" with uncommitted changes to {', '.join(files)}" if files else "")


def run(options: argparse.Namespace) -> int:
    started_at = datetime.datetime.now(datetime.UTC)
    load_average = os.getloadavg()[0]
    if load_average > 1.0:
        log.warning("load average %.2f: the machine is not quiet, the figures will show it", load_average)
    ensure_services()
    OUT.mkdir(exist_ok=True)
    for stale in [*OUT.glob("*.txt"), *OUT.glob("*.log")]:
        stale.unlink()
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
        versions = software(client, database_url)
        gateway = Gateway(keep_alive=True)  # answers at once: the fast gateway
        try:
            with (
                gunicorn(environment, OUT / "server.log", THROUGHPUT_SETTINGS) as on,
                gunicorn(
                    {**environment, **LIMITS_OFF}, OUT / "server-limits-off.log", THROUGHPUT_SETTINGS
                ) as off,
                gunicorn(
                    {**environment, **http_channel(gateway.url)},
                    OUT / "server-http-sms.log",
                    THROUGHPUT_SETTINGS,
                ) as http,
            ):
                rounds: Rounds = measure_rounds(Servers(on, off, http), client, gateway, options)
            log.info("Redis round trips and memory, in-process, with the limits on and off")
            client.flushdb()
            rounds.in_on = in_process(environment, client, gateway, IN_PROCESS_FIRST)
            rounds.in_off = in_process({**environment, **LIMITS_OFF}, client, gateway, IN_PROCESS_FIRST + 2)
        finally:
            gateway.stop()
        log.info("start with a slow SMS gateway, on the production settings")
        slow = slow_gateway(environment, client, options)
        log.info("webhook delivery, one worker")
        hooks = webhook_delivery(environment, options)
    verdicts = targets(rounds, slow, hooks)
    info = RunInfo(started_at, load_average, machine(), versions, code_version())
    markdown = report(info, rounds, slow, hooks, verdicts, OUT)
    RESULTS.write_text(markdown)
    print(markdown)
    for target in verdicts:
        if not target.ok:
            log.warning("MISS: %s: %s (%s)", target.what, target.measured, target.required)
    log.info("wrote bench/RESULTS.md")
    return 1 if rounds.failed or slow.failed or hooks.failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for flag, default, help_text in (
        ("--duration", 10, "seconds measured per wrk run"),
        ("--warmup", 2, "seconds of warm-up before each"),
        ("--rounds", 3, "rounds of /healthz, start (limits on, off, `http`) and verify"),
        ("--registrations", 15_000, "registrations made before each round's verify"),
        ("--attempts", 3, "measured runs allowed per scenario while its connections split unevenly"),
        ("--bursts", 3, "bursts of concurrent starts per slow-gateway latency"),
        ("--webhook-events", 3_000, "events written before the worker starts"),
        ("--webhook-rate", 20.0, "events per second written for commit to delivery"),
        ("--webhook-seconds", 10.0, "seconds of events for commit to delivery"),
        ("--webhook-timeout", 120, "seconds allowed for the worker to drain"),
        ("--time-limit", 600, "seconds after which the run stops and cleans up"),
    ):
        parser.add_argument(flag, type=type(default), default=default, help=f"{help_text} ({default})")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="bench: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("registrar.access").setLevel(logging.WARNING)  # a line per in-process request
    if shutil.which("wrk") is None:
        log.error("wrk is not installed: install it with `apt-get install -y wrk` and run again")
        return 2

    def stop(signum, _frame):
        raise BenchFailed(f"stopped by signal {signal.Signals(signum).name}; cleaning up")

    # Either raises in the main thread, so that the context managers clean up.
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
