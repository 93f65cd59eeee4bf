"""Writing a new account (app.accounts.Accounts.create): all three rows, or none of them."""

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import asdict

import pytest
from psycopg.pq import Trace
from sqlalchemy import create_engine, event, func, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, StatementError

from app.accounts import Accounts, Customer
from app.codes import new_identifier
from app.models import customers, refresh_tokens, utcnow, webhook_events
from app.webhooks.outbox import Outbox

PHONE_NUMBER = "+966551234567"


def account(phone: str = PHONE_NUMBER, *, registration_id: str | None = None) -> tuple[Customer, dict, dict]:
    """The customer, refresh-token and onRegistered rows of one verified registration."""
    now = utcnow()
    customer = Customer(
        id=new_identifier("cus"),
        first_name="Sara",
        last_name="Al-Qahtani",
        email="sara@example.com",
        phone=phone,
        country_code="SA",
        verified_by="phone",
        phone_verified=True,
        email_verified=False,
        locale="ar",
        created_at=now,
    )
    token = {
        "token_hash": secrets.token_hex(32),
        "family_id": new_identifier("fam"),
        "customer_id": customer.id,
        "created_at": now,
        "family_started_at": now,
        "expires_at": now,
    }
    event_row = Outbox.registered(registration_id or new_identifier("reg"), {"id": customer.id}, "sms", now)
    return customer, token, event_row


def counts(engine) -> tuple[int, int, int]:
    with engine.connect() as connection:
        return tuple(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (customers, refresh_tokens, webhook_events)
        )


