"""What registration accepts: a contact with the customer's names, and perhaps the code."""

from typing import NamedTuple

from marshmallow import fields, post_load

from app.contacts import ContactSchema, Name
from app.registration.service import Registration


class StartRequest(NamedTuple):
    registration: Registration
    code: str | None  # Salla-style: the code that finalises the newest pending registration


class RegistrationStartSchema(ContactSchema):
    """A registration payload; with `code`, it finalises the newest pending registration."""

    first_name = Name(required=True, metadata={"example": "Sara", "description": "Required."})
    last_name = Name(load_default=None, metadata={"example": None})
    code = fields.String(load_default=None, load_only=True)

    @post_load
    def to_contact(self, data, **kwargs) -> StartRequest:
        contact = vars(super().to_contact(data))
        registration = Registration(**contact, first_name=data["first_name"], last_name=data["last_name"])
        return StartRequest(registration, data["code"])
