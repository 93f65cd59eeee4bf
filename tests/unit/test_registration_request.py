"""A registration as the code store gives it back (app.registration.service)."""

from dataclasses import asdict

import pytest

from app.registration.service import Registration

SARA = Registration(
    "phone",
    phone="+966551234567",
    email="sara@example.com",
    country_code="SA",
    first_name="Sara",
    last_name="Al-Qahtani",
)
OMAR = Registration("email", email="omar@example.com", first_name="Omar")


@pytest.mark.parametrize("registration", [SARA, OMAR], ids=["every field", "some fields None"])
def test_a_registration_comes_back_from_its_payload_without_the_none_values(registration):
    kept = {name: value for name, value in asdict(registration).items() if value is not None}
    assert Registration.from_payload({**kept, "locale": "ar"}) == registration


def test_fields_missing_from_the_payload_are_none_and_unknown_ones_are_ignored():
    registration = Registration.from_payload({"first_name": "Omar", "verified_by": "email", "extra": "x"})
    assert (registration.first_name, registration.verified_by) == ("Omar", "email")
    missing = (registration.last_name, registration.email, registration.phone, registration.country_code)
    assert missing == (None,) * 4


def test_the_address_is_that_of_the_chosen_channel():
    assert SARA.address == "+966551234567"
    assert OMAR.address == "omar@example.com"


def test_the_details_are_what_the_customer_typed_with_the_email_in_lower_case():
    assert Registration("email", email="Omar@Example.com", first_name="Omar").details() == {
        "first_name": "Omar",
        "last_name": None,
        "email": "omar@example.com",
        "phone": None,
        "country_code": None,
        "verified_by": "email",
    }
    assert SARA.details()["phone"] == "+966551234567"
