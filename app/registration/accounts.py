"""Writing a new account: the customer, its first refresh token and onRegistered, atomically.

On PostgreSQL the three rows go in one statement (data-modifying CTEs) on a connection in
autocommit: one round trip, where BEGIN, three INSERTs and COMMIT take five, and those
round trips were most of verify's cost (bench/README.md). One statement is one
transaction: a unique index refusing the customer leaves no token and no event either.
Other databases (SQLite) get the three INSERTs in one transaction.
"""

from sqlalchemy import Engine, Table, bindparam, insert

from app.models import customers, refresh_tokens, webhook_events

# Columns the rows leave to the database: the token's serial id; not yet rotated or revoked.
_UNSET = {"id", "rotated_at", "revoked_at"}


def _values(table: Table, prefix: str, unset: set[str] = frozenset()) -> dict:
    """Bind parameters for every column of `table` but `unset`, named `{prefix}_{column}` so
    that the three rows' columns (`id`, `created_at`, …) do not collide."""
    names = [column.name for column in table.c if column.name not in unset]
    return {name: bindparam(f"{prefix}_{name}") for name in names}


_CUSTOMER, _TOKEN, _EVENT = insert(customers), insert(refresh_tokens), insert(webhook_events)
_IN_ONE_STATEMENT = (
    insert(webhook_events)
    .values(_values(webhook_events, "event"))
    .add_cte(insert(customers).values(_values(customers, "customer")).cte("new_customer"))
    .add_cte(insert(refresh_tokens).values(_values(refresh_tokens, "token", _UNSET)).cte("new_token"))
)


class AccountWriter:
    """Inserts a customer, its refresh token and its onRegistered event, all or none."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.in_one_statement = engine.dialect.name == "postgresql"

    def create(self, customer: dict, token: dict, event: dict) -> None:
        """Raises IntegrityError, with nothing written, when a unique index refuses a row."""
        if self.in_one_statement:
            parameters = {
                **{f"customer_{name}": value for name, value in customer.items()},
                **{f"token_{name}": value for name, value in token.items()},
                **{f"event_{name}": value for name, value in event.items()},
            }
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(_IN_ONE_STATEMENT, parameters)
            return
        with self.engine.begin() as connection:
            connection.execute(_CUSTOMER, customer)
            connection.execute(_TOKEN, token)
            connection.execute(_EVENT, event)
