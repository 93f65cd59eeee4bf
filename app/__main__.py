"""`python -m app serve` (what `make run` runs) and `python -m app migrate`."""

import argparse
import os
import signal
import subprocess
import sys

from app import validate_config
from app.db import make_engine, upgrade
from app.embedded_redis import EmbeddedRedis
from config.settings import ROOT, Config, ConfigError


def migrate(config: Config) -> None:
    """Bring the database schema up to date."""
    engine = make_engine(config.DATABASE_URL)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def serve(config: Config) -> int:
    """Migrate, start the embedded Redis if no REDIS_URL is set, and run gunicorn until stopped."""
    migrate(config)
    environment = dict(os.environ)
    embedded = None
    if config.uses_embedded_redis:
        embedded = EmbeddedRedis(config.INSTANCE_PATH)
        environment["REDIS_URL"] = embedded.start()
        print(f"registrar: embedded Redis on {embedded.socket}", file=sys.stderr)
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"), "wsgi:app"],
        cwd=ROOT,
        env=environment,
    )

    def forward(signum, _frame):
        server.send_signal(signum)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    try:
        return server.wait()
    finally:
        if embedded is not None:
            embedded.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description="Registrar")
    parser.add_argument("command", choices=("serve", "migrate"))
    command = parser.parse_args(argv).command
    try:
        config = validate_config()
    except ConfigError as error:
        print(f"registrar: {error}", file=sys.stderr)
        return 2
    if command == "migrate":
        migrate(config)
        return 0
    return serve(config)


if __name__ == "__main__":
    sys.exit(main())
