"""Writing a new account: the customer, its first refresh token and onRegistered, atomically.

On PostgreSQL the three rows go in one statement (data-modifying CTEs) on a connection in
autocommit: one round trip, where BEGIN, three INSERTs and COMMIT take five, and those
round trips were most of verify's cost (bench/README.md). One statement is one
transaction: a unique index refusing the customer leaves no token and no event either.
Other databases (SQLite) get the three INSERTs in one transaction.
"""

from collections.abc import Collection

from sqlalchemy import Engine, Table, bindparam, insert

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
        self.in_one_statement = engine.dialect.name == "postgresql"

    def create(self, customer: dict, token: dict, event: dict) -> None:
        """Raises IntegrityError, with nothing written, when a unique index refuses a row."""
        parameters = {
            **{f"customer_{name}": value for name, value in customer.items()},
            **{f"token_{name}": value for name, value in token.items()},
            **{f"event_{name}": value for name, value in event.items()},
        }
        if self.in_one_statement:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(_IN_ONE_STATEMENT, parameters)
            return
        with self.engine.begin() as connection:
            for statement in (_CUSTOMER, _TOKEN, _EVENT):
                connection.execute(statement, parameters)
