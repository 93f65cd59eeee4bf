"""The SQL schema: migrations, and the constraints that settle races between registrations."""

import secrets
import uuid
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from app.codes import new_identifier
from app.db import make_engine, upgrade
from app.models import Model, customers, refresh_tokens, utcnow


def customer(**fields) -> dict:
    return {
        "id": new_identifier("cus"),
        "first_name": "Sara",
        "verified_by": "phone",
        "locale": "en",
        **fields,
    }


def refresh_token(customer_id: str) -> dict:
    return {
        "token_hash": secrets.token_hex(32),
        "family_id": uuid.uuid4().hex,
        "customer_id": customer_id,
        "expires_at": utcnow(),
    }


def add(engine, table, *rows: dict) -> None:
    """Insert `rows` into `table` in one transaction, one statement each."""
    with engine.begin() as connection:
        for row in rows:
            connection.execute(insert(table), row)


def test_migrations_create_the_tables_on_a_fresh_sqlite_file_and_can_run_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh' / 'registrar.db'}")
    try:
        upgrade(engine)
        upgrade(engine)

        assert set(inspect(engine).get_table_names()) == {"alembic_version", "customers", "refresh_tokens"}
    finally:
        engine.dispose()


def test_the_migrated_schema_is_what_the_models_describe(engine):
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect the lower(email) index; the uniqueness tests below cover it.
        warnings.simplefilter("ignore")
        differences = compare_metadata(MigrationContext.configure(connection), Model.metadata)
    assert differences == []


def test_two_customers_cannot_share_an_email_whatever_its_case(engine):
    add(engine, customers, customer(email="Omar.Saleh@example.com", verified_by="email"))

    with pytest.raises(IntegrityError):
        add(engine, customers, customer(email="omar.saleh@EXAMPLE.com", verified_by="email"))


def test_two_customers_cannot_share_a_phone_number(engine):
    add(engine, customers, customer(phone="+966551234567"))

    with pytest.raises(IntegrityError):
        add(engine, customers, customer(phone="+966551234567"))


def test_many_customers_may_have_no_email_or_no_phone(engine):
    add(
        engine,
        customers,
        customer(phone="+966551234567"),
        customer(phone="+966551234568"),
        customer(email="a@example.com", verified_by="email"),
        customer(email="b@example.com", verified_by="email"),
    )

    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(customers)) == 4


def test_a_customer_inserted_without_flags_or_creation_time_gets_their_defaults(engine):
    add(engine, customers, customer(phone="+966551234567"))

    with engine.connect() as connection:
        row = connection.execute(select(customers)).one()

    assert (row.phone_verified, row.email_verified) == (False, False)
    assert row.created_at.tzinfo is not None
    assert abs((utcnow() - row.created_at).total_seconds()) < 60


def test_deleting_a_customer_deletes_its_refresh_tokens(engine):
    leaving, staying = customer(phone="+966551234567"), customer(phone="+966551234568")
    add(engine, customers, leaving, staying)
    add(
        engine,
        refresh_tokens,
        refresh_token(leaving["id"]),
        refresh_token(leaving["id"]),
        refresh_token(staying["id"]),
    )

    with engine.begin() as connection:
        connection.execute(delete(customers).where(customers.c.id == leaving["id"]))

    with engine.connect() as connection:
        owners = connection.scalars(select(refresh_tokens.c.customer_id)).all()
    assert owners == [staying["id"]]


def test_a_refresh_token_needs_an_existing_customer(engine):
    with pytest.raises(IntegrityError):
        add(engine, refresh_tokens, refresh_token("cus_nobody"))
