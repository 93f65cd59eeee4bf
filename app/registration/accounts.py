"""Writing a new account: the customer, its first refresh token and onRegistered, atomically.

On PostgreSQL the three rows go in one statement (data-modifying CTEs) on a connection in
autocommit: one round trip, where BEGIN, three INSERTs and COMMIT take five, and those
round trips were most of verify's cost (bench/README.md). One statement is one
transaction: a unique index refusing the customer leaves no token and no event either.
The statement is compiled once and sent on the pooled psycopg connection itself
(`_DriverStatement`). Other databases (SQLite) get the three INSERTs in one transaction.
"""

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import Engine, Executable, Table, bindparam, insert
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import PoolProxiedConnection

from app.models import customers, refresh_tokens, webhook_events

# The refresh token's columns left to the database: its serial id; not rotated or revoked yet.
_TOKEN_UNSET = ("id", "rotated_at", "revoked_at")


def _insert(table: Table, prefix: str, unset: Collection[str] = ()):
    """An INSERT of every column of `table` but `unset`, from bind parameters named
    `{prefix}_{column}`, so that the three rows' columns (`id`, `created_at`, …) do not
    collide; each is required, so a row missing a column fails instead of storing a default."""
    names = [column.name for column in table.c if column.name not in unset]
    return insert(table).values({name: bindparam(f"{prefix}_{name}") for name in names})


_CUSTOMER = _insert(customers, "customer")
_TOKEN = _insert(refresh_tokens, "token", _TOKEN_UNSET)
_EVENT = _insert(webhook_events, "event")
_IN_ONE_STATEMENT = _EVENT.add_cte(_CUSTOMER.cte("new_customer")).add_cte(_TOKEN.cte("new_token"))


class AccountWriter:
    """Inserts a customer, its refresh token and its onRegistered event, all or none."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._statement = (
            _DriverStatement(engine, _IN_ONE_STATEMENT) if engine.dialect.name == "postgresql" else None
        )

    def create(self, customer: dict, token: dict, event: dict) -> None:
        """Raises IntegrityError, with nothing written, when a unique index refuses a row."""
        parameters = {
            **{f"customer_{name}": value for name, value in customer.items()},
            **{f"token_{name}": value for name, value in token.items()},
            **{f"event_{name}": value for name, value in event.items()},
        }
        if self._statement is not None:
            self._statement.run_in_autocommit(parameters)
            return
        with self.engine.begin() as connection:
            for statement in (_CUSTOMER, _TOKEN, _EVENT):
                connection.execute(statement, parameters)


class _DriverStatement:
    """A statement compiled once and run on a pooled connection's psycopg connection itself.

    Through SQLAlchemy's Connection the same execution cost verify about 0.13 ms more of CPU
    (its cache key, events and result object; bench/README.md), some 8 % of a verify under
    load. What that Connection does for this statement is done here instead: the columns'
    bind processors (UTC datetimes, booleans), a missing parameter or a value its column cannot
    take refused, the driver's
    errors raised as SQLAlchemy's (IntegrityError, OperationalError, …, parameters hidden as
    the engine hides them), and the pool's connections invalidated when the database dropped one.
    """

    def __init__(self, engine: Engine, statement: Executable):
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.names = frozenset(compiled.binds)
        self.processors: dict[str, Callable[[Any], Any]] = {
            name: processor
            for name, bind in compiled.binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
        }

    def run_in_autocommit(self, parameters: dict[str, Any]) -> None:
        """Run it as a transaction of its own; the connection goes back to the pool as it came."""
        missing = self.names - parameters.keys()
        if missing:
            raise StatementError(
                f"A value is required for bind parameter {min(missing)!r}", self.sql, None, None
            )
        try:
            for name, processor in self.processors.items():
                parameters[name] = processor(parameters[name])
        except (TypeError, ValueError) as refused:  # a value its column cannot take
            raise StatementError(str(refused), self.sql, None, refused) from refused
        driver_error = self.engine.dialect.loaded_dbapi.Error
        try:
            pooled = self.engine.raw_connection()
        except driver_error as error:  # no connection to be had: the database is away
            raise self._wrapped(error, parameters, dropped=False) from error
        try:
            pooled.driver_connection.autocommit = True
            pooled.driver_connection.execute(self.sql, parameters)
        except driver_error as error:
            dropped = self.engine.dialect.is_disconnect(error, pooled.dbapi_connection, None)
            if dropped:
                # As SQLAlchemy's Connection does: this connection and every one opened before
                # it, which a restarted database has dropped too, are replaced, not tried in turn.
                self.engine.pool._invalidate(pooled, error)
            raise self._wrapped(error, parameters, dropped=dropped) from error
        except BaseException as interrupted:  # mid-statement: its state is unknown
            pooled.invalidate(interrupted)
            raise
        finally:
            self._give_back(pooled)

    def _wrapped(self, error: Exception, parameters: dict[str, Any], *, dropped: bool) -> Exception:
        """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, …)."""
        dialect = self.engine.dialect
        return DBAPIError.instance(
            self.sql,
            parameters,
            error,
            dialect.loaded_dbapi.Error,
            hide_parameters=self.engine.hide_parameters,
            connection_invalidated=dropped,
            dialect=dialect,
        )

    def _give_back(self, pooled: PoolProxiedConnection) -> None:
        """Return a connection to the pool with its transactions back on (a refused statement
        in autocommit leaves none open), or invalidated if even that fails."""
        try:
            if pooled.is_valid:
                try:
                    pooled.driver_connection.autocommit = False
                except self.engine.dialect.loaded_dbapi.Error as error:
                    pooled.invalidate(error)
        finally:
            pooled.close()
