"""A registration as the verification store gives it back (app.registration.service)."""

from dataclasses import asdict

import pytest

from app.registration.service import RegistrationRequest

SARA = RegistrationRequest(
    first_name="Sara",
    last_name="Al-Qahtani",
    email="sara@example.com",
    phone="+966551234567",
    country_code="SA",
    verified_by="phone",
    locale="ar",
)
OMAR = RegistrationRequest(
    first_name="Omar",
    last_name=None,
    email="omar@example.com",
    phone=None,
    country_code=None,
    verified_by="email",
    locale="en",
)


@pytest.mark.parametrize("registration", [SARA, OMAR], ids=["every field", "some fields None"])
def test_a_request_comes_back_from_its_payload_without_the_none_values(registration):
    kept = {name: value for name, value in asdict(registration).items() if value is not None}
    assert RegistrationRequest.from_payload(kept) == registration


def test_fields_missing_from_the_payload_are_none_and_unknown_ones_are_ignored():
    request = RegistrationRequest.from_payload({"first_name": "Omar", "verified_by": "email", "extra": "x"})
    assert (request.first_name, request.verified_by) == ("Omar", "email")
    missing = (request.last_name, request.email, request.phone, request.country_code, request.locale)
    assert missing == (None,) * 5


def test_the_destination_is_the_address_of_the_chosen_channel():
    assert SARA.destination == "+966551234567"
    assert OMAR.destination == "omar@example.com"


def test_the_details_are_what_the_customer_typed_without_the_locale():
    assert SARA.details() == {
        "first_name": "Sara",
        "last_name": "Al-Qahtani",
        "email": "sara@example.com",
        "phone": "+966551234567",
        "country_code": "SA",
        "verified_by": "phone",
    }
    assert OMAR.details()["last_name"] is None
    assert "locale" not in OMAR.details()
