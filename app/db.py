"""The SQL database: the engine and the migrations."""

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event

MIGRATIONS = Path(__file__).with_name("migrations")


def make_engine(url: str) -> Engine:
    """An engine with timeouts, so that a database that is down fails fast. No pre-ping (a round
    trip per request): after a database restart the first query on a stale connection fails
    (503) and SQLAlchemy replaces every connection of the pool."""
    if url.startswith("sqlite"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 15}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=10,
        max_overflow=22,  # one connection for each of a worker's 32 threads
        pool_timeout=5,
        pool_recycle=1800,
        # Errors would otherwise quote the statement's values, names and phones, into logs.
        hide_parameters=True,
        connect_args={"connect_timeout": 3},
    )


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers and one writer work at once across gunicorn workers.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to the newest migration (or to `revision`)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
