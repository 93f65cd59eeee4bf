"""The SQL schema: migrations, and the constraints that settle races between registrations."""

import secrets
import uuid
import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, inspect, select
from sqlalchemy.exc import IntegrityError

from app.codes import new_identifier
from app.db import make_engine, upgrade
from app.models import Customer, Model, RefreshToken, utcnow


def customer(**fields) -> Customer:
    return Customer(
        **{
            "id": new_identifier("cus"),
            "first_name": "Sara",
            "verified_by": "phone",
            "locale": "en",
            **fields,
        }
    )


def refresh_token(customer_id: str) -> RefreshToken:
    return RefreshToken(
        token_hash=secrets.token_hex(32),
        family_id=uuid.uuid4().hex,
        customer_id=customer_id,
        expires_at=utcnow(),
    )


def add(sessions, *rows) -> None:
    with sessions.begin() as session:
        session.add_all(rows)


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


def test_two_customers_cannot_share_an_email_whatever_its_case(sessions):
    add(sessions, customer(email="Omar.Saleh@example.com", verified_by="email"))

    with pytest.raises(IntegrityError):
        add(sessions, customer(email="omar.saleh@EXAMPLE.com", verified_by="email"))


def test_two_customers_cannot_share_a_phone_number(sessions):
    add(sessions, customer(phone="+966551234567"))

    with pytest.raises(IntegrityError):
        add(sessions, customer(phone="+966551234567"))


def test_many_customers_may_have_no_email_or_no_phone(sessions):
    add(
        sessions,
        customer(phone="+966551234567"),
        customer(phone="+966551234568"),
        customer(email="a@example.com", verified_by="email"),
        customer(email="b@example.com", verified_by="email"),
    )

    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 4


def test_deleting_a_customer_deletes_its_refresh_tokens(sessions):
    leaving, staying = customer(phone="+966551234567"), customer(phone="+966551234568")
    add(sessions, leaving, staying)
    add(sessions, refresh_token(leaving.id), refresh_token(leaving.id), refresh_token(staying.id))

    with sessions.begin() as session:
        session.execute(delete(Customer).where(Customer.id == leaving.id))

    with sessions() as session:
        owners = session.scalars(select(RefreshToken.customer_id)).all()
    assert owners == [staying.id]


def test_a_refresh_token_needs_an_existing_customer(sessions):
    with pytest.raises(IntegrityError):
        add(sessions, refresh_token("cus_nobody"))
