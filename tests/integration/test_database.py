"""The SQL schema: migrations, and the constraints that settle races between registrations."""

import secrets
import uuid
import warnings
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from app.codes import new_identifier
from app.db import make_engine, upgrade
from app.identity import email_key
from app.models import customers, metadata, refresh_tokens, utcnow


def customer(**fields) -> dict:
    """A customers row, with the email key app.accounts computes."""
    email = fields.get("email")
    return {
        "id": new_identifier("cus"),
        "first_name": "Sara",
        "verified_by": "phone",
        "locale": "en",
        "email_key": email_key(email) if email else None,
        **fields,
    }


def refresh_token(customer_id: str) -> dict:
    return {
        "token_hash": secrets.token_hex(32),
        "family_id": uuid.uuid4().hex,
        "customer_id": customer_id,
        "family_started_at": utcnow(),
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

        assert set(inspect(engine).get_table_names()) == {
            "alembic_version",
            "customers",
            "refresh_tokens",
            "webhook_endpoints",
            "webhook_events",
            "webhook_deliveries",
        }
    finally:
        engine.dispose()


def test_upgrading_a_database_of_0002_keeps_its_accounts_and_sessions(tmp_path):
    """0003 dates each refresh family from its oldest token; 0004 keys emails by Unicode case
    folding, and the same email verified twice (SQLite's lower() missed it) stays the oldest's."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old' / 'registrar.db'}")
    try:
        upgrade(engine, "0002")
        older = {"id": "cus_older", "email": "Émile@example.com", "created_at": utcnow() - timedelta(days=2)}
        newer = {"id": "cus_newer", "email": "émile@example.com", "created_at": utcnow() - timedelta(days=1)}
        signed_in = utcnow() - timedelta(days=10)
        with engine.begin() as connection:
            for row in (older, newer):
                connection.execute(
                    text(
                        "INSERT INTO customers (id, first_name, email, verified_by, phone_verified,"
                        " email_verified, locale, created_at) VALUES (:id, 'Émile', :email, 'email', 0, 1,"
                        " 'en', :created_at)"
                    ),
                    row,
                )
            for created_at in (signed_in, signed_in + timedelta(days=5)):
                connection.execute(
                    text(
                        "INSERT INTO refresh_tokens (token_hash, family_id, customer_id, created_at,"
                        " expires_at) VALUES (:hash, 'family', 'cus_older', :created_at, :created_at)"
                    ),
                    {"hash": secrets.token_hex(32), "created_at": created_at},
                )

        upgrade(engine)

        with engine.connect() as connection:
            rows = connection.execute(
                select(customers.c.id, customers.c.email_key, customers.c.email_verified).order_by(
                    customers.c.id
                )
            ).all()
            started = connection.scalars(select(refresh_tokens.c.family_started_at)).all()
        assert [tuple(row) for row in rows] == [
            ("cus_newer", "émile@example.com", False),
            ("cus_older", "émile@example.com", True),
        ]
        assert {moment.replace(microsecond=0) for moment in started} == {signed_in.replace(microsecond=0)}
        with pytest.raises(IntegrityError):
            add(
                engine,
                customers,
                customer(email="ÉMILE@EXAMPLE.COM", verified_by="email", email_verified=True),
            )
    finally:
        engine.dispose()


def test_the_migrated_schema_is_what_the_models_describe(engine):
    with engine.connect() as connection, warnings.catch_warnings():
        # SQLite cannot reflect the lower(email) index; the uniqueness tests below cover it.
        warnings.simplefilter("ignore")
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert differences == []


def test_phone_and_email_are_unique_only_through_partial_indexes_on_their_verified_flags(engine):
    schema = inspect(engine)
    unique_constraints = schema.get_unique_constraints("customers")
    indexes = {index["name"]: index for index in schema.get_indexes("customers")}

    assert unique_constraints == []
    assert all(index["unique"] for index in indexes.values())
    expected = {
        "uq_customers_verified_phone": "phone_verified",
        "uq_customers_verified_email_key": "email_verified",
    }
    assert indexes["uq_customers_verified_email_key"]["column_names"] == ["email_key"]
    assert set(indexes) == set(expected)
    for name, flag in expected.items():
        assert str(indexes[name]["dialect_options"][f"{engine.dialect.name}_where"]) == flag


def test_two_customers_cannot_share_a_verified_phone_number(engine):
    add(engine, customers, customer(phone="+966551234567", phone_verified=True))

    with pytest.raises(IntegrityError):
        add(engine, customers, customer(phone="+966551234567", phone_verified=True))


@pytest.mark.parametrize(
    ("first", "second"),
    [(True, False), (False, True), (False, False)],
    ids=["verified then unverified", "unverified then verified", "both unverified"],
)
def test_a_phone_number_unverified_by_one_of_two_customers_may_be_shared(engine, first, second):
    add(
        engine,
        customers,
        customer(phone="+966551234567", phone_verified=first),
        customer(phone="+966551234567", phone_verified=second),
    )

    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).where(customers.c.phone == "+966551234567"))
    assert count == 2


def test_many_customers_may_share_an_unverified_phone_beside_its_verified_holder(engine):
    add(
        engine,
        customers,
        customer(phone="+966551234567"),
        customer(phone="+966551234567"),
        customer(phone="+966551234567", phone_verified=True),
        customer(phone="+966551234567"),
    )

    with pytest.raises(IntegrityError):
        add(engine, customers, customer(phone="+966551234567", phone_verified=True))


@pytest.mark.parametrize(
    "other_case",
    ["Omar.Saleh@example.com", "omar.saleh@EXAMPLE.com", "OMAR.SALEH@EXAMPLE.COM"],
)
def test_two_customers_cannot_share_a_verified_email_whatever_its_case(engine, other_case):
    add(engine, customers, customer(email="Omar.Saleh@example.com", verified_by="email", email_verified=True))

    with pytest.raises(IntegrityError):
        add(engine, customers, customer(email=other_case, verified_by="email", email_verified=True))


@pytest.mark.parametrize(
    ("first", "second"),
    [(True, False), (False, True), (False, False)],
    ids=["verified then unverified", "unverified then verified", "both unverified"],
)
def test_an_email_unverified_by_one_of_two_customers_may_be_shared_whatever_its_case(engine, first, second):
    add(
        engine,
        customers,
        customer(email="Omar.Saleh@example.com", verified_by="email", email_verified=first),
        customer(email="omar.saleh@EXAMPLE.com", email_verified=second),
    )

    with engine.connect() as connection:
        count = connection.scalar(
            select(func.count()).where(func.lower(customers.c.email) == "omar.saleh@example.com")
        )
    assert count == 2


def test_a_verified_phone_does_not_make_the_same_customers_email_unique_or_the_reverse(engine):
    add(
        engine,
        customers,
        customer(phone="+966551234567", email="sara@example.com", phone_verified=True),
        customer(phone="+966551234568", email="sara@example.com", phone_verified=True),
        customer(phone="+966551234569", email="omar@example.com", verified_by="email", email_verified=True),
        customer(phone="+966551234569", email="layla@example.com", verified_by="email", email_verified=True),
    )

    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(customers)) == 4


TAKEN = {"phone": "+966551234567", "email": "sara.ahmed@example.com"}
# A customer of nobody else's phone and email, who will duplicate one of TAKEN's.
OWN = {
    "first_name": "Layla",
    "last_name": "Haddad",
    "phone": "+966559876543",
    "email": "layla.haddad@example.org",
}
DUPLICATES = [
    pytest.param("phone", {"phone": TAKEN["phone"], "phone_verified": True}, id="a verified phone"),
    pytest.param("email", {"email": "SARA.AHMED@example.com", "email_verified": True}, id="a verified email"),
]


def refused_insert(engine, duplicate: dict) -> tuple[dict, str]:
    """The row of a customer who duplicates a verified phone or email, and str() of its refusal."""
    add(engine, customers, customer(**TAKEN, phone_verified=True, email_verified=True))
    row = customer(**{**OWN, **duplicate})
    with pytest.raises(IntegrityError) as refused:
        add(engine, customers, row)
    message = str(refused.value)
    assert "hidden due to hide_parameters" in message
    return row, message


@pytest.mark.parametrize(("taken", "duplicate"), DUPLICATES)
def test_a_refused_insert_quotes_none_of_the_values_it_was_given(engine, taken, duplicate):
    row, message = refused_insert(engine, duplicate)

    given = [row["id"], *(value for name, value in OWN.items() if row[name] == value)]
    assert len(given) == 4  # the id, both names and the identifier that is not taken
    for value in given:
        assert value not in message


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
