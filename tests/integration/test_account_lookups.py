"""Looking customers up in SQL (app.accounts.Accounts)."""

import pytest
from sqlalchemy import insert

from app.accounts import Accounts, Customer
from app.codes import new_identifier
from app.identity import email_key
from app.models import customers


@pytest.fixture
def accounts(engine) -> Accounts:
    return Accounts(engine)


def add_customer(engine, **fields) -> str:
    identifier = new_identifier("cus")
    key = email_key(fields["email"]) if fields.get("email") else None
    with engine.begin() as connection:
        connection.execute(
            insert(customers),
            {"id": identifier, "first_name": "Sara", "verified_by": "phone", "locale": "ar", "email_key": key}
            | fields,
        )
    return identifier


def test_a_customer_is_found_by_id_with_every_column(engine, accounts):
    identifier = add_customer(
        engine,
        last_name="Al-Qahtani",
        phone="+966551234567",
        email="Sara@example.com",
        country_code="SA",
        phone_verified=True,
    )

    found = accounts.get(identifier)

    assert isinstance(found, Customer)
    assert (found.id, found.first_name, found.last_name) == (identifier, "Sara", "Al-Qahtani")
    assert (found.phone, found.email, found.country_code) == ("+966551234567", "Sara@example.com", "SA")
    assert (found.verified_by, found.phone_verified, found.email_verified) == ("phone", True, False)
    assert found.locale == "ar"
    assert found.created_at.tzinfo is not None


def test_an_unknown_id_is_none(accounts):
    assert accounts.get("cus_nobody") is None


def test_a_verified_phone_or_email_is_taken_whatever_the_emails_case(engine, accounts):
    add_customer(engine, phone="+966551234567", phone_verified=True)
    add_customer(engine, email="Omar.Saleh@Example.com", verified_by="email", email_verified=True)

    assert accounts.verified_holders("+966551234567", None) == (True, False)
    assert accounts.verified_holders(None, "omar.saleh@example.COM") == (False, True)
    assert accounts.verified_holders("+966551234567", "OMAR.SALEH@example.com") == (True, True)
    assert accounts.verified_holders("+966551234567", "nobody@example.com") == (True, False)
    assert accounts.verified_holders("+966559876543", "omar.saleh@example.com") == (False, True)


def test_an_unverified_phone_or_email_is_not_taken(engine, accounts):
    add_customer(engine, phone="+966551234567", email="Sara@example.com")
    add_customer(
        engine,
        phone="+966551234568",
        email="omar@example.com",
        verified_by="email",
        email_verified=True,
    )
    add_customer(
        engine,
        phone="+966551234569",
        email="layla@example.com",
        phone_verified=True,
    )

    assert accounts.verified_holders("+966551234567", "sara@example.com") == (False, False)
    assert accounts.verified_holders("+966551234568", None) == (False, False)
    assert accounts.verified_holders(None, "layla@example.com") == (False, False)
    assert accounts.verified_holders("+966551234569", "omar@example.com") == (True, True)


def test_one_verified_holder_among_unverified_copies_is_found(engine, accounts):
    add_customer(engine, phone="+966551234567", email="sara@example.com")
    add_customer(engine, phone="+966551234567", email="SARA@example.com")
    add_customer(
        engine,
        phone="+966551234567",
        email="Sara@Example.com",
        verified_by="email",
        phone_verified=True,
        email_verified=True,
    )

    assert accounts.verified_holders("+966551234567", "sara@EXAMPLE.com") == (True, True)


def test_the_same_phone_of_one_customer_and_email_of_another_are_told_apart(engine, accounts):
    add_customer(engine, phone="+966551234567", email="sara@example.com", phone_verified=True)
    add_customer(engine, phone="+966551234568", email="omar@example.com", email_verified=True)

    # Each row matches one of the two conditions; only its verified identifier counts.
    assert accounts.verified_holders("+966551234567", "omar@example.com") == (True, True)
    assert accounts.verified_holders("+966551234568", "sara@example.com") == (False, False)


def test_nobody_holds_an_unknown_phone_or_email_or_nothing_at_all(engine, accounts):
    add_customer(
        engine, phone="+966551234567", email="sara@example.com", phone_verified=True, email_verified=True
    )

    assert accounts.verified_holders("+966559876543", "nobody@example.com") == (False, False)
    assert accounts.verified_holders(None, None) == (False, False)
    assert accounts.verified_holders("", "") == (False, False)


def test_the_holder_of_a_verified_phone_or_email_is_the_one_who_signs_in(engine, accounts):
    by_phone = add_customer(engine, phone="+966551234567", phone_verified=True, email="sara@example.com")
    by_email = add_customer(
        engine,
        email="Omar.Saleh@Example.com",
        verified_by="email",
        email_verified=True,
        phone="+966559876543",
    )

    assert accounts.verified_holder("phone", "+966551234567") == by_phone
    assert accounts.verified_holder("email", "omar.saleh@example.COM") == by_email
    # The other identifier of each was never proven: no code goes there.
    assert accounts.verified_holder("email", "sara@example.com") is None
    assert accounts.verified_holder("phone", "+966559876543") is None
    assert accounts.verified_holder("phone", "+966500000000") is None
