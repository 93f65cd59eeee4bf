"""`python -m app serve` (what `make run` runs), `migrate` and `worker`."""

import argparse
import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time

from app import build_worker, validate_config
from app.db import make_engine, upgrade
from app.embedded_redis import EmbeddedRedis
from app.logs import configure_logging
from config.settings import ROOT, Config, ConfigError


def migrate(config: Config) -> int:
    """Bring the database schema up to date."""
    engine = make_engine(config.DATABASE_URL)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return 0


def work(config: Config) -> int:
    """Run the webhook delivery worker until SIGTERM or SIGINT."""
    configure_logging()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` prints every thread's stack
    worker = build_worker(config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: set_soon(stop))
    worker.run(stop)
    return 0


def set_soon(event: threading.Event) -> None:
    """Set `event` from a signal handler, whose main thread may be inside `event.wait()` holding
    the event's lock: setting it there would deadlock."""
    threading.Thread(target=event.set, daemon=True).start()


def serve(config: Config) -> int:
    """Migrate, start the embedded Redis if no REDIS_URL is set, then gunicorn and the webhook
    worker, until stopped; if either stops, so does the other."""
    migrate(config)
    environment = dict(os.environ)
    embedded = EmbeddedRedis(config.INSTANCE_PATH)
    if not config.REDIS_URL:
        environment["REDIS_URL"] = embedded.start()
        print(f"registrar: embedded Redis on {embedded.socket}", file=sys.stderr)
    gunicorn = ["gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"]
    processes = [
        subprocess.Popen([sys.executable, "-m", *module], cwd=ROOT, env=environment)
        for module in (gunicorn, ["app", "worker"])
    ]

    def stop(signum=signal.SIGTERM, _frame=None):
        for process in processes:
            if process.poll() is None:
                process.send_signal(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while all(process.poll() is None for process in processes):
            time.sleep(0.5)  # a signal stops both; one that stops alone stops the other below
        stop()
        return max(process.wait() for process in processes)
    finally:
        embedded.stop()  # a no-op unless it was started here


COMMANDS = {"serve": serve, "migrate": migrate, "worker": work}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Registrar")
    parser.add_argument("command", choices=COMMANDS)
    command = COMMANDS[parser.parse_args(argv).command]
    try:
        config = validate_config()
    except ConfigError as error:
        print(f"registrar: {error}", file=sys.stderr)
        return 2
    return command(config)


if __name__ == "__main__":
    sys.exit(main())
