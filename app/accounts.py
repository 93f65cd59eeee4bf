"""Customer accounts in SQL: looked up by id or verified identity, and created whole: the customer, its first
refresh token and its onRegistered event, all or none. On PostgreSQL that is one statement (data-modifying
CTEs) in autocommit: one round trip where BEGIN, three INSERTs and COMMIT take five (bench/README.md)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, exists, false, insert, select

from app.identity import EMAIL, PHONE, email_key
from app.models import customers, refresh_tokens, webhook_events


@dataclass(frozen=True)
class Customer:
    """A customer as stored and as clients see it."""

    id: str
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    country_code: str | None
    verified_by: str
    phone_verified: bool
    email_verified: bool
    locale: str
    created_at: datetime


def _insert(table, prefix: str, unset: tuple[str, ...] = ()):
    """An INSERT of every column but `unset`, from required bind parameters named `{prefix}_{column}`
    (the three rows share column names); a row missing a column fails instead of taking a default."""
    names = [column.name for column in table.c if column.name not in unset]
    return insert(table).values({name: bindparam(f"{prefix}_{name}") for name in names})


_CUSTOMER = _insert(customers, "customer")
_CUSTOMER_COLUMNS = [column for column in customers.c if column.name != "email_key"]
_TOKEN = _insert(refresh_tokens, "token", ("id", "rotated_at", "revoked_at"))
_EVENT = _insert(webhook_events, "event")
_IN_ONE_STATEMENT = _EVENT.add_cte(_CUSTOMER.cte("new_customer")).add_cte(_TOKEN.cte("new_token"))


class Accounts:
    """Looks customers up, and creates an account with its refresh token and onRegistered."""

    def __init__(self, engine: Engine):
        self.engine = engine
        # Compiled once; the driver takes the values as they are (aware UTC datetimes, booleans).
        one_statement = engine.dialect.name == "postgresql"
        self._sql = str(_IN_ONE_STATEMENT.compile(dialect=engine.dialect)) if one_statement else None
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    def get(self, customer_id: str) -> Customer | None:
        """The customer with this id, if there is one."""
        with self.engine.connect() as connection:
            query = select(*_CUSTOMER_COLUMNS).where(customers.c.id == customer_id)
            row = connection.execute(query).one_or_none()
        return None if row is None else Customer(**row._mapping)

    def verified_holder(self, channel: str, address: str) -> str | None:
        """The id of the customer who verified this phone or email, if any: only they get sign-in codes."""
        with self.engine.connect() as connection:
            return connection.execute(select(customers.c.id).where(_verified(channel, address))).scalar()

    def verified_holders(self, phone: str | None, email: str | None) -> tuple[bool, bool]:
        """Whether some customer has verified this phone, and whether one has verified this email."""
        phone_held = exists().where(_verified(PHONE, phone)) if phone else false()
        email_held = exists().where(_verified(EMAIL, email)) if email else false()
        with self.engine.connect() as connection:
            phone_taken, email_taken = connection.execute(select(phone_held, email_held)).one()
        return bool(phone_taken), bool(email_taken)

    def create(self, customer: Customer, token: dict, event: dict) -> None:
        """Write the customer, its refresh token and its event, or none (IntegrityError: an index refused)."""
        key = email_key(customer.email) if customer.email else None
        rows = (("customer", {**vars(customer), "email_key": key}), ("token", token), ("event", event))
        parameters = {f"{prefix}_{name}": value for prefix, row in rows for name, value in row.items()}
        if self._sql is not None:
            with self._autocommit.connect() as connection:
                connection.exec_driver_sql(self._sql, parameters)
            return
        with self.engine.begin() as connection:
            for statement in (_CUSTOMER, _TOKEN, _EVENT):
                connection.execute(statement, parameters)


def _verified(channel: str, address: str):
    if channel == PHONE:
        return (customers.c.phone == address) & customers.c.phone_verified
    return (customers.c.email_key == email_key(address)) & customers.c.email_verified