@pytest.fixture
def statements(engine) -> list[str]:
    """The SQL statements SQLAlchemy sends from here on."""
    sent: list[str] = []

    def record(_connection, _cursor, statement, *_args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield sent
    event.remove(engine, "before_cursor_execute", record)


def test_the_customer_its_token_and_its_event_are_written_together(engine):
    customer, token, event_row = account()

    Accounts(engine).create(customer, token, event_row)

    with engine.connect() as connection:
        stored = connection.execute(select(customers).where(customers.c.id == customer.id)).one()
        token_owner = connection.execute(
            select(refresh_tokens.c.customer_id).where(refresh_tokens.c.token_hash == token["token_hash"])
        ).scalar_one()
        stored_event = connection.execute(
            select(webhook_events).where(webhook_events.c.id == event_row["id"])
        ).one()
    assert (stored.phone, stored.phone_verified, stored.locale) == (PHONE_NUMBER, True, "ar")
    assert stored.created_at == customer.created_at
    assert token_owner == customer.id
    assert (stored_event.type, stored_event.payload) == ("onRegistered", event_row["payload"])
    assert counts(engine) == (1, 1, 1)


@pytest.fixture
def sent_to_postgresql(engine, tmp_path) -> Iterator[Callable[[], list[str]]]:
    """What the client has sent PostgreSQL since, message by message, as libpq's trace names
    the protocol's messages (`Query`, `Parse`, `Bind`, `Execute`, `Sync`, …) with their text:
    what reaches the server, whichever layer sent it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("libpq's trace is PostgreSQL's; SQLite: see the next test")
    engine.connect().close()  # the dialect's queries on a first connection are not the test's
    path = tmp_path / "libpq.trace"
    traced = []

    with path.open("wb") as trace:

        def follow(dbapi_connection, _record, _proxy):
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE)
            traced.append(dbapi_connection)

        def sent() -> list[str]:
            trace.flush()
            # One message per line, but a statement's own line breaks stay in its text.
            messages = re.split(r"\n(?=[FB]\t\d+\t)", path.read_text(errors="replace"))
            return [message.split("\t", 2)[2] for message in messages if message.startswith("F\t")]

        event.listen(engine, "checkout", follow)
        yield sent
        event.remove(engine, "checkout", follow)
        for dbapi_connection in traced:
            if not dbapi_connection.closed:
                dbapi_connection.pgconn.untrace()


def test_on_postgresql_the_account_is_one_round_trip_with_no_begin_or_commit(engine, sent_to_postgresql):
    Accounts(engine).create(*account())

    messages = sent_to_postgresql()
    # One round trip: psycopg's extended query ends with one Sync, a simple query is one Query.
    assert len([message for message in messages if message.startswith(("Sync", "Query"))]) == 1
    statements = [message for message in messages if message.startswith(("Parse", "Query"))]
    assert len(statements) == 1
    assert "WITH new_customer AS" in statements[0]
    assert statements[0].count("INSERT INTO") == 3
    # In autocommit: psycopg sends no BEGIN before it and no COMMIT after it.
    assert not [message for message in messages if "BEGIN" in message or "COMMIT" in message]
    assert counts(engine) == (1, 1, 1)


def test_on_sqlite_the_account_is_three_inserts_in_one_transaction(engine, statements):
    if engine.dialect.name == "postgresql":
        pytest.skip("PostgreSQL: see the test before")

    Accounts(engine).create(*account())

    assert len([statement for statement in statements if "INSERT" in statement]) == 3
    assert counts(engine) == (1, 1, 1)


def test_a_phone_another_account_verified_leaves_no_token_and_no_event(engine):
    accounts = Accounts(engine)
    accounts.create(*account())

    with pytest.raises(IntegrityError):
        accounts.create(*account())

    assert counts(engine) == (1, 1, 1)


def test_a_refused_event_leaves_no_customer_and_no_token(engine):
    """The event is the last row written: refusing it must undo the two before it."""
    accounts = Accounts(engine)
    accounts.create(*account(registration_id="reg_twice"))

    with pytest.raises(IntegrityError):  # a registration has one onRegistered (dedupe_key)
        accounts.create(*account("+966559876543", registration_id="reg_twice"))

    assert counts(engine) == (1, 1, 1)
    with engine.connect() as connection:
        phones = connection.execute(select(customers.c.phone)).scalars().all()
    assert phones == [PHONE_NUMBER]


def test_after_a_refusal_the_connection_writes_the_next_account(engine):
    """A failed statement in autocommit leaves no aborted transaction on the pooled connection."""
    accounts = Accounts(engine)
    accounts.create(*account())
    with pytest.raises(IntegrityError):
        accounts.create(*account())

    accounts.create(*account("+966559876543"))

    assert counts(engine) == (2, 2, 2)


def test_the_pool_gives_out_transactional_connections_after_an_account_is_written(engine):
    """The account's connection was in autocommit: the next user of the pool must get its
    transactions back, whether the account was written or refused."""
    accounts = Accounts(engine)
    accounts.create(*account())
    with pytest.raises(IntegrityError):
        accounts.create(*account())

    for _ in range(3):  # enough to meet the pooled connection, whichever one it is
        with pytest.raises(RuntimeError), engine.begin() as connection:
            customer, _, _ = account("+966559876543")
            connection.execute(insert(customers), asdict(customer))
            raise RuntimeError("undo")

    assert counts(engine) == (1, 1, 1)


def test_a_row_without_one_of_its_columns_is_refused_and_nothing_is_written(engine):
    customer, token, event_row = account()
    del token["expires_at"]  # a default would keep the token for ever

    with pytest.raises(StatementError):
        Accounts(engine).create(customer, token, event_row)

    assert counts(engine) == (0, 0, 0)


def test_a_refusal_hides_the_statements_parameters(engine):
    """Only what the database itself says of the clash (PostgreSQL's DETAIL names the key)
    may be in the message; none of the parameters the statement was sent with."""
    accounts = Accounts(engine)
    accounts.create(*account())
    customer, token, event_row = account()

    with pytest.raises(IntegrityError) as refused:
        accounts.create(customer, token, event_row)

    message = str(refused.value)
    assert "hidden due to hide_parameters" in message
    for value in (customer.id, customer.first_name, customer.email, token["token_hash"]):
        assert value not in message


def test_after_the_database_dropped_its_connections_the_next_account_is_written(engine):
    """PostgreSQL ends the pool's sessions (a restart, a failover): the account that meets
    the first fails as the database being away, and the pool's other connections are
    replaced with it, so the next request does not meet the next dead one."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    accounts = Accounts(engine)
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        backends = [
            connection.execute(select(func.pg_backend_pid())).scalar_one() for connection in (first, second)
        ]
    admin = create_engine(engine.url)
    with admin.connect() as connection:
        for backend in backends:
            connection.execute(select(func.pg_terminate_backend(backend)))
    admin.dispose()

    with pytest.raises(OperationalError) as dropped:
        accounts.create(*account())
    with engine.connect() as connection:  # the pool's other connection, were it still pooled
        connection.execute(select(1))
    accounts.create(*account("+966559876543"))

    assert dropped.value.connection_invalidated
    assert counts(engine) == (1, 1, 1)
