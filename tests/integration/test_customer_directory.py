"""Looking customers up in SQL (app.customers.service.CustomerDirectory)."""

import pytest
from sqlalchemy import insert

from app.codes import new_identifier
from app.customers.service import CustomerDirectory
from app.models import Customer, customers


@pytest.fixture
def directory(engine) -> CustomerDirectory:
    return CustomerDirectory(engine)


def add_customer(engine, **fields) -> str:
    identifier = new_identifier("cus")
    with engine.begin() as connection:
        connection.execute(
            insert(customers),
            {"id": identifier, "first_name": "Sara", "verified_by": "phone", "locale": "ar", **fields},
        )
    return identifier


def test_a_customer_is_found_by_id_with_every_column(engine, directory):
    identifier = add_customer(
        engine,
        last_name="Al-Qahtani",
        phone="+966551234567",
        email="Sara@example.com",
        country_code="SA",
        phone_verified=True,
    )

    found = directory.get(identifier)

    assert isinstance(found, Customer)
    assert (found.id, found.first_name, found.last_name) == (identifier, "Sara", "Al-Qahtani")
    assert (found.phone, found.email, found.country_code) == ("+966551234567", "Sara@example.com", "SA")
    assert (found.verified_by, found.phone_verified, found.email_verified) == ("phone", True, False)
    assert found.locale == "ar"
    assert found.created_at.tzinfo is not None


def test_an_unknown_id_is_none(directory):
    assert directory.get("cus_nobody") is None


def test_the_holders_of_a_phone_or_an_email_are_found_whatever_the_emails_case(engine, directory):
    add_customer(engine, phone="+966551234567")
    add_customer(engine, email="Omar.Saleh@Example.com", verified_by="email")
    add_customer(engine, phone="+966551234568", email="someone@example.com")

    assert directory.holding("+966551234567", None) == [("+966551234567", None)]
    assert directory.holding(None, "omar.saleh@example.COM") == [(None, "Omar.Saleh@Example.com")]
    assert sorted(directory.holding("+966551234567", "omar.saleh@example.com"), key=str) == sorted(
        [("+966551234567", None), (None, "Omar.Saleh@Example.com")], key=str
    )


def test_nobody_holds_an_unknown_phone_or_email_or_nothing_at_all(engine, directory):
    add_customer(engine, phone="+966551234567", email="sara@example.com")

    assert directory.holding("+966559876543", "nobody@example.com") == []
    assert directory.holding(None, None) == []
    assert directory.holding("", "") == []
